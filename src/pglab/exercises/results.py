"""Result sets, compared as PostgreSQL compares values.

Values are compared within PostgreSQL's type categories (pg_type.typcategory), where the server has implicit
casts: numbers of any type by value (NaN equal to NaN, as PostgreSQL sorts it; a tolerance relative to their
size), text/varchar/char (char without its padding), date/timestamp/timestamptz as instants (a timestamp read in
the session's time zone, as its cast to timestamptz does), intervals as PostgreSQL's interval equality (a month
is 30 days), booleans only as booleans, uuid only as uuid. A column whose values belong to another category
(text that looks like a timestamp, 1/0 for booleans) is reported as a type difference. Where a task names a
type, the exercise lists the column and its type must match.

An ordered result is judged by the order the task asks for: rows must follow the reference's sort keys (derived
from its ORDER BY), and rows tied on those keys may come in any order.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from ..connection import driver
from .learner_sql import Statement

DEFAULT_TOLERANCE = 1e-9  # relative: 1.0000000001 equals 1, 2.5 does not equal 2.50001


# ------------------------------------------------------------------------------------------ loading values


@dataclass(frozen=True)
class Interval:
    """An interval as PostgreSQL compares it: months of 30 days, days of 24 hours (`'1 year' = '360 days'`)."""

    months: int
    days: int
    microseconds: int
    text: str

    @property
    def linear(self) -> int:
        return ((self.months * 30 + self.days) * 86_400) * 1_000_000 + self.microseconds

    def __str__(self) -> str:
        return self.text


_INTERVAL_PART = re.compile(r"([+-]?\d+)\s+(year|mon|day)s?")
_INTERVAL_TIME = re.compile(r"([+-])?(\d+):(\d\d):(\d\d(?:\.\d+)?)")


def parse_interval(text: str) -> Interval:
    """PostgreSQL's default interval output (IntervalStyle postgres): '1 year 2 mons 3 days 04:05:06.5'."""
    months = days = 0
    for number, unit in _INTERVAL_PART.findall(text):
        value = int(number)
        if unit == "year":
            months += 12 * value
        elif unit == "mon":
            months += value
        else:
            days += value
    micro = 0
    time = _INTERVAL_TIME.search(text)
    if time:
        sign = -1 if time.group(1) == "-" else 1
        seconds = int(time.group(2)) * 3600 + int(time.group(3)) * 60 + float(time.group(4))
        micro = sign * round(seconds * 1_000_000)
    return Interval(months, days, micro, text)


def _register_loaders(cursor: Any) -> None:
    from psycopg.adapt import Loader

    class IntervalLoader(Loader):
        def load(self, data: Any) -> Interval:
            return parse_interval(bytes(data).decode())

    cursor.adapters.register_loader("interval", IntervalLoader)


@dataclass
class Column:
    name: str
    type_name: str  # format_type without modifiers: 'timestamp with time zone', 'character varying'
    category: str  # pg_type.typcategory: N numbers, S strings, D date/time, T interval, B boolean, A array, ...
    element_category: str | None = None  # for arrays


@dataclass
class ResultSet:
    columns: list[Column]
    rows: list[tuple[Any, ...]]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


_TYPES = """
SELECT t.oid, format_type(t.oid, NULL), t.typcategory, e.typcategory
FROM pg_type AS t LEFT JOIN pg_type AS e ON e.oid = t.typelem AND t.typcategory = 'A'
WHERE t.oid = ANY(%s)
"""


def fetch(conn: Connection, statements: Sequence[Statement]) -> ResultSet:
    """Run the statements; the rows of the last one that returns rows (so `SET LOCAL ...; SELECT ...` works)."""
    raw = driver(conn)
    found: tuple[list[Any], list[tuple[Any, ...]]] | None = None
    with raw.cursor() as cursor:
        _register_loaders(cursor)
        cursor.execute(";\n".join(s.text for s in statements))  # type: ignore[call-overload]
        while True:
            if cursor.description is not None:
                found = (list(cursor.description), [tuple(row) for row in cursor.fetchall()])
            if not cursor.nextset():
                break
    if found is None:
        raise ValueError("your SQL did not return rows: write a SELECT query")
    description, rows = found
    oids = [d.type_code for d in description]
    types = {oid: (name, category, element) for oid, name, category, element in raw.execute(_TYPES, [oids]).fetchall()}
    columns = [Column(d.name, *types.get(d.type_code, (str(d.type_code), "X", None))) for d in description]
    return ResultSet(columns, rows)


# ------------------------------------------------------------------------------------------ canonical values

_SIGNIFICANT = 9  # digits kept when numbers are grouped; values that round apart are matched with the tolerance


def _instant(value: Any, zone: dt.tzinfo) -> Any:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=zone)
    return value


def canonical(value: Any, column: Column, zone: dt.tzinfo) -> Any:
    """A hashable stand-in that is equal for values PostgreSQL finds equal (numbers: see `_close`)."""
    return _canonical(value, column.category, column.type_name, column.element_category, zone)


def _canonical(value: Any, category: str, type_name: str, element: str | None, zone: dt.tzinfo) -> Any:
    if value is None:
        return None
    if category == "N":
        number = float(value)
        if math.isnan(number):
            return ("n", "nan")
        if math.isinf(number) or number == 0:
            return ("n", number)
        return ("n", float(f"{number:.{_SIGNIFICANT}g}"))
    if category == "S":
        return ("s", value.rstrip(" ") if type_name == "character" else value)
    if category == "D":
        if type_name in _INSTANTS:
            return ("instant", _instant(value, zone).astimezone(dt.timezone.utc))
        return (type_name, value)  # time, timetz: only with their own kind
    if category == "T" and isinstance(value, Interval):
        return ("interval", value.linear)
    if category == "B":
        return ("b", bool(value))
    if category == "A" and isinstance(value, (list, tuple)):
        inner = type_name.removesuffix("[]")
        return ("a", tuple(_canonical(v, element or "X", inner, None, zone) for v in value))
    if isinstance(value, (dict, list)):
        return ("json", json.dumps(value, sort_keys=True))
    if isinstance(value, memoryview):
        return ("bytes", bytes(value))
    return (category, value)


_INSTANTS = {"date", "timestamp without time zone", "timestamp with time zone"}


# Categories with implicit casts between their types; any other pair of different types does not compare.
_COMPARABLE = {"N", "S", "T", "B", "A"}


def comparable(a: Column, b: Column) -> bool:
    if a.type_name == b.type_name:
        return True
    if a.category != b.category:
        return False
    if a.category == "D":
        return a.type_name in _INSTANTS and b.type_name in _INSTANTS
    return a.category in _COMPARABLE


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if a == b:
        return True
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        if len(a) == 2 and a[0] == b[0] == "n" and isinstance(a[1], float) and isinstance(b[1], float):
            return math.isclose(a[1], b[1], rel_tol=tolerance, abs_tol=1e-12)
        return all(_close(x, y, tolerance) for x, y in zip(a, b))
    return False


# ------------------------------------------------------------------------------------------ showing values


def show(value: Any) -> str:
    """A value as the learner would write it in SQL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, decimal.Decimal)):
        return str(value)
    if isinstance(value, dt.datetime):
        return "'" + value.isoformat(sep=" ") + "'"
    if isinstance(value, (dt.date, dt.time, uuid.UUID, Interval)):
        return f"'{value}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def show_row(row: Sequence[Any], names: Sequence[str]) -> str:
    return "(" + ", ".join(f"{n}={show(v)}" for n, v in zip(names, row)) + ")"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------------------------------ comparing


@dataclass(frozen=True)
class SortKey:
    column: int  # position in the reference's columns
    descending: bool = False


@dataclass
class Comparison:
    """How to compare a learner's result with the reference."""

    ordered: bool = False
    sort_keys: list[SortKey] | None = None  # None with ordered=True: the whole rows, in the reference's order
    check_names: bool = False
    typed: Sequence[str] = ()  # reference columns whose type the task names
    tolerance: float = DEFAULT_TOLERANCE
    time_zone: dt.tzinfo = field(default=dt.timezone.utc)


def _line_up(got: ResultSet, expected: ResultSet, how: Comparison) -> tuple[list[int] | None, str | None]:
    """For each reference column, the learner's column that holds it (by name when names tell, else by place)."""
    exp, mine = [n.lower() for n in expected.names], [n.lower() for n in got.names]
    if len(mine) != len(exp):
        return None, (f"your result has {_plural(len(mine), 'column')} ({', '.join(got.names)}), expected "
                      f"{len(exp)} ({', '.join(expected.names)}).")
    unique = len(set(exp)) == len(exp) and len(set(mine)) == len(mine)
    if unique and sorted(mine) == sorted(exp):
        return [mine.index(n) for n in exp], None
    if how.check_names and mine != exp:
        missing = [c for c in expected.names if c.lower() not in mine]
        return None, f"expected columns named ({', '.join(expected.names)}); missing {', '.join(missing)}."
    return list(range(len(exp))), None


def _type_problem(got: ResultSet, expected: ResultSet, order: list[int], how: Comparison) -> str | None:
    for position, (theirs, mine_at) in enumerate(zip(expected.columns, order), start=1):
        mine = got.columns[mine_at]
        named = theirs.name in how.typed
        if comparable(mine, theirs) and not (named and mine.type_name != theirs.type_name):
            continue
        label = f"column {position} ({mine.name})"
        if named:
            return f"{label} is of type {mine.type_name}; the task asks for a {theirs.type_name}."
        return (f"{label} holds {mine.type_name} values where {theirs.type_name} values are expected; PostgreSQL "
                "does not compare the two without a cast (text that looks like a date is still text).")
    return None


def compare(got: ResultSet, expected: ResultSet, how: Comparison) -> tuple[str | None, str | None]:
    """(problem, note): problem is None if the result sets match; note is for a difference of type alone."""
    order, problem = _line_up(got, expected, how)
    if problem or order is None:
        return problem, None
    problem = _type_problem(got, expected, order, how)
    if problem:
        return problem, None
    zone = how.time_zone

    def keys(rows: list[tuple[Any, ...]], columns: list[Column], positions: list[int]) -> list[tuple[Any, ...]]:
        return [tuple(canonical(row[p], c, zone) for p, c in zip(positions, columns)) for row in rows]

    exp_keys = keys(expected.rows, expected.columns, list(range(len(expected.columns))))
    got_keys = keys(got.rows, [got.columns[i] for i in order], order)
    got_rows = [tuple(row[i] for i in order) for row in got.rows]
    names = expected.names
    missing, extra = _unmatched(got_keys, exp_keys, how.tolerance)
    if missing or extra or len(got_keys) != len(exp_keys):
        parts = []
        if len(got_keys) != len(exp_keys):
            parts.append(f"your result has {_plural(len(got_keys), 'row')}, expected {len(exp_keys):,}")
        if missing:
            parts.append(f"first missing row: {show_row(expected.rows[missing[0]], names)}")
        if extra:
            parts.append(f"first unexpected row: {show_row(got_rows[extra[0]], names)}")
        return "; ".join(parts) + ".", None
    if how.ordered:
        problem = _order_problem(got_keys, exp_keys, got_rows, expected.rows, names, how)
        if problem:
            return problem, None
    return None, None


def _unmatched(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]], tolerance: float) -> tuple[list[int], list[int]]:
    """Positions of expected rows nobody matched, and of the learner's rows that matched nothing."""
    pool: dict[tuple[Any, ...], list[int]] = {}
    for i, key in enumerate(got):
        pool.setdefault(key, []).append(i)
    missing = []
    for i, key in enumerate(expected):
        if pool.get(key):
            pool[key].pop()
        else:
            missing.append(i)
    extra = sorted(i for positions in pool.values() for i in positions)
    if missing and extra:  # numbers that rounded apart: match what is equal within the tolerance
        still_missing = []
        for i in missing:
            match = next((j for j in extra if _close(got[j], expected[i], tolerance)), None)
            if match is None:
                still_missing.append(i)
            else:
                extra.remove(match)
        missing = still_missing
    return missing, extra


def _order_problem(got_keys: list[tuple[Any, ...]], exp_keys: list[tuple[Any, ...]], got_rows: list[tuple[Any, ...]],
                   exp_rows: list[tuple[Any, ...]], names: list[str], how: Comparison) -> str | None:
    positions = [k.column for k in how.sort_keys] if how.sort_keys else list(range(len(names)))
    for row, (mine, theirs) in enumerate(zip(got_keys, exp_keys), start=1):
        mine_key = tuple(mine[p] for p in positions)
        their_key = tuple(theirs[p] for p in positions)
        if not _close(mine_key, their_key, how.tolerance):
            by = ", ".join(names[k.column] + (" DESC" if k.descending else "") for k in how.sort_keys or [])
            order = f" (ORDER BY {by})" if by else ""
            return (f"the rows are right but not in the order asked for{order}: row {row} should be "
                    f"{show_row(exp_rows[row - 1], names)}, yours is {show_row(got_rows[row - 1], names)}.")
    return None


# ------------------------------------------------------------------------------------------ the reference's order


def sort_keys_of(statement: Statement, columns: Sequence[str]) -> list[SortKey] | None:
    """The reference query's ORDER BY as positions in its result (None if an expression is not an output column:
    then the whole row order is compared)."""
    node = statement.node
    if node is None or type(node).__name__ != "SelectStmt" or not node.sortClause:
        return None
    from pglast import ast, enums
    from pglast.stream import RawStream

    targets = _targets(node)
    starred = any(isinstance(t.val, ast.ColumnRef) and any(isinstance(f, ast.A_Star) for f in t.val.fields or ())
                  for t in targets)
    outputs = [] if starred else [  # (alias, expression text) of each output column, when they line up
        (target.name or "", RawStream()(target.val) if target.val is not None else "") for target in targets]
    lowered = [c.lower() for c in columns]
    keys = []
    for sort in node.sortClause:
        position = None
        expr = sort.node
        if isinstance(expr, ast.A_Const) and isinstance(expr.val, ast.Integer):
            position = int(expr.val.ival or 0) - 1
        else:
            text = RawStream()(expr)
            position = next((i for i, (name, expression) in enumerate(outputs) if text in (name, expression)), None)
            if position is None and isinstance(expr, ast.ColumnRef) and expr.fields:
                name = str(getattr(expr.fields[-1], "sval", "")).lower()
                if lowered.count(name) == 1:
                    position = lowered.index(name)
        if position is None or not 0 <= position < len(columns):
            return None
        keys.append(SortKey(position, sort.sortby_dir == enums.SortByDir.SORTBY_DESC))
    return keys


def _targets(select: Any) -> list[Any]:
    while select.targetList is None and select.larg is not None:  # UNION ...: the left branch names the columns
        select = select.larg
    return list(select.targetList or [])


def has_top_level_order(statement: Statement) -> bool | None:
    """Whether the query's outermost level sorts (None if it could not be parsed)."""
    node = statement.node
    if node is None:
        return None
    if type(node).__name__ != "SelectStmt":
        return True  # not a plain query (EXPLAIN, a function call): nothing to say
    return bool(node.sortClause)


__all__ = ["Column", "Comparison", "DEFAULT_TOLERANCE", "Interval", "ResultSet", "SortKey", "canonical", "compare",
           "fetch", "has_top_level_order", "parse_interval", "show", "show_row", "sort_keys_of"]
