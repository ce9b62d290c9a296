"""An exercise: a task, hints, a solution, the wrong answers it must reject, and a check.

Every kind (result, schema, plan, statements, dataloader, migration: one module each) follows one flow:
a blank answer is "not attempted"; the answer is judged inside a transaction that is always rolled back; a
database error becomes the server's message plus advice matched on it (`ErrorHint`); a wrong answer can get a
diagnosis that looks at what it did, in the same transaction (`diagnoses`). A lesson's exercises are
declarations of these kinds: requirements, diagnoses and error hints are plain functions of a `Trial`.
"""
from __future__ import annotations

import re
import textwrap
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy.engine import Connection, Engine

from ..errors import is_database_error, short_message
from ..explain import Plan
from .feedback import Feedback
from .learner_sql import STATEMENT_TIMEOUT_MS, LOCK_TIMEOUT_MS, Script, ScriptRefused, run_script
from .results import ResultSet


SLOW_ANSWER_S = 0.5  # a check answers in well under this; a slower one says the time is the answer's own


class NotAttempted(Exception):
    """The learner's function still raises NotImplementedError."""


class LearnerSqlError(Exception):
    """The learner's own SQL failed (not the checker's): carries the database error and the SQL sent."""

    def __init__(self, error: BaseException, sql: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.sql = sql


@dataclass
class Trial:
    """One answer being checked: what requirements, diagnoses and error hints look at."""

    conn: Connection | None  # inside the checker's transaction (rolled back afterwards)
    answer: Any
    script: Script | None = None
    plan: Plan | None = None
    result: ResultSet | None = None
    expected: ResultSet | None = None
    value: Any = None  # what a learner's function returned
    expected_value: Any = None
    error: BaseException | None = None
    case: Case | None = None  # the situation being checked, when the exercise has several
    params: dict[str, Any] | None = None  # its parameters' values
    statements: list[str] | None = None  # what a learner's function sent, as the driver saw it

    def value_of(self, query: str) -> Any:
        assert self.conn is not None
        return self.conn.exec_driver_sql(query).scalar()

    def rows_of(self, query: str) -> list[Any]:
        assert self.conn is not None
        return list(self.conn.exec_driver_sql(query).fetchall())


@dataclass(frozen=True)
class Case:
    """One situation an answer with `:name` parameters is checked in: `params` is a query (run on the lesson's data
    at check time) whose one row gives the parameters' values; `label` says which situation, in the feedback."""

    label: str
    params: str


Check = Callable[[Trial], "str | None"]  # a requirement (None: satisfied) or a diagnosis (None: nothing to say)


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer and a fragment its feedback must contain (proven by the tests)."""

    answer: Any
    expect: str


@dataclass(frozen=True)
class Since:
    """A right answer that only some servers accept (CREATE STATISTICS without a name needs PostgreSQL 16):
    the tests prove it on servers from `server_version_num` on."""

    server_version_num: int
    answer: Any


@dataclass(frozen=True)
class ErrorHint:
    """When the server's message matches `pattern` (a regular expression), add `advice`: a sentence, or a
    function of the trial (whose error is set) that returns one or None."""

    pattern: str
    advice: str | Callable[[Trial], str | None]
    replaces_server_hint: bool = False  # the server's own HINT would mislead a learner here

    def applies(self, message: str) -> bool:
        return re.search(self.pattern, message, re.I | re.S) is not None

    def say(self, trial: Trial) -> str | None:
        return self.advice if isinstance(self.advice, str) else self.advice(trial)


def _timeout_advice(trial: Trial) -> str:
    stopped = f"It was stopped after {STATEMENT_TIMEOUT_MS // 1000} s"
    text = str(trial.answer).lower() if isinstance(trial.answer, str) else ""
    if "loop" in text or "trigger" in text or "function" in text:
        return f"{stopped}: does a loop in your function or trigger never end?"
    return f"{stopped}: is a join condition missing?"


def _recursion(trial: Trial) -> str:
    return ("Your trigger changes the table it is defined on, so each of its own UPDATEs fires it again, "
            "without end (the server gave up when its stack was full). In a BEFORE trigger, change the row by "
            "assigning to NEW (NEW.col := ...; RETURN NEW;) instead of running UPDATE.")


# Settings an answer may not change: the checker reads results, probes and plans under them.
_GUARDED_SETTINGS = {
    "statement_timeout": "the checker's time limit", "lock_timeout": "the checker's time limit",
    "idle_in_transaction_session_timeout": "the checker's time limit", "transaction_timeout": "the checker's time limit",
    "extra_float_digits": "how numbers are read back", "datestyle": "how dates are read back",
    "bytea_output": "how bytes are read back", "lc_monetary": "how money is read back",
    "lc_numeric": "how numbers are read back", "session_replication_role": "whether triggers and foreign keys fire",
    "search_path": "where the checker finds the lesson's tables", "transaction_read_only": "what the checker may do",
    "role": "who the checker runs as", "session_authorization": "who the checker runs as",
}
# search_path by the schemas it names that exist (a temporary table the answer creates adds pg_temp only implicitly):
# `SET search_path = nowhere, public` changes nothing that matters.
_SETTINGS_SQL = """
SELECT name, setting, category LIKE 'Query Tuning%%' FROM pg_settings
WHERE (category LIKE 'Query Tuning%%' OR lower(name) = ANY(%(names)s)) AND name <> 'search_path'
UNION ALL SELECT 'search_path', current_schemas(false)::text, false
UNION ALL SELECT 'current_user', current_user::text, false
"""


def session_settings(conn: Connection) -> dict[str, tuple[str, bool]]:
    rows = conn.exec_driver_sql(_SETTINGS_SQL, {"names": list(_GUARDED_SETTINGS)}).all()
    return {str(name): (str(setting), bool(planner)) for name, setting, planner in rows}


def restore_settings(conn: Connection, before: dict[str, tuple[str, bool]], *, refuse_planner_settings: bool) -> None:
    """After the learner's step: refuse a change to a guarded setting, undo any other, then resolve names in public."""
    after = session_settings(conn)
    changed = [name for name, (setting, _) in after.items() if before.get(name, (setting, False))[0] != setting]
    for name in changed:
        key = "role" if name == "current_user" else name.lower()
        if key in _GUARDED_SETTINGS:
            raise ScriptRefused(
                f"your answer changes {name} ({_GUARDED_SETTINGS[key]}), and the checker needs its own value to "
                f"judge the answer: leave out that SET (or set_config), and write only the statements the task asks for.")
        if refuse_planner_settings and after[name][1]:
            raise ScriptRefused(
                f"your answer sets {name}, which changes how the planner chooses plans: the checker plans the query "
                "under the server's settings, as your application would. Leave out the SET: make the plan you want "
                "the cheapest one (an index, statistics), not the only one allowed.")
    for name in changed:
        if after[name][1]:
            conn.exec_driver_sql("SELECT set_config(%(name)s, %(value)s, true)",
                                 {"name": name, "value": before[name][0]})
    conn.exec_driver_sql("SET LOCAL search_path = public, pg_temp")


@contextmanager
def watchdog(conn: Connection, seconds: float = STATEMENT_TIMEOUT_MS / 1000 + 5) -> Iterator[None]:
    """Cancel the connection's statement from Python once `seconds` have passed (the server's own statement_timeout
    can be lifted by the answer; this cannot)."""
    from ..connection import driver

    raw = driver(conn)
    timer = threading.Timer(seconds, raw.cancel_safe)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


# Advice every exercise gives, after its own.
GENERAL_ERROR_HINTS: tuple[ErrorHint, ...] = (
    ErrorHint(r"stack depth limit exceeded", _recursion, replaces_server_hint=True),
    ErrorHint(r"canceling statement due to (statement timeout|user request)", lambda trial: _timeout_advice(trial)),
    ErrorHint(r"canceling statement due to lock timeout",
              f"It waited more than {LOCK_TIMEOUT_MS // 1000} s for a lock that another session holds on the "
              "same table: an open transaction in your notebook (or in psql)? Commit or roll it back, then check again."),
    ErrorHint(r"cannot run inside a transaction block",
              "The checker runs your answer inside a transaction (to roll it back): leave that statement out."),
    ErrorHint(r"read-only transaction",
              "This exercise asks for a query: the checker runs it read-only, so it may not change data."),
)


@dataclass
class Verdict:
    problem: str | None
    detail: str = ""
    notes: list[str] = field(default_factory=list)
    own: bool = True  # the time was the answer's own (not the checker waiting for a lock)


T = TypeVar("T")


@dataclass
class _Cached(Generic[T]):
    value: T
    next_xid: str


class ReferenceCache:
    """The reference answer's result, computed once per lesson database (check answers in well under a second).

    An entry stays valid while no transaction anywhere on the server has written (PostgreSQL's next transaction
    id has not moved): then the data the reference read cannot have changed. A learner's answer that matches a
    cached result passes; one that does not is compared with a fresh reference if anything was written since."""

    def __init__(self) -> None:
        self._entries: dict[tuple[Any, ...], _Cached[Any]] = {}

    @staticmethod
    def state(conn: Connection) -> tuple[int, str]:
        row = conn.exec_driver_sql(
            "SELECT d.oid, pg_snapshot_xmax(pg_current_snapshot())::text FROM pg_database AS d "
            "WHERE d.datname = current_database()").one()
        return int(row[0]), str(row[1])

    def get(self, key: tuple[Any, ...], database: int) -> _Cached[Any] | None:
        return self._entries.get((database, *key))

    def put(self, key: tuple[Any, ...], database: int, value: Any, next_xid: str) -> None:
        self._entries[(database, *key)] = _Cached(value, next_xid)


REFERENCES = ReferenceCache()


class Exercise(ABC):
    kind: ClassVar[str] = "exercise"
    kind_label: str = ""  # how the task box names it: "a query", "a schema change", ...
    answer_name: ClassVar[str] = "answer"  # what the notebook's answer cell defines
    language: ClassVar[str] = "sql"
    blank_answer: ClassVar[Any] = "-- your SQL here\n"

    def __init__(
        self,
        lesson: str,
        name: str,
        *,
        task: str,
        hints: Sequence[str],
        solution: Any,
        mistakes: Sequence[Mistake],
        alternatives: Sequence[Any] = (),
        explanation: str = "",
        setup: str | None = None,
        diagnoses: Sequence[Check] = (),
        error_hints: Sequence[ErrorHint] = (),
        kind_label: str | None = None,
    ) -> None:
        self.lesson = lesson
        if kind_label is not None:  # when the kind's own words do not fit this exercise's check
            self.kind_label = kind_label
        self.name = name
        self.task = textwrap.dedent(task).strip()
        self.hints = list(hints)
        self.solution_answer = textwrap.dedent(solution).strip() if isinstance(solution, str) else solution
        self.mistakes = list(mistakes)
        self.alternatives = list(alternatives)  # other right answers: the tests prove each one passes
        self.explanation = explanation
        self.setup = setup
        self.diagnoses = list(diagnoses)
        self.error_hints = [*error_hints, *GENERAL_ERROR_HINTS]

    @property
    def title(self) -> str:
        return f"Lesson {self.lesson[:2]}, exercise {self.name!r}"

    # -- the flow every kind follows -----------------------------------------------------------------

    def evaluate(self, engine: Engine, answer: Any) -> Feedback:
        """Check an answer without displaying anything."""
        if self.is_blank(answer):
            return Feedback(False, f"{self.title}: not attempted yet. Write your answer in this cell, replacing the "
                                   f"placeholder, and run it again (ex.{self.name}.hint() gives a hint).",
                            attempted=False)
        started = time.perf_counter()
        try:
            verdict = self.judge(engine, answer)
        except NotAttempted:
            return Feedback(False, f"{self.title}: not attempted yet (your function still raises NotImplementedError).",
                            attempted=False)
        except ScriptRefused as refused:
            verdict = Verdict(str(refused))
        except (Exception, SystemExit) as error:  # a learner's error is feedback, not a crash
            if isinstance(error, SystemExit):
                verdict = Verdict(f"your answer called exit ({error.code!r}): return a result instead.")
            elif not is_database_error(error):
                verdict = Verdict(f"your answer raised {type(error).__name__}: {error}")
            else:  # the checker's own step failed (its setup waited for a lock the notebook holds, ...)
                verdict = Verdict(self.with_advice(Trial(None, answer), f"the check itself failed: {short_message(error)}"))
                verdict.own = False
        seconds = time.perf_counter() - started
        if verdict.problem is None:
            return Feedback(True, f"✔ Correct! {self.explanation}".strip(), detail=verdict.detail, notes=verdict.notes)
        slow = (f" (The check took {seconds:.0f} s, most of it your answer's own work.)"
                if seconds > 5 and verdict.own else "")
        return Feedback(False, f"✘ Not yet: {verdict.problem}{slow}", detail=verdict.detail, notes=verdict.notes)

    def is_blank(self, answer: Any) -> bool:
        from .learner_sql import is_blank

        return is_blank(answer)

    @abstractmethod
    def judge(self, engine: Engine, answer: Any) -> Verdict:
        """Whether the answer is right, and what to tell the learner."""

    # -- shared by the kinds ---------------------------------------------------------------------------

    def run_learner(self, trial: Trial, sql: str, *, guard_lesson_tables: bool = False) -> Any:
        """Run the learner's SQL (see `learner_step`); returns the psycopg cursor. guard_lesson_tables: the lesson's
        own tables refuse row changes while it runs (schema and plan exercises)."""
        from . import learner_sql

        assert trial.conn is not None
        guarded = learner_sql.guard_lesson_tables(trial.conn) if guard_lesson_tables else []
        cursor = self.learner_step(trial, sql, lambda: run_script(trial.conn, sql))  # type: ignore[arg-type]
        learner_sql.release_lesson_tables(trial.conn, guarded)
        return cursor

    def learner_step(self, trial: Trial, sql: str, action: Callable[[], T]) -> T:
        """Do what runs the learner's SQL in a savepoint: a failure rolls back to it (the checker's setup stays)
        and raises LearnerSqlError for `sql_failure`. A slow answer is told that the time was its own.

        The time limit is kept from Python too (a SET statement_timeout in the answer cannot lift it), and the
        settings the checking depends on are read before and after: a change the checker cannot judge under is
        refused with a sentence, any other is undone, and names resolve in public from then on (a temporary table
        or another schema cannot stand in for the lesson's table)."""
        assert trial.conn is not None
        before = session_settings(trial.conn)
        savepoint = trial.conn.begin_nested()
        started = time.perf_counter()
        try:
            with watchdog(trial.conn):
                value = action()
        except Exception as error:
            savepoint.rollback()
            if is_database_error(error):
                raise LearnerSqlError(error, sql) from error
            raise
        savepoint.commit()
        restore_settings(trial.conn, before, refuse_planner_settings=self.kind == "plan")
        seconds = time.perf_counter() - started
        if seconds > SLOW_ANSWER_S and trial.script is not None:
            trial.script.notes.append(f"(Your SQL itself took {seconds:.1f} s of this check.)")
        return value

    def sql_failure(self, trial: Trial, failure: LearnerSqlError) -> str:
        """The server's message (with where in the SQL); `with_advice` adds what matches it."""
        trial.error = failure.error
        return self.with_advice(trial, f"your SQL failed: {short_message(failure.error, failure.sql)}")

    def with_advice(self, trial: Trial, problem: str) -> str:
        """The problem with the advice of every error hint that matches a server message in it (the learner's own
        statement failed, or a probe of the schema did)."""
        advice = []
        for hint in self.error_hints:
            if hint.applies(problem):
                said = hint.say(trial)
                if said:
                    advice.append(said)
                if hint.replaces_server_hint:
                    problem = re.sub(r"\nHINT: [^\n]*", "", problem)
        return problem + (("\n" + "\n".join(advice)) if advice else "")

    def diagnose(self, trial: Trial, problem: str) -> str:
        """A wrong answer's problem, with what the diagnoses found (they run in the same transaction) and the
        advice for any server message in it."""
        found = []
        for diagnosis in self.diagnoses:
            try:
                said = diagnosis(trial)
            except Exception:  # a diagnosis must never hide the verdict
                said = None
            if said:
                found.append(said)
        return self.with_advice(trial, problem + ("" if not found else " " + " ".join(found)))

    def _cache_key(self, key: str) -> tuple[Any, ...]:
        return (self.lesson, self.name, key, repr(self.solution_answer), self.setup)

    def cached(self, conn: Connection, key: str, compute: Callable[[], T]) -> tuple[T, bool]:
        """(the reference value, whether it came from the cache); see ReferenceCache."""
        database, next_xid = REFERENCES.state(conn)
        entry = REFERENCES.get(self._cache_key(key), database)
        if entry is not None:
            return entry.value, True
        value = compute()
        REFERENCES.put(self._cache_key(key), database, value, next_xid)
        return value, False

    def cache_may_be_stale(self, conn: Connection, key: str) -> bool:
        database, next_xid = REFERENCES.state(conn)
        entry = REFERENCES.get(self._cache_key(key), database)
        return entry is not None and entry.next_xid != next_xid

    def refresh(self, conn: Connection, key: str, compute: Callable[[], T]) -> T:
        database, next_xid = REFERENCES.state(conn)
        value = compute()
        REFERENCES.put(self._cache_key(key), database, value, next_xid)
        return value

    # -- what the learner is shown ---------------------------------------------------------------------

    def solution_text(self) -> str:
        """Exactly what solution() shows; a test runs this very text and checks that it passes."""
        if isinstance(self.solution_answer, str):
            return self.solution_answer
        raise TypeError(f"{self.title}: a solution must be source text (so that what is shown is what is proven)")


__all__ = ["Case", "Check", "ErrorHint", "Exercise", "GENERAL_ERROR_HINTS", "LearnerSqlError", "Mistake", "NotAttempted",
           "REFERENCES", "ReferenceCache", "Trial", "Verdict"]
