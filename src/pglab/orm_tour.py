"""Showing an ORM's code next to the SQL it produces (lesson 03).

- `source(obj, start=..., stop=...)`: a chunk of a class's or function's source, shown highlighted.
- `sql_of(statement)`: a SQLAlchemy statement compiled for PostgreSQL, as text.
- `statements(log)`: the statements a block sent (from `lab.count_statements()`), numbered.
- `SideBySide`: a table of Sequelize -> SQLAlchemy -> SQL rows, as HTML and as plain text (lesson 03's map,
  `pglab.content.sequelize_map`, is one).

Every object has a plain-text form that is the same on every run, so nbval can compare it.
"""
from __future__ import annotations

import html
import inspect
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from .querycount import StatementLog


@dataclass
class Code:
    """Source text shown as a highlighted block (Markdown) in a notebook, plain text elsewhere."""

    text: str
    language: str = "python"
    caption: str = ""

    def __repr__(self) -> str:
        return (f"# {self.caption}\n" if self.caption else "") + self.text

    def _repr_markdown_(self) -> str:
        head = f"*{self.caption}*\n\n" if self.caption else ""
        return f"{head}```{self.language}\n{self.text}\n```"


def source(obj: Any, start: str | None = None, stop: str | None = None, *, caption: str = "") -> Code:
    """The source of obj from the first line containing `start` up to (not including) the first later
    line containing `stop`; blank lines at the ends are dropped and the block is dedented."""
    lines = inspect.getsource(obj).splitlines()
    first = 0
    if start is not None:
        first = next(i for i, line in enumerate(lines) if start in line)
    last = len(lines)
    if stop is not None:
        last = next(i for i in range(first + 1, len(lines)) if stop in lines[i])
    chunk = lines[first:last]
    while chunk and not chunk[-1].strip():
        chunk.pop()
    return Code(textwrap.dedent("\n".join(chunk)), caption=caption)


def sql_of(statement: ClauseElement | Any) -> str:
    """A statement (select, insert, CreateTable...) compiled as the lab sends it: PostgreSQL through psycopg 3,
    with bind placeholders (and the casts that dialect adds to them, such as %(role_1)s::VARCHAR)."""
    return line_rstrip(str(statement.compile(dialect=postgresql.psycopg.dialect())))


def one_line(sql: str) -> str:
    return " ".join(sql.split())


@dataclass
class Statements:
    """The statements of a StatementLog, numbered, each on its own lines."""

    texts: list[str]

    def __repr__(self) -> str:
        if not self.texts:
            return "(no SQL sent)"
        return "\n".join(f"[{i}] " + "\n    ".join(s.strip().splitlines()) for i, s in enumerate(self.texts, start=1))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def statements(log: StatementLog) -> Statements:
    return Statements([line_rstrip(s) for s in log.statements])


def line_rstrip(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


@dataclass
class SideBySide:
    """Rows of (Sequelize, SQLAlchemy, SQL): an HTML table in a notebook, text cards elsewhere."""

    headers: Sequence[str] = ("Sequelize", "SQLAlchemy 2", "SQL it produces")
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, sequelize: str, sqlalchemy: str, sql: str) -> SideBySide:
        self.rows.append((sequelize.strip(), sqlalchemy.strip(), sql.strip()))
        return self

    def __repr__(self) -> str:
        cards = []
        for row in self.rows:
            cards.append("\n".join(
                f"{head}:\n" + textwrap.indent(cell, "    ") for head, cell in zip(self.headers, row)
            ))
        return ("\n" + "-" * 60 + "\n").join(cards)

    def _repr_html_(self) -> str:
        cell = 'style="text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid #ddd"'
        head = "".join(f"<th {cell}>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(
                f'<td {cell}><pre style="margin:0;white-space:pre-wrap;font-size:11px">{html.escape(c)}</pre></td>'
                for c in row
            ) + "</tr>"
            for row in self.rows
        )
        return f'<table style="border-collapse:collapse;width:100%"><tr>{head}</tr>{body}</table>'


__all__ = ["Code", "SideBySide", "Statements", "one_line", "source", "sql_of", "statements"]
