"""Result sets, compared as PostgreSQL compares values.

Values are compared within PostgreSQL's type categories (pg_type.typcategory), where the server has implicit
casts: integers and numerics exactly, floats within a relative tolerance (NaN equal to NaN, as PostgreSQL sorts it);
text/varchar/char (char without its padding); date/timestamp/timestamptz as instants (a timestamp read in the time
zone of the session that produced it, as its cast to timestamptz does); intervals by PostgreSQL's interval
equality (a month is 30 days), in any IntervalStyle; booleans only as booleans, uuid only as uuid. A column whose
values belong to another category (text that looks like a timestamp, 1/0 for booleans) is a type difference. Where
a task names a type, the exercise lists the column and its type must match.

An ordered result is judged by the order the task asks for: rows must follow the reference's ORDER BY keys
(read from its output columns, or, for keys it does not output, from the reference run again with those keys
added), rows tied on those keys may come in any order, and the learner's own ORDER BY must not leave to chance an
order the task fixes.
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
from .learner_sql import Statement, bind_named, named_parameters

FLOAT_TOLERANCE = 1e-9  # relative, for floats: 1.0000000001 equals 1; integers and numerics compare exactly


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


_POSTGRES_PART = re.compile(r"([+-]?\d+)\s+(year|mon|day|hour|min|sec)s?", re.I)
_CLOCK = re.compile(r"([+-])?(\d+):(\d\d)(?::(\d\d(?:\.\d+)?))?")
_ISO = re.compile(r"^(-)?P(?:([+-]?[\d.]+)Y)?(?:([+-]?[\d.]+)M)?(?:([+-]?[\d.]+)W)?(?:([+-]?[\d.]+)D)?"
                  r"(?:T(?:([+-]?[\d.]+)H)?(?:([+-]?[\d.]+)M)?(?:([+-]?[\d.]+)S)?)?$")
_SQL_STANDARD = re.compile(r"^([+-])?(?:(\d+)-(\d+))?\s*(?:([+-]?\d+)(?=\s))?\s*(?:([+-]?\d+:\d\d(?::\d\d(?:\.\d+)?)?))?$")


def _clock_microseconds(text: str) -> int:
    match = _CLOCK.search(text)
    if not match:
        return 0
    sign = -1 if match.group(1) == "-" else 1
    seconds = int(match.group(2)) * 3600 + int(match.group(3)) * 60 + float(match.group(4) or 0)
    return sign * round(seconds * 1_000_000)


def parse_interval(text: str) -> Interval:
    """An interval in any of PostgreSQL's output styles (IntervalStyle postgres, postgres_verbose, sql_standard,
    iso_8601), as months, days and microseconds."""
    stripped = text.strip()
    iso = _ISO.match(stripped)
    if iso:
        sign = -1 if iso.group(1) else 1
        years, months, weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in iso.groups()[1:])
        micro = round((hours * 3600 + minutes * 60 + seconds) * 1_000_000)
        return Interval(sign * int(years * 12 + months), sign * int(weeks * 7 + days), sign * micro, text)
    if stripped.startswith("@"):  # postgres_verbose: '@ 1 year 2 mons 3 days 4 hours 5 mins 6 secs ago'
        months = days = micro = 0
        for number, unit in _POSTGRES_PART.findall(stripped):
            value, unit = int(number), unit.lower()
            months += 12 * value if unit == "year" else value if unit == "mon" else 0
            days += value if unit == "day" else 0
            micro += value * {"hour": 3_600_000_000, "min": 60_000_000, "sec": 1_000_000}.get(unit, 0)
        fraction = re.search(r"(\d+\.\d+)\s+secs?", stripped)
        if fraction:
            micro += round((float(fraction.group(1)) - int(float(fraction.group(1)))) * 1_000_000)
        if stripped.endswith("ago"):
            months, days, micro = -months, -days, -micro
        return Interval(months, days, micro, text)
    standard = _SQL_STANDARD.match(stripped)
    if standard and not re.search(r"[a-z]", stripped, re.I):  # sql_standard: '1-2 3 4:05:06', '32 0:00:00'
        sign = -1 if standard.group(1) == "-" else 1
        months = sign * (int(standard.group(2) or 0) * 12 + int(standard.group(3) or 0))
        days = int(standard.group(4) or 0)
        micro = _clock_microseconds(standard.group(5) or "")
        return Interval(months, days, micro, text)
    months = days = 0  # postgres: '1 year 2 mons 3 days 04:05:06.5'
    for number, unit in _POSTGRES_PART.findall(stripped):
        value, unit = int(number), unit.lower()
        months += 12 * value if unit == "year" else value if unit == "mon" else 0
        days += value if unit == "day" else 0
    return Interval(months, days, _clock_microseconds(stripped), text)


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
    time_zone: dt.tzinfo = dt.timezone.utc  # the TimeZone of the session when its rows were read
    order_keys: list[tuple[Any, ...]] | None = None  # a reference's ORDER BY values per row, when not all are output

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


_TYPES = """
SELECT t.oid, format_type(t.oid, NULL), t.typcategory, e.typcategory
FROM pg_type AS t LEFT JOIN pg_type AS e ON e.oid = t.typelem AND t.typcategory = 'A'
WHERE t.oid = ANY(%s)
"""


def fetch(conn: Connection, statements: Sequence[Statement], *, key_columns: int = 0,
          params: dict[str, Any] | None = None) -> ResultSet:
    """Run the statements; the rows of the last one that returns rows (so `SET LOCAL ...; SELECT ...` works).

    params: values for the statements' `:name` parameters (each statement is then sent on its own).
    key_columns: that many trailing columns are a reference's ORDER BY values, not part of its result."""
    raw = driver(conn)
    found: tuple[list[Any], list[tuple[Any, ...]]] | None = None
    with raw.cursor() as cursor:
        _register_loaders(cursor)
        if params is None:
            cursor.execute(";\n".join(s.text for s in statements))  # type: ignore[call-overload]
            batches = True
        else:
            batches = False
        while batches:
            if cursor.description is not None:
                found = (list(cursor.description), [tuple(row) for row in cursor.fetchall()])
            if not cursor.nextset():
                break
        for statement in statements if params is not None else ():
            wanted = named_parameters(statement.text)
            unknown = sorted(wanted - set(params or {}))
            if unknown:
                raise ValueError(f"your query uses :{unknown[0]}, but the task gives "
                                 f"{', '.join(':' + p for p in sorted(params or {})) or 'no parameters'}")
            cursor.execute(bind_named(statement.text), {k: v for k, v in (params or {}).items() if k in wanted})
            if cursor.description is not None:
                found = (list(cursor.description), [tuple(row) for row in cursor.fetchall()])
    if found is None:
        raise ValueError("your SQL did not return rows: write a SELECT query")
    description, rows = found
    zone = raw.info.timezone  # follows a SET LOCAL TimeZone in the script, as the server's casts do
    oids = [d.type_code for d in description]
    types = {oid: (name, category, element) for oid, name, category, element in raw.execute(_TYPES, [oids]).fetchall()}
    columns = [Column(d.name, *types.get(d.type_code, (str(d.type_code), "X", None))) for d in description]
    if key_columns:
        width = len(columns) - key_columns
        return ResultSet(columns[:width], [r[:width] for r in rows], zone, [r[width:] for r in rows])
    return ResultSet(columns, rows, zone)


# ------------------------------------------------------------------------------------------ canonical values

_SIGNIFICANT = 9  # digits a float keeps when rows are grouped; floats that round apart are matched within the tolerance
_INSTANTS = {"date", "timestamp without time zone", "timestamp with time zone"}


def _instant(value: Any, zone: dt.tzinfo) -> Any:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=zone)
    return value


def canonical(value: Any, column: Column, zone: dt.tzinfo, approximate: bool = False) -> Any:
    """A hashable stand-in that is equal for values PostgreSQL finds equal (floats: see `_close`).
    approximate: the exercise states a tolerance, so every number is grouped as a float."""
    return _canonical(value, column.category, column.type_name, column.element_category, zone, approximate)


def _number(value: Any, approximate: bool) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return ("n", "nan" if math.isnan(value) else value)
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        return ("n", "nan" if value.is_nan() else float(value))
    if isinstance(value, int) or (isinstance(value, decimal.Decimal) and value == value.to_integral_value()):
        return ("n", int(value))  # exact, however large
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53 and not approximate:
        return ("n", int(value))
    if isinstance(value, decimal.Decimal) and not approximate:
        return ("n", value.normalize())
    number = float(value)  # grouped by its rounded value; the exact one is kept for comparing within the tolerance
    return ("nf", number if number == 0 else float(f"{number:.{_SIGNIFICANT}g}"), number)


def _canonical(value: Any, category: str, type_name: str, element: str | None, zone: dt.tzinfo,
               approximate: bool) -> Any:
    if value is None:
        return None
    if category == "N":
        return _number(value, approximate)
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
        return ("a", tuple(_canonical(v, element or "X", inner, None, zone, approximate) for v in value))
    if isinstance(value, (dict, list)):
        return ("json", json.dumps(value, sort_keys=True))
    if isinstance(value, memoryview):
        return ("bytes", bytes(value))
    return (category, value)


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
    """Equal, or numbers within the relative tolerance where one of them is a float (exact types compare exactly)."""
    if a == b:
        return True
    if isinstance(a, tuple) and isinstance(b, tuple) and a and b and a[0] in ("n", "nf") and b[0] in ("n", "nf"):
        if "nf" not in (a[0], b[0]):
            return False  # integers and numerics: exactly
        x, y = a[-1], b[-1]  # a float's exact value is its last element
        if isinstance(x, str) or isinstance(y, str):
            return False  # NaN against a number
        return math.isclose(float(x), float(y), rel_tol=tolerance, abs_tol=1e-12)
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return all(_close(x, y, tolerance) for x, y in zip(a, b))
    return False


def _same_rows(mine: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]], tolerance: float) -> bool:
    """The same multiset of rows, floats within the tolerance."""
    if Counter(mine) == Counter(theirs):
        return True
    if len(mine) != len(theirs):
        return False
    left = list(theirs)
    for row in mine:
        match = next((i for i, other in enumerate(left) if _close(row, other, tolerance)), None)
        if match is None:
            return False
        left.pop(match)
    return True


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
    column: int  # position in a result's columns
    descending: bool = False


@dataclass
class Comparison:
    """How to compare a learner's result with the reference."""

    ordered: bool = False
    sort_keys: list[SortKey] | None = None  # the reference's ORDER BY as its output columns (None: see order_keys)
    learner_sort: list[SortKey] | None = None  # the learner's ORDER BY as positions in the learner's columns
    check_names: bool = False
    typed: Sequence[str] = ()  # reference columns whose type the task names
    tolerance: float | None = None  # None: floats within FLOAT_TOLERANCE, exact types exactly
    order_description: str = ""  # the task's order in words, for messages ("ORDER BY posts DESC")


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


def _swapped_columns(got: ResultSet, expected: ResultSet) -> str | None:
    """The learner's columns are the expected ones in another order (each type finds its place): say so."""
    from itertools import permutations

    count = len(expected.columns)
    if count > 6:
        return None
    for order in permutations(range(count)):
        if order == tuple(range(count)):
            continue
        if all(comparable(got.columns[mine], theirs) for theirs, mine in zip(expected.columns, order)):
            wanted = ", ".join(c.name for c in expected.columns)
            return (f"your columns come in another order ({', '.join(c.name for c in got.columns)}): the task asks "
                    f"for {wanted}, in that order.")
    return None


def _type_problem(got: ResultSet, expected: ResultSet, order: list[int], how: Comparison) -> tuple[str | None, str | None]:
    """(a problem that stops the comparison, a type difference the task names between comparable types)."""
    named_note = None
    for position, (theirs, mine_at) in enumerate(zip(expected.columns, order), start=1):
        mine = got.columns[mine_at]
        label = f"column {position} ({mine.name})"
        if comparable(mine, theirs):
            if theirs.name in how.typed and mine.type_name != theirs.type_name and named_note is None:
                named_note = f"{label} is of type {mine.type_name}; the task asks for a {theirs.type_name}."
            continue
        if theirs.name in how.typed:
            return f"{label} is of type {mine.type_name}; the task asks for a {theirs.type_name}.", None
        swapped = _swapped_columns(got, expected)
        if swapped:
            return swapped, None
        looks_like = ("text that looks like a date or a time is still text, "
                      if {mine.category, theirs.category} == {"S", "D"} else "")
        return (f"{label} holds {mine.type_name} values where {theirs.type_name} values are expected; PostgreSQL "
                f"does not compare the two without a cast ({looks_like}cast it, or select the column itself)."), None
    return None, named_note


def compare(got: ResultSet, expected: ResultSet, how: Comparison) -> str | None:
    """None if the result sets match as the task asks; else a precise description of the first difference."""
    order, problem = _line_up(got, expected, how)
    if problem or order is None:
        return problem
    problem, named_note = _type_problem(got, expected, order, how)
    if problem:
        return problem
    approximate = how.tolerance is not None
    tolerance = how.tolerance if how.tolerance is not None else FLOAT_TOLERANCE
    # A timestamp without time zone meets one with a zone as PostgreSQL compares them: read in the time zone of the
    # session that compares, the learner's (which may have SET LOCAL TimeZone).
    zone = got.time_zone
    exp_keys = [tuple(canonical(v, c, zone, approximate) for v, c in zip(row, expected.columns))
                for row in expected.rows]
    got_columns = [got.columns[i] for i in order]
    got_rows = [tuple(row[i] for i in order) for row in got.rows]
    got_keys = [tuple(canonical(v, c, zone, approximate) for v, c in zip(row, got_columns)) for row in got_rows]
    names = expected.names
    missing, extra = _unmatched(got_keys, exp_keys, tolerance)
    if missing or extra or len(got_keys) != len(exp_keys):
        parts = []
        if len(got_keys) != len(exp_keys):
            parts.append(f"your result has {_plural(len(got_keys), 'row')}, expected {len(exp_keys):,}")
        if missing:
            parts.append(f"first missing row: {show_row(expected.rows[missing[0]], names)}")
        if extra:
            parts.append(f"first unexpected row: {show_row(got_rows[extra[0]], names)}")
        return (named_note + " " if named_note else "") + "; ".join(parts) + "." + _direction_hint(got, order, how)
    if how.ordered:
        task_keys = _task_keys(expected, exp_keys, how)
        problem = (_order_problem(got_keys, exp_keys, task_keys, got_rows, expected.rows, names, how, tolerance)
                   or _ties_left_to_chance(got, got_keys, exp_keys, task_keys, order, names, how, tolerance))
        if problem:
            return problem
    if named_note:
        return "the values are right, but " + named_note
    return None


def _direction_hint(got: ResultSet, order: list[int], how: Comparison) -> str:
    """When the learner sorts the task's first key the other way round (with a LIMIT, that picks other rows)."""
    if not (how.ordered and how.sort_keys and how.learner_sort):
        return ""
    theirs, mine = how.sort_keys[0], how.learner_sort[0]
    if order[theirs.column] != mine.column or theirs.descending == mine.descending:
        return ""
    column = got.names[mine.column]
    if theirs.descending:
        return f" Your query sorts by {column} ascending; the task asks for the largest first (DESC)."
    return f" Your query sorts by {column} descending; the task asks for the smallest first (ASC)."


def _task_keys(expected: ResultSet, exp_keys: list[tuple[Any, ...]], how: Comparison) -> list[tuple[Any, ...]]:
    """The task's ORDER BY value of each expected row (the whole row when the keys are unknown)."""
    if how.sort_keys:
        return [tuple(key[k.column] for k in how.sort_keys) for key in exp_keys]
    if expected.order_keys is not None:
        return [tuple(canonical(v, Column("", "", _category_of(v)), expected.time_zone) for v in keys)
                for keys in expected.order_keys]
    return exp_keys


def _category_of(value: Any) -> str:
    if isinstance(value, bool):
        return "B"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "N"
    if isinstance(value, str):
        return "S"
    return "X"


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
    if missing and extra:  # floats that rounded apart: match what is equal within the tolerance
        still_missing = []
        for i in missing:
            match = next((j for j in extra if _close(got[j], expected[i], tolerance)), None)
            if match is None:
                still_missing.append(i)
            else:
                extra.remove(match)
        missing = still_missing
    return missing, extra


def _runs(keys: list[tuple[Any, ...]], tolerance: float) -> list[tuple[int, int]]:
    """[start, end) of each run of consecutive equal keys."""
    runs, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or not _close(keys[i], keys[start], tolerance):
            runs.append((start, i))
            start = i
    return runs


def _order_problem(got_keys: list[tuple[Any, ...]], exp_keys: list[tuple[Any, ...]], task_keys: list[tuple[Any, ...]],
                   got_rows: list[tuple[Any, ...]], exp_rows: list[tuple[Any, ...]], names: list[str],
                   how: Comparison, tolerance: float) -> str | None:
    """Rows tied on the task's keys may come in any order among themselves: compare run by run."""
    for start, end in _runs(task_keys, tolerance):
        if _same_rows(got_keys[start:end], exp_keys[start:end], tolerance):
            continue
        row = next((i for i in range(start, end)
                    if not any(_close(got_keys[i], other, tolerance) for other in exp_keys[start:end])), start)
        order = f" ({how.order_description})" if how.order_description else ""
        return (f"the rows are right but not in the order asked for{order}: row {row + 1} should be "
                f"{show_row(exp_rows[start if end - start == 1 else row], names)}"
                f"{' (or another row tied with it)' if end - start > 1 else ''}, yours is {show_row(got_rows[row], names)}.")
    return None


def _ties_left_to_chance(got: ResultSet, got_keys: list[tuple[Any, ...]], exp_keys: list[tuple[Any, ...]],
                         task_keys: list[tuple[Any, ...]], order: list[int], names: list[str], how: Comparison,
                         tolerance: float) -> str | None:
    """Rows the learner's ORDER BY leaves tied, which the task orders: right this time only by the plan's chance."""
    if not how.learner_sort:
        return None
    key_of_row = {key: task for key, task in zip(exp_keys, task_keys)}
    learner_values = [tuple(canonical(row[k.column], got.columns[k.column], got.time_zone) for k in how.learner_sort)
                      for row in got.rows]
    for start, end in _runs(learner_values, tolerance):
        tasks = [key_of_row.get(got_keys[i]) for i in range(start, end)]
        if any(t is None for t in tasks) or len(set(tasks)) <= 1:
            continue
        a, b = next((i, i + 1) for i in range(start, end - 1) if tasks[i - start] != tasks[i + 1 - start])
        tied = ", ".join(got.names[k.column] for k in how.learner_sort)
        wanted = how.order_description or "the task's order"
        return (f"your ORDER BY leaves rows {a + 1} and {b + 1} tied (the same {tied}), but the task orders them "
                f"({wanted}): they come in the right order this time only by the chance of the plan. Make your "
                "ORDER BY say the whole order.")
    return None


# ------------------------------------------------------------------------------------------ reading ORDER BY


def sort_keys_of(statement: Statement, columns: Sequence[str]) -> list[SortKey] | None:
    """A query's ORDER BY as positions in its result (None if an expression is not an output column)."""
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


def with_order_columns(statement: Statement) -> tuple[str, int] | None:
    """The query with its ORDER BY expressions added as last columns (to learn the order of keys it does not
    output), and how many were added; None where that would change its result (DISTINCT, set operations)."""
    node = statement.node
    if (node is None or type(node).__name__ != "SelectStmt" or not node.sortClause or node.distinctClause
            or node.op.value != 0 or not node.targetList):
        return None
    from pglast import ast
    from pglast.stream import RawStream

    extra = tuple(ast.ResTarget(name=f"pglab_order_{i}", val=sort.node) for i, sort in enumerate(node.sortClause))
    try:
        node.targetList = tuple(node.targetList) + extra
        return RawStream()(node), len(extra)
    finally:
        node.targetList = tuple(node.targetList)[: -len(extra)]


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


def has_top_level_limit(statement: Statement) -> bool:
    node = statement.node
    return node is not None and type(node).__name__ == "SelectStmt" and (
        node.limitCount is not None or node.limitOffset is not None)


__all__ = ["Column", "Comparison", "FLOAT_TOLERANCE", "Interval", "ResultSet", "SortKey", "canonical", "compare",
           "fetch", "has_top_level_limit", "has_top_level_order", "parse_interval", "show", "show_row",
           "sort_keys_of", "with_order_columns"]
