"""What loading related rows really costs: rows per statement (client side) and calls per statement
(server side, pg_stat_statements).

    with rows_per_statement(lab.engine) as log:
        ...                                   # ORM code
    log.rows, log.table()                     # rows each statement returned, its bound parameters

    before = statement_calls(lab.engine)      # pg_stat_statements, this database only
    ...
    calls_since(lab.engine, before)           # calls per statement since then

Lesson 04 uses both to show the N+1 problem, joinedload's row explosion and selectinload's batches.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class Executed:
    """One statement sent: its SQL, how many bound parameters, how many rows came back."""

    statement: str
    parameters: int
    rows: int

    @property
    def table(self) -> str:
        """The first table after FROM (enough to tell the statements of an ORM load apart)."""
        words = self.statement.replace("\n", " ").split()
        lowered = [w.lower() for w in words]
        if "from" in lowered:
            after = words[lowered.index("from") + 1]
            return after.strip("()") if after != "(SELECT" else "(subquery)"
        return "?"


@dataclass
class RowLog:
    executed: list[Executed] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.executed)

    @property
    def rows(self) -> int:
        """Rows transferred from the server, all statements together."""
        return sum(e.rows for e in self.executed)

    def table(self, width: int = 70) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "statement": (" ".join(e.statement.split())[: width - 3] + "...")
                    if len(" ".join(e.statement.split())) > width else " ".join(e.statement.split()),
                    "parameters": e.parameters,
                    "rows": e.rows,
                }
                for e in self.executed
            ],
            index=pd.RangeIndex(1, self.count + 1, name="#"),
        )

    def __repr__(self) -> str:
        return f"{self.count} statement{'s' if self.count != 1 else ''}, {self.rows:,} rows"


def _parameter_count(parameters: Any) -> int:
    if isinstance(parameters, Mapping):
        return len(parameters)
    if isinstance(parameters, (list, tuple)):
        return len(parameters)
    return 0


@contextmanager
def rows_per_statement(engine: Engine) -> Iterator[RowLog]:
    """Record every statement sent through the engine with the number of rows it returned.

    psycopg reports a SELECT's row count as soon as the statement has run (its cursor holds the
    whole result), so this counts exactly the rows the server transferred.
    """
    log = RowLog()

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        rows = cursor.rowcount if cursor.description is not None and cursor.rowcount >= 0 else 0
        log.executed.append(Executed(statement, _parameter_count(parameters), rows))

    sa.event.listen(engine, "after_cursor_execute", record)
    try:
        yield log
    finally:
        sa.event.remove(engine, "after_cursor_execute", record)


# ---------------------------------------------------------------- pg_stat_statements


def statements_tracked(engine: Engine) -> bool:
    """True when pg_stat_statements is loaded by the server (shared_preload_libraries) and the
    extension exists in this database (it is created here if needed)."""
    with engine.begin() as conn:
        loaded = conn.exec_driver_sql("SHOW shared_preload_libraries").scalar_one()
        if "pg_stat_statements" not in str(loaded):
            return False
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
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


__all__ = ["Executed", "RowLog", "calls_since", "rows_per_statement", "statement_calls", "statements_tracked"]
