"""The server's view of the statements a lesson sent: pg_stat_statements, for this database only.

    if statements_tracked(lab.engine):          # or why_untracked(lab.engine): the reason it is not
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

from .errors import short_message


def why_untracked(engine: Engine) -> str | None:
    """None when the server tracks this database's statements (pg_stat_statements preloaded, and the
    extension created here if it was missing); otherwise the reason, in one sentence, with the fix."""
    try:
        with engine.begin() as conn:
            preloaded = str(conn.exec_driver_sql("SHOW shared_preload_libraries").scalar() or "")
            if "pg_stat_statements" not in preloaded:
                return ("the server does not load pg_stat_statements (its owner can add it to "
                        "shared_preload_libraries and restart it).")
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.exec_driver_sql("SELECT 1 FROM pg_stat_statements LIMIT 1").all()
    except sa.exc.DBAPIError as error:
        message = str(error.orig)
        if "shared_preload_libraries" in message:
            return ("the server does not load pg_stat_statements "
                    "(its owner can add it to shared_preload_libraries and restart it).")
        if "permission denied" in message or "must be" in message:
            return ("the pg_stat_statements extension is not installed in this database and you may not "
                    "install it (the server's owner can run CREATE EXTENSION pg_stat_statements in template1).")
        return f"pg_stat_statements is not usable here: {short_message(error)}"
    return None


def statements_tracked(engine: Engine) -> bool:
    return why_untracked(engine) is None


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


__all__ = ["calls_since", "statement_calls", "statements_tracked", "why_untracked"]


def table_activity(engine: Engine, table: str, *, updates_at_least: int = 0, timeout_s: float = 5.0) -> dict[str, object]:
    """The table's cumulative counters (pg_stat_user_tables: updates, HOT updates, dead rows), its size in bytes and
    the server's current WAL position. Sessions report their counts when they go idle, at most once a second (a
    session can hurry it with pg_stat_force_next_flush(), PostgreSQL 15+): `updates_at_least` waits, up to
    `timeout_s`, until the counters include that many updates."""
    import time

    deadline = time.perf_counter() + timeout_s
    while True:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            row = dict(conn.execute(sa.text(
                "SELECT pg_current_wal_lsn()::text AS lsn, pg_relation_size(relid) AS bytes, n_tup_upd, "
                "n_tup_hot_upd, n_dead_tup FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}).mappings().one())
        if row["n_tup_upd"] >= updates_at_least or time.perf_counter() > deadline:
            return row
        time.sleep(0.02)
