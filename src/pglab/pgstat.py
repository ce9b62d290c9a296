"""The server's view of the statements a lesson sent: pg_stat_statements, for this database only.

    if statements_tracked(lab.engine):          # loaded by the server? (created here if needed)
        before = statement_calls(lab.engine)
        ...                                       # ORM code
        calls_since(lab.engine, before)           # calls, rows, server time per statement since then

pg_stat_statements is server-wide and other databases' statistics are not ours to reset, so this
works with snapshots: nothing is ever reset. (The rows a block of code received, client side, are
in `lab.count_statements()`: log.rows.)
"""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine


def statements_tracked(engine: Engine) -> bool:
    """True when the server tracks statements: pg_stat_statements is in shared_preload_libraries and
    the extension exists in this database (created here if needed and allowed). A server without it,
    or a role that may not create it, gives False instead of an error."""
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.exec_driver_sql("SELECT 1 FROM pg_stat_statements LIMIT 1").all()  # fails unless preloaded
    except sa.exc.DBAPIError:
        return False
    return True


_CALLS = """
SELECT s.queryid, max(s.query) AS query, sum(s.calls)::bigint AS calls, sum(s.rows)::bigint AS rows,
       sum(s.total_exec_time)::float AS exec_ms
FROM pg_stat_statements AS s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
GROUP BY s.queryid
"""


def statement_calls(engine: Engine) -> pd.DataFrame:
    """pg_stat_statements for this database only: queryid, query, calls, rows, exec_ms (summed over users)."""
    with engine.begin() as conn:
        result = conn.exec_driver_sql(_CALLS)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def calls_since(engine: Engine, before: pd.DataFrame, *, matching: str | None = None) -> pd.DataFrame:
    """Calls, rows and server execution time (exec_ms) per statement since the `before` snapshot (no reset needed: pg_stat_statements
    is server-wide, and other databases' statistics are not ours to clear). Most calls first.

    matching: a regular expression the query text must contain (e.g. r"FROM posts")."""
    after = statement_calls(engine)
    merged = after.merge(before[["queryid", "calls", "rows", "exec_ms"]], on="queryid", how="left", suffixes=("", "_before"))
    merged = merged.fillna({"calls_before": 0, "rows_before": 0, "exec_ms_before": 0.0})
    merged["calls"] = (merged["calls"] - merged["calls_before"]).astype(int)
    merged["rows"] = (merged["rows"] - merged["rows_before"]).astype(int)
    merged["exec_ms"] = merged["exec_ms"] - merged["exec_ms_before"]
    merged = merged[merged["calls"] > 0]
    if matching is not None:
        merged = merged[merged["query"].str.contains(matching, case=False, regex=True)]
    merged = merged.sort_values(["calls", "query"], ascending=[False, True])
    return merged[["calls", "rows", "exec_ms", "query"]].reset_index(drop=True)


__all__ = ["calls_since", "statement_calls", "statements_tracked"]
