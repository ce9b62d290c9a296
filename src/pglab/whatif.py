"""What if...? Try a schema change without keeping it, and see everything a statement costs.

PostgreSQL's DDL is transactional: `DROP INDEX` inside a transaction that is rolled back never
happened. `what_if` opens such a transaction on one connection, applies a change (drop an index,
add a constraint), and lets a lesson measure statements there; each measured statement runs in a
savepoint that is rolled back, so a DELETE can be measured again and again on the same rows.

Besides the plan, `cost()` reports what a plan alone hides: the time spent in the triggers that
enforce foreign keys ("Trigger for constraint ..." in EXPLAIN ANALYZE), and how each table was
read (sequential scans, rows they read, index scans) from pg_stat_xact_user_tables, counted
inside the transaction so the numbers are exact and unaffected by anyone else's work.

    with what_if(lab.engine, "DROP INDEX idx_posts_user_id") as w:
        cost = w.cost("DELETE FROM users WHERE id = ANY(:ids)", {"ids": ids}, tables=["posts"])
        cost.scans          # DataFrame: table, seq_scans, seq_rows_read, index_scans
        cost.triggers       # DataFrame: foreign_key, fired_on, calls, ms
        w.measure(sql, params)   # a timing.Sample
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .connection import run_script
from .explain import Plan, explain
from . import timing
from .timing import Sample, Timings

_SCAN_COLUMNS = ["table", "seq_scans", "seq_rows_read", "index_scans"]


@dataclass
class Cost:
    """What one statement cost: its plan, its foreign-key triggers, and how it read each table."""

    plan: Plan
    triggers: pd.DataFrame
    scans: pd.DataFrame

    def scans_of(self, table: str) -> dict[str, int]:
        row = self.scans[self.scans["table"] == table]
        if row.empty:
            return {"seq_scans": 0, "seq_rows_read": 0, "index_scans": 0}
        return {c: int(row.iloc[0][c]) for c in _SCAN_COLUMNS[1:]}

    def trigger_ms(self, foreign_key: str | None = None) -> float:
        rows = self.triggers if foreign_key is None else self.triggers[self.triggers["foreign_key"] == foreign_key]
        return float(rows["ms"].sum())

    @property
    def total_ms(self) -> float:
        """Execution time, triggers included (EXPLAIN ANALYZE's Execution Time)."""
        return self.plan.execution_ms


class WhatIf:
    """A transaction on one connection, rolled back at the end; each statement in its own savepoint."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def run(self, script: str) -> None:
        """Run statements and keep them until the end of the what-if (e.g. DROP INDEX, CREATE INDEX)."""
        run_script(self.conn, script)

    def value(self, query: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.conn.execute(sa.text(query), dict(params or {})).scalar_one()

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        result = self.conn.execute(sa.text(query), dict(params or {}))
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def _scan_counts(self, tables: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        rows = self.conn.execute(
            sa.text(
                "SELECT relname, coalesce(seq_scan, 0), coalesce(seq_tup_read, 0), coalesce(idx_scan, 0) "
                "FROM pg_stat_xact_user_tables WHERE relname = ANY(:tables)"
            ),
            {"tables": list(tables)},
        )
        return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}

    def cost(self, sql: str, params: Mapping[str, Any] | None = None, *, tables: Sequence[str] = ()) -> Cost:
        """EXPLAIN (ANALYZE, BUFFERS) the statement in a savepoint that is rolled back; count its scans."""
        before = self._scan_counts(tables)
        savepoint = self.conn.begin_nested()
        try:
            plan = explain(self.conn, sql, dict(params or {}), analyze=True)
        finally:
            savepoint.rollback()
        after = self._scan_counts(tables)
        # Sorted: PostgreSQL fires them in the order of their internal names, which hold oids, so the order changes
        # with every build of the dataset.
        triggers = pd.DataFrame(
            sorted(((t.name, t.relation, t.calls, t.ms) for t in plan.triggers), key=lambda t: (t[1], t[0])),
            columns=["foreign_key", "fired_on", "calls", "ms"],
        )
        scans = pd.DataFrame(
            [
                (table, *(a - b for a, b in zip(after.get(table, (0, 0, 0)), before.get(table, (0, 0, 0)))))
                for table in tables
            ],
            columns=_SCAN_COLUMNS,
        )
        return Cost(plan, triggers, scans)

    def explain(self, sql: str, params: Mapping[str, Any] | None = None) -> Plan:
        return self.cost(sql, params).plan

    def _run_rolled_back(self, sql: str, params: Mapping[str, Any] | None) -> None:
        savepoint = self.conn.begin_nested()
        try:
            result = self.conn.execute(sa.text(sql), dict(params or {}))
            if result.returns_rows:
                result.fetchall()
        finally:
            savepoint.rollback()

    def measure(self, sql: str, params: Mapping[str, Any] | None = None, *, repeat: int = 3, warmup: int = 1) -> Sample:
        """Time a statement `repeat` times (each run rolled back to a savepoint)."""
        return timing.measure(lambda: self._run_rolled_back(sql, params), repeat=repeat, warmup=warmup)

    def compare(self, variants: Mapping[str, str], params: Mapping[str, Any] | None = None, *,
                repeat: int = 3, warmup: int = 1) -> Timings:
        """Like lab.compare, inside the what-if: runs interleaved, each rolled back."""
        actions = {name: partial(self._run_rolled_back, sql, params) for name, sql in variants.items()}
        return timing.compare(self.conn.engine, actions, repeat=repeat, warmup=warmup)


@contextmanager
def what_if(engine: Engine, change: str = "") -> Iterator[WhatIf]:
    """Apply `change` (may be empty: the database as it is) in a transaction that is always rolled back.

    The change holds its locks until the end of the block: measure inside the block, through the
    WhatIf object, not through other connections (they would wait for the lock).
    """
    with engine.connect() as conn:
        conn.begin()
        try:
            trial = WhatIf(conn)
            if change.strip():
                trial.run(change)
            yield trial
        finally:
            conn.rollback()


__all__ = ["Cost", "WhatIf", "what_if"]
