"""Count the SQL statements a block of code sends through a SQLAlchemy engine.

The N+1 problem is invisible in Python code and obvious in a statement count.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

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
    """with count_statements(engine) as log: ...  then log.count, log.statements, log.summary()."""
    log = StatementLog()

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        log.statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
