"""Count the SQL statements a block of code sends through a SQLAlchemy engine, and the rows each
one brought back.

The N+1 problem is invisible in Python code and obvious in a statement count; joinedload's row
explosion is obvious in the rows.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine


class _SqlTable(pd.DataFrame):
    """A DataFrame whose text columns read as code: left-aligned, in a fixed-width font, one line each (a narrow
    notebook would otherwise break SQL mid-word and right-align it)."""

    @property
    def _constructor(self) -> type:
        return _SqlTable

    def _repr_html_(self) -> str:
        text: list[Any] = [c for c in self.columns if self[c].dtype == object]
        styled = self.style.set_uuid("pglab-sql").set_properties(
            subset=text, **{"text-align": "left", "font-family": "monospace", "white-space": "pre"})
        return styled.to_html()


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)
    parameters: list[int] = field(default_factory=list)  # bound parameters of each statement
    rows: list[int] = field(default_factory=list)  # rows each statement returned (0 if none)

    @property
    def count(self) -> int:
        return len(self.statements)

    @property
    def total_rows(self) -> int:
        """Rows transferred from the server, all statements together."""
        return sum(self.rows)

    def table(self, width: int = 70) -> pd.DataFrame:
        """One line per statement: its text (cut to `width`), bound parameters, rows returned."""
        lines = [" ".join(s.split()) for s in self.statements]
        return _SqlTable(
            {
                "statement": [line if len(line) <= width else line[: width - 3] + "..." for line in lines],
                "parameters": self.parameters,
                "rows": self.rows,
            },
            index=pd.RangeIndex(1, self.count + 1, name="#"),
        )

    def __len__(self) -> int:
        return self.count

    def shapes(self) -> Counter[str]:
        """Statements with their literal values blanked: N+1 shows as one shape repeated N times."""
        return Counter(_shape(s) for s in self.statements)

    def summary(self, width: int = 110) -> str:
        lines = [f"{self.count} statement{'s' if self.count != 1 else ''}"]
        for shape, times in self.shapes().most_common():
            one_line = " ".join(shape.split())
            if len(one_line) > width:
                one_line = one_line[: width - 3] + "..."
            lines.append(f"  {times:>5} x  {one_line}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())


def _shape(sql: str) -> str:
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r"%\(\w+\)s|\$\d+|:\w+", "?", sql)
    sql = re.sub(r"\(\s*\?(\s*,\s*\?)*\s*\)", "(...)", sql)
    sql = re.sub(r"__\[POSTCOMPILE_\w+\]", "(...)", sql)
    return sql


@contextmanager
def count_statements(engine: Engine) -> Iterator[StatementLog]:
    """with count_statements(engine) as log: ...  then log.count, log.statements, log.summary(), log.table().

    psycopg reports a SELECT's row count as soon as the statement has run (the client holds the
    whole result), so log.rows counts exactly the rows the server sent.
    """
    log = StatementLog()

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        log.statements.append(statement)
        log.parameters.append(len(parameters) if isinstance(parameters, (Mapping, list, tuple)) else 0)
        log.rows.append(0)  # until the statement has run (a failed one keeps 0)

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if cursor.description is not None and cursor.rowcount >= 0:
            log.rows[-1] = cursor.rowcount

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield log
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
