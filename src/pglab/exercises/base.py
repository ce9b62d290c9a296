"""Self-checking exercises, modelled on Kaggle's learntools: check(), hint(), solution().

Four kinds:
- ResultExercise: the learner's query must return the reference query's rows (order-insensitive
  unless the task asks for an order; column names free when they are not the point).
- SchemaExercise: the learner's DDL runs in a transaction that is rolled back afterwards; checks
  inspect the catalog and probe behaviour (this row must be rejected, that one accepted), so every
  correct spelling passes.
- PlanExercise: the learner's DDL (an index) or query is planned; the plan must have a shape
  (use an index on a table, no Seq Scan on it, no Sort...), and a query must still return the right rows.
- StatementCountExercise: the learner's Python function gets an ORM Session; its result must match
  the reference and it may issue at most N statements.

Each exercise carries its solution and at least two plausible wrong answers (`mistakes`) with the
feedback each must get: the test suite proves them all.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..display import Message, show_text
from ..errors import is_database_error, short_message
from ..explain import Plan
from ..querycount import count_statements

STATEMENT_TIMEOUT_MS = 30_000


@dataclass
class Feedback:
    """The outcome of a check: passed or not, and what to tell the learner."""

    passed: bool
    message: str
    attempted: bool = True
    _shown: bool = field(default=False, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return "pass" if self.passed else "fail" if self.attempted else "todo"

    def __str__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        # check() already displayed this; being the cell's value must not show it twice.
        if not self._shown:
            self.show()

    def show(self) -> None:
        self._shown = True
        show_text(self.message, self.kind)


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer and a fragment its feedback must contain (proven by the tests)."""

    answer: Any
    expect: str


class NotAttempted(Exception):
    pass


def is_blank_sql(answer: Any) -> bool:
    if answer is None or answer is ...:
        return True
    if not isinstance(answer, str):
        return False
    code = re.sub(r"--[^\n]*", "", answer)
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    return not code.strip(" \n\t;")


def _clean_sql(answer: str) -> str:
    return answer.strip().rstrip(";").strip()


def _unwritten_function(session: Any) -> Any:
    raise NotImplementedError  # your code here


class Exercise(ABC):
    kind: str = "exercise"
    blank_answer: Any = "-- your SQL here\n"  # what the notebook's exercise cell holds before an attempt

    def __init__(
        self,
        lesson: str,
        name: str,
        *,
        task: str,
        hints: Sequence[str],
        solution: Any,
        mistakes: Sequence[Mistake],
        explanation: str = "",
    ) -> None:
        self.lesson = lesson
        self.name = name
        self.task = task
        self.hints = list(hints)
        self.solution_answer = solution
        self.mistakes = list(mistakes)
        self.explanation = explanation

    @property
    def title(self) -> str:
        return f"Lesson {self.lesson}, exercise {self.name!r}"

    def evaluate(self, engine: Engine, answer: Any) -> Feedback:
        """Check an answer without displaying anything."""
        if self._blank(answer):
            return Feedback(
                False,
                f"{self.title}: not attempted yet. Write your answer in the cell above and run this cell again "
                f"(ex.{self.name}.hint() gives a hint).",
                attempted=False,
            )
        try:
            problem = self._problem(engine, answer)
        except NotAttempted:
            return Feedback(False, f"{self.title}: not attempted yet (your function still raises NotImplementedError).", attempted=False)
        except Exception as error:  # a learner's error is feedback, not a crash
            if is_database_error(error):
                problem = f"your SQL failed: {short_message(error)}"
                if "statement timeout" in problem:
                    problem += " (stopped after 30 s: is a join condition missing?)"
            else:
                problem = f"your answer raised {type(error).__name__}: {error}"
        if problem is None:
            return Feedback(True, f"✔ Correct! {self.explanation}".strip())
        return Feedback(False, f"✘ Not yet: {problem}")

    def _blank(self, answer: Any) -> bool:
        return is_blank_sql(answer)

    @abstractmethod
    def _problem(self, engine: Engine, answer: Any) -> str | None:
        """None if the answer is right, else what is wrong (a sentence for the learner)."""

    def solution_text(self) -> str:
        if isinstance(self.solution_answer, str):
            return self.solution_answer.strip()
        import inspect

        return inspect.getsource(self.solution_answer).strip()


def _rollback_transaction(engine: Engine, body: Callable[[Connection], Any], *, read_only: bool = False) -> Any:
    """Run body in a transaction that is always rolled back (the learner's database stays as it was)."""
    with engine.connect() as conn:
        try:
            if read_only:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
            return body(conn)
        finally:
            conn.rollback()


def run_script(conn: Connection, sql: str) -> None:
    """Run one or more statements (psycopg sends them together when there are no parameters)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute(sql)  # type: ignore[call-overload]


# ---------------------------------------------------------------- result sets


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int,)):
        return value
    if isinstance(value, (float, decimal.Decimal)):
        number = float(value)
        return int(number) if number.is_integer() else round(number, 6)
    if isinstance(value, (dt.datetime, dt.date, dt.time, uuid.UUID)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return tuple(_normalise(v) for v in value)
    return value


def lists_in_any_order(value: Any) -> Any:
    """Normalise {key: [items]} so that the order inside each list does not matter (for ORM answers)."""
    if not isinstance(value, dict):
        return value
    return {
        str(key): sorted(str(item) for item in items) if isinstance(items, (list, tuple, set)) else items
        for key, items in value.items()
    }


def _fmt_row(row: tuple[Any, ...], columns: Sequence[str]) -> str:
    return "(" + ", ".join(f"{c}={v!r}" for c, v in zip(columns, row)) + ")"


@dataclass
class ResultSet:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def fetch(conn: Connection, sql: str) -> ResultSet:
    """The rows of the script's last statement that returns rows (so `SET LOCAL ...; SELECT ...` works)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    found: ResultSet | None = None
    with raw.cursor() as cursor:
        cursor.execute(_clean_sql(sql))  # type: ignore[call-overload]  # no parameters: '%' is literal
        while True:
            if cursor.description is not None:
                found = ResultSet(
                    [column.name for column in cursor.description],
                    [tuple(_normalise(v) for v in row) for row in cursor.fetchall()],
                )
            if not cursor.nextset():
                break
    if found is None:
        raise ValueError("your SQL did not return rows: write a SELECT query")
    return found


def compare_results(got: ResultSet, expected: ResultSet, *, ordered: bool, check_names: bool) -> str | None:
    """None if the result sets match, else a precise description of the first difference."""
    exp_cols = [c.lower() for c in expected.columns]
    got_cols = [c.lower() for c in got.columns]
    if len(got_cols) != len(exp_cols):
        return (
            f"your result has {len(got_cols)} column{'s' if len(got_cols) != 1 else ''} ({', '.join(got.columns)}), "
            f"expected {len(exp_cols)} ({', '.join(expected.columns)})."
        )
    rows = got.rows
    if sorted(got_cols) == sorted(exp_cols) and got_cols != exp_cols:
        order = [got_cols.index(c) for c in exp_cols]  # same names, other order: line them up by name
        rows = [tuple(row[i] for i in order) for row in rows]
    elif check_names and got_cols != exp_cols:
        missing = [c for c in exp_cols if c not in got_cols]
        return f"expected columns named ({', '.join(expected.columns)}); missing {', '.join(missing)}."
    names = expected.columns
    if len(rows) != len(expected.rows):
        problem = f"your result has {len(rows):,} row{'s' if len(rows) != 1 else ''}, expected {len(expected.rows):,}"
    else:
        problem = None
    got_count, exp_count = Counter(rows), Counter(expected.rows)
    missing_rows = list((exp_count - got_count).elements())
    extra_rows = list((got_count - exp_count).elements())
    details = []
    if missing_rows:
        first = next(r for r in expected.rows if r in (exp_count - got_count))
        details.append(f"first missing row: {_fmt_row(first, names)}")
    if extra_rows:
        first = next(r for r in rows if r in (got_count - exp_count))
        details.append(f"first unexpected row: {_fmt_row(first, names)}")
    if problem or details:
        return "; ".join([p for p in [problem] if p] + details) + "."
    if ordered and rows != expected.rows:
        for position, (mine, theirs) in enumerate(zip(rows, expected.rows), start=1):
            if mine != theirs:
                return (
                    f"the rows are right but not in the order asked for: row {position} should be "
                    f"{_fmt_row(theirs, names)}, yours is {_fmt_row(mine, names)}."
                )
    return None


class ResultExercise(Exercise):
    kind = "result"

    def __init__(self, lesson: str, name: str, *, ordered: bool = False, check_names: bool = False,
                 setup: str | None = None, **kwargs: Any) -> None:
        super().__init__(lesson, name, **kwargs)
        self.ordered = ordered
        self.check_names = check_names
        self.setup = setup

    def _problem(self, engine: Engine, answer: Any) -> str | None:
        def body(conn: Connection) -> str | None:
            if self.setup:
                run_script(conn, self.setup)
            expected = fetch(conn, self.solution_answer)
            conn.exec_driver_sql("SET LOCAL transaction_read_only = on")  # a stray DELETE fails at once
            got = fetch(conn, answer)
            return compare_results(got, expected, ordered=self.ordered, check_names=self.check_names)

        return _rollback_transaction(engine, body)


# ---------------------------------------------------------------- schema


Requirement = Callable[[Connection], "str | None"]


class SchemaExercise(Exercise):
    """The answer is DDL; requirements inspect the result. Everything is rolled back afterwards."""

    kind = "schema"

    def __init__(self, lesson: str, name: str, *, requirements: Sequence[Requirement],
                 setup: str | None = None, **kwargs: Any) -> None:
        super().__init__(lesson, name, **kwargs)
        self.requirements = list(requirements)
        self.setup = setup

    def _problem(self, engine: Engine, answer: Any) -> str | None:
        def body(conn: Connection) -> str | None:
            if self.setup:
                run_script(conn, self.setup)
            run_script(conn, answer)
            problems = [p for p in (requirement(conn) for requirement in self.requirements) if p]
            if not problems:
                return None
            more = f" ({len(problems) - 1} more to fix after that)" if len(problems) > 1 else ""
            return problems[0] + more

        return _rollback_transaction(engine, body)


def probe(conn: Connection, sql: str) -> BaseException | None:
    """Run sql inside a savepoint that is rolled back; return the database error it raised, or None."""
    return probe_value(conn, sql)[0]


def probe_value(conn: Connection, sql: str, query: str | None = None) -> tuple[BaseException | None, Any]:
    """Run sql in a savepoint, then (if it worked) the query; roll the savepoint back.

    Returns (the database error or None, the query's single value or None)."""
    savepoint = conn.begin_nested()
    try:
        run_script(conn, sql)
        value = conn.exec_driver_sql(query).scalar() if query else None
    except Exception as error:
        savepoint.rollback()
        if is_database_error(error):
            return error, None
        raise
    savepoint.rollback()
    return None, value


def rejects(sql: str, *, why: str) -> Requirement:
    """The schema must make this statement fail (e.g. insert a NULL email)."""

    def requirement(conn: Connection) -> str | None:
        return None if probe(conn, sql) is not None else f"{why}: your schema accepted `{sql.strip()}`."

    return requirement


def accepts(sql: str, *, why: str) -> Requirement:
    """The schema must let this statement succeed."""

    def requirement(conn: Connection) -> str | None:
        error = probe(conn, sql)
        return None if error is None else f"{why}, but `{sql.strip()}` failed: {short_message(error)}"

    return requirement


def has_column(table: str, column: str, *, type_prefix: str | None = None, not_null: bool | None = None,
               has_default: bool | None = None) -> Requirement:
    from .. import catalog

    def requirement(conn: Connection) -> str | None:
        if not catalog.table_exists(conn, table):
            return f"there is no table {table} (create it with that name)."
        columns = catalog.columns(conn, table)
        if column not in columns:
            return f"table {table} has no column {column} (it has {', '.join(columns)})."
        found = columns[column]
        if type_prefix and not found.data_type.startswith(type_prefix):
            return f"column {column} should be of type {type_prefix}, not {found.data_type}."
        if not_null is True and not found.not_null:
            return f"column {column} should be NOT NULL."
        if not_null is False and found.not_null:
            return f"column {column} should allow NULL (it is optional)."
        if has_default is True and found.default is None:
            return f"column {column} should have a DEFAULT."
        return None

    return requirement


def has_index(table: str, columns: Sequence[str], *, unique: bool | None = None, partial: bool | None = None,
              method: str | None = None, leading_only: bool = True) -> Requirement:
    """An index on table whose leading key columns are `columns` (in that order)."""
    from .. import catalog

    def requirement(conn: Connection) -> str | None:
        wanted = tuple(columns)
        candidates = [
            ix for ix in catalog.indexes(conn, table)
            if (ix.columns[: len(wanted)] == wanted if leading_only else ix.columns == wanted)
        ]
        label = f"({', '.join(wanted)})"
        if not candidates:
            return f"there is no index on {table} {label}."
        if unique is not None:
            candidates = [ix for ix in candidates if ix.unique == unique]
            if not candidates:
                return f"the index on {table} {label} should {'be' if unique else 'not be'} UNIQUE."
        if partial is not None:
            candidates = [ix for ix in candidates if (ix.predicate is not None) == partial]
            if not candidates:
                return f"the index on {table} {label} should {'have' if partial else 'not have'} a WHERE clause."
        if method is not None and not any(ix.method == method for ix in candidates):
            return f"the index on {table} {label} should use {method}."
        return None

    return requirement


# ---------------------------------------------------------------- plans


PlanRequirement = Callable[[Plan], "str | None"]


def uses_index_on(table: str) -> PlanRequirement:
    def requirement(plan: Plan) -> str | None:
        if plan.uses_index(table=table):
            return None
        how = f"reads all of {table} with a Seq Scan" if plan.seq_scans_on(table) else f"uses no index on {table}"
        return f"the plan still {how}; an index helps only if it starts with the columns the query filters, joins or sorts on."

    return requirement


def no_seq_scan_on(table: str) -> PlanRequirement:
    def requirement(plan: Plan) -> str | None:
        return f"the plan reads all of {table} with a Seq Scan." if plan.seq_scans_on(table) else None

    return requirement


def no_node(node_type: str, why: str = "") -> PlanRequirement:
    def requirement(plan: Plan) -> str | None:
        return f"the plan still has a {node_type} node{': ' + why if why else ''}." if plan.has_node(node_type) else None

    return requirement


class PlanExercise(Exercise):
    """answer_is='ddl': the learner creates something (an index) and `target` is planned.
    answer_is='query': the learner's query is planned, and must return the reference's rows."""

    kind = "plan"

    def __init__(self, lesson: str, name: str, *, plan_requirements: Sequence[PlanRequirement],
                 target: str | None = None, answer_is: str = "ddl", ordered: bool = False,
                 setup: str | None = None, **kwargs: Any) -> None:
        super().__init__(lesson, name, **kwargs)
        assert answer_is in ("ddl", "query")
        assert answer_is == "query" or target, "a ddl plan exercise needs the target query"
        self.plan_requirements = list(plan_requirements)
        self.target = target
        self.answer_is = answer_is
        self.ordered = ordered
        self.setup = setup
        self.reference_query = kwargs.get("solution") if answer_is == "query" else None

    def _problem(self, engine: Engine, answer: Any) -> str | None:
        def body(conn: Connection) -> str | None:
            if self.setup:
                run_script(conn, self.setup)
            if self.answer_is == "ddl":
                if re.search(r"\bconcurrently\b", answer, re.I):
                    return "CREATE INDEX CONCURRENTLY cannot run inside the checker's transaction: leave out CONCURRENTLY here."
                run_script(conn, answer)
                query = self.target
            else:
                expected = fetch(conn, self.solution_answer)
                conn.exec_driver_sql("SET LOCAL transaction_read_only = on")
                got = fetch(conn, answer)
                mismatch = compare_results(got, expected, ordered=self.ordered, check_names=False)
                if mismatch:
                    return mismatch
                query = _clean_sql(answer)
            assert query is not None
            document = conn.execute(sa.text(f"EXPLAIN (FORMAT JSON) {query}")).scalar_one()
            plan = Plan.from_json(document, query, analyzed=False)
            for requirement in self.plan_requirements:
                problem = requirement(plan)
                if problem:
                    return problem + "\nYour plan:\n" + plan.text(details=False)
            return None

        return _rollback_transaction(engine, body)


# ---------------------------------------------------------------- statement counts


class StatementCountExercise(Exercise):
    """The answer is a function(session) -> result; at most `max_statements` statements allowed."""

    kind = "statements"
    blank_answer = staticmethod(_unwritten_function)

    def __init__(self, lesson: str, name: str, *, max_statements: int,
                 normalise: Callable[[Any], Any] = lambda value: value, **kwargs: Any) -> None:
        super().__init__(lesson, name, **kwargs)
        self.max_statements = max_statements
        self.normalise = normalise

    def _blank(self, answer: Any) -> bool:
        return answer is None or answer is ...

    def _run(self, engine: Engine, function: Callable[[Any], Any]) -> tuple[Any, int, str]:
        from sqlalchemy.orm import Session

        with Session(engine) as session, count_statements(engine) as log:
            try:
                value = function(session)
            except NotImplementedError as error:
                raise NotAttempted from error
            result = self.normalise(value)
            session.rollback()
        return result, log.count, log.summary()

    def _problem(self, engine: Engine, answer: Any) -> str | None:
        if not callable(answer):
            return "pass your function itself (its name, without calling it)."
        expected, _, _ = self._run(engine, self.solution_answer)
        got, count, summary = self._run(engine, answer)
        if got != expected:
            return f"your function returned a different result.\n{_describe_difference(got, expected)}"
        if count > self.max_statements:
            return (
                f"your function issued {count} statements; at most {self.max_statements} are needed. "
                f"One shape repeated many times is the N+1 pattern:\n{summary}"
            )
        return None


def _describe_difference(got: Any, expected: Any) -> str:
    if isinstance(expected, dict) and isinstance(got, dict):
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing:
            return f"Missing key {missing[0]!r} ({len(missing)} missing in all)."
        if extra:
            return f"Unexpected key {extra[0]!r} ({len(extra)} unexpected in all)."
        for key in expected:
            if got[key] != expected[key]:
                return f"For {key!r} you returned {got[key]!r}, expected {expected[key]!r}."
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)) and len(got) != len(expected):
        return f"You returned {len(got)} items, expected {len(expected)}."
    text = repr(got)
    return f"You returned {text[:200]}{'...' if len(text) > 200 else ''}."


# ---------------------------------------------------------------- binding to a lesson's database


class BoundExercise:
    """An exercise tied to the lesson's database: what a notebook calls."""

    def __init__(self, exercise: Exercise, engine: Engine) -> None:
        self.exercise = exercise
        self.engine = engine
        self._hints_given = 0

    def check(self, answer: Any) -> Feedback:
        feedback = self.exercise.evaluate(self.engine, answer)
        feedback.show()
        return feedback

    def hint(self, number: int | None = None) -> None:
        hints = self.exercise.hints
        if number is None:
            number = min(self._hints_given + 1, len(hints))
        self._hints_given = max(self._hints_given, number)
        more = f" (ask .hint({number + 1}) for another)" if number < len(hints) else ""
        show_text(f"Hint {number}/{len(hints)}: {hints[number - 1]}{more}", "info")

    def solution(self) -> None:
        body = self.exercise.solution_text()
        note = f"\n\n{self.exercise.explanation}" if self.exercise.explanation else ""
        show_text(f"Solution:\n{body}{note}", "info")

    def task(self) -> Message:
        return Message(self.exercise.task, "info")

    def __repr__(self) -> str:
        return f"<{self.exercise.kind} exercise {self.exercise.name!r}: .check(answer), .hint(), .solution()>"


class LessonExercises:
    def __init__(self, exercises: Sequence[Exercise], engine: Engine) -> None:
        self._bound = {e.name: BoundExercise(e, engine) for e in exercises}

    def __getattr__(self, name: str) -> BoundExercise:
        try:
            return self._bound[name]
        except KeyError:
            raise AttributeError(f"no exercise {name!r} in this lesson (there are: {', '.join(self._bound)})") from None

    def __dir__(self) -> list[str]:
        return list(self._bound)

    def __repr__(self) -> str:
        return "Exercises: " + ", ".join(self._bound)
