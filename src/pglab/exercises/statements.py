"""Statement-count exercises: the learner writes a Python function of an ORM session; it must return what
the reference returns, sending at most N statements (the N+1 pattern fails by count).

Solutions (and mistakes, when they are code) are source text: the checker runs exactly the text that
solution() shows, in a fresh namespace, as a learner pasting it would. The session joins the checker's
transaction (its commit() only releases a savepoint), so nothing an answer does outlives the check.
"""
from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from ..querycount import StatementLog
from ..errors import is_database_error, short_message
from .base import Exercise, LearnerSqlError, NotAttempted, Trial, Verdict
from .guard import SAVEPOINT_LOST, Watch, escape_problem, guarded
from .learner_sql import ScriptRefused, rolled_back, run_script


def compile_answer(code: str, name: str) -> Callable[..., Any]:
    """Run source text in a fresh namespace, as a notebook cell would, and return the function it defines."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(textwrap.dedent(code), f"<{name}>", "exec"), namespace)  # noqa: S102 - our own solution text
    found = namespace.get(name)
    if not callable(found):
        raise TypeError(f"the code does not define a function named {name}")
    return found


def _unwritten_function(session: Any) -> Any:
    raise NotImplementedError  # your code here


def lists_in_any_order(value: Any) -> Any:
    """Normalise {key: [items]} so that the order inside each list does not matter (for ORM answers)."""
    if not isinstance(value, dict):
        return value
    return {
        str(key): sorted(str(item) for item in items) if isinstance(items, (list, tuple, set)) else items
        for key, items in value.items()
    }


def counted_by_value(value: Any) -> Any:
    """Normalise {key: number}: any mapping type, number types compared by value."""
    return dict(Counter(value)) if isinstance(value, dict) else value


def sorted_list(value: Any) -> Any:
    """For a task that leaves the order free: any order of the items passes."""
    return sorted(value) if isinstance(value, (list, tuple, set)) else value


def as_list(value: Any) -> Any:
    """For a task that asks for an order: a list or tuple, compared item by item as returned."""
    return list(value) if isinstance(value, (list, tuple)) else value


def describe_difference(got: Any, expected: Any) -> str:
    """The first difference, named precisely, with the likely cause when it is one the lessons teach."""
    if isinstance(expected, dict) and isinstance(got, dict):
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing:
            return f"Missing key {missing[0]!r} ({len(missing)} missing in all)."
        if extra:
            return f"Unexpected key {extra[0]!r} ({len(extra)} unexpected in all)."
        for key in expected:
            if got[key] != expected[key]:
                return f"For {key!r} you returned {_short(got[key])}, expected {_short(expected[key])}.{_why(got[key], expected[key])}"
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        if len(got) != len(expected):
            return f"You returned {len(got)} items, expected {len(expected)}.{_why(got, expected)}"
        for position, (mine, theirs) in enumerate(zip(got, expected), start=1):
            if mine != theirs:
                return f"Item {position} is {_short(mine)}, expected {_short(theirs)}.{_why(got, expected)}"
    if type(got) is not type(expected):
        return f"You returned a {type(got).__name__}, expected a {type(expected).__name__}."
    return f"You returned {_short(got)}."


def _why(got: Any, expected: Any) -> str:
    import uuid

    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        if got and expected and isinstance(got[0], uuid.UUID) and isinstance(expected[0], str):
            return " You returned UUID objects; the task asks for strings: str(id)."
        if sorted(map(str, got)) == sorted(map(str, expected)):
            return " The same items in another order: sort them as the task asks."
        if len(got) > len(expected) and len(set(map(str, got))) < len(got):
            return " Some items come more than once: a JOIN repeats a row for every match."
    if (isinstance(got, int) and isinstance(expected, int) and not isinstance(got, bool)
            and not isinstance(expected, bool) and got > expected):
        return " Too many: does a JOIN multiply the rows you count?"
    return ""


def _short(value: Any, width: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _without_savepoints(log: StatementLog) -> StatementLog:
    """The session's savepoints (its commit() inside the checker's transaction) are the checker's, not the answer's."""
    kept = [i for i, s in enumerate(log.statements)
            if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))]
    return StatementLog([log.statements[i] for i in kept], [log.parameters[i] for i in kept],
                        [log.rows[i] for i in kept])


# Rows read in this transaction: the rows its sequential scans read and the entries its index scans returned, from
# the current transaction's own counters (exact, whatever else the server does).
_ROWS_READ = """
SELECT c.relname, pg_stat_get_xact_tuples_returned(c.oid)
       + coalesce((SELECT sum(pg_stat_get_xact_tuples_returned(i.indexrelid)) FROM pg_index AS i
                   WHERE i.indrelid = c.oid), 0)
FROM pg_class AS c WHERE c.relname = ANY(%(tables)s) AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)
"""


class StatementCountExercise(Exercise):
    """The answer is a function(session) -> result; at most `max_statements` statements allowed, and with
    `reads_at_most={table: rows}` at most that many rows of a table read (a right answer that reads everything to
    return a page fails, with `reads_why` as the reason)."""

    kind = "statements"
    kind_label = "ORM code: the checker runs your function and counts the statements it sends"
    language = "python"
    blank_answer = staticmethod(_unwritten_function)

    def __init__(self, lesson: str, name: str, *, max_statements: int,
                 normalise: Callable[[Any], Any] = lambda value: value, reads_at_most: dict[str, int] | None = None,
                 reads_why: str = "", order_must_be_total: bool = False, **kwargs: Any) -> None:
        """order_must_be_total: the function is run a second time with index scans off, and must return the same
        (an ORDER BY that leaves ties to the plan gives them in another order then)."""
        super().__init__(lesson, name, **kwargs)
        self.order_must_be_total = order_must_be_total
        self.max_statements = max_statements
        self.normalise = normalise
        self.reads_at_most = dict(reads_at_most or {})
        self.reads_why = reads_why
        self._reference: Callable[..., Any] | None = None

    def is_blank(self, answer: Any) -> bool:
        return answer is None or answer is ...

    def callable_of(self, answer: Any) -> Callable[..., Any]:
        if isinstance(answer, str):
            return compile_answer(answer, self.answer_name)
        return answer

    def reference_function(self) -> Callable[..., Any]:
        if self._reference is None:
            self._reference = compile_answer(self.solution_answer, self.answer_name)
        return self._reference

    def run(self, engine: Engine, function: Callable[..., Any], *, without_index_scans: bool = False
            ) -> tuple[Any, StatementLog, dict[str, int]]:
        """The function's normalised result, the statements it sent and the rows it read of the budgeted tables,
        in a transaction that is rolled back."""
        from sqlalchemy.orm import Session

        with rolled_back(engine) as conn:
            if self.setup:
                run_script(conn, self.setup)
            if without_index_scans:
                for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
                    conn.exec_driver_sql(f"SET LOCAL {setting} = off")
            before = self._rows_read(conn)
            watch = Watch()
            try:
                with guarded(conn, watch), \
                        Session(bind=conn, join_transaction_mode="create_savepoint") as session:
                    try:
                        value = function(session)
                    except NotImplementedError as error:
                        raise NotAttempted from error
                    problem = escape_problem(conn, watch)
                    if problem:
                        raise ScriptRefused(problem)
                    value = self._normalised(value)  # lazy loads triggered while normalising count too
            except Exception as error:
                if watch.refused:
                    raise ScriptRefused(escape_problem(conn, watch) or "") from error
                if is_database_error(error) and not SAVEPOINT_LOST.search(str(error)):
                    raise LearnerSqlError(error, "") from error
                if SAVEPOINT_LOST.search(str(error)):
                    raise ScriptRefused(
                        "your function released or rolled back the checker's savepoint (sa_savepoint_...), which "
                        "ends the session's transaction under it: leave the checker's savepoints alone.") from error
                raise
            after = self._rows_read(conn)
        return value, _without_savepoints(watch.log), {t: after.get(t, 0) - before.get(t, 0) for t in after}

    def _normalised(self, value: Any) -> Any:
        try:
            return self.normalise(value)
        except Exception as error:  # the checker's own code failed on what the answer returned
            raise ScriptRefused(
                f"the checker could not read what your function returned ({_short(value, 100)}): "
                f"{type(error).__name__}: {error}. Return plain values (strings, numbers, lists, dicts), "
                "as the task describes, not ORM objects.") from error

    def _rows_read(self, conn: Any) -> dict[str, int]:
        if not self.reads_at_most:
            return {}
        rows = conn.exec_driver_sql(_ROWS_READ, {"tables": list(self.reads_at_most)}).all()
        return {str(table): int(read) for table, read in rows}

    def judge(self, engine: Engine, answer: Any) -> Verdict:
        function = self.callable_of(answer)
        if not callable(function):
            return Verdict("pass your function itself (its name, without calling it).")
        try:
            got, log, read = self.run(engine, function)
        except LearnerSqlError as failure:
            with rolled_back(engine) as conn:
                trial = Trial(conn, answer, error=failure.error)
                return Verdict(self.with_advice(trial, f"your function's SQL failed: {short_message(failure.error)}"))
        with rolled_back(engine) as conn:
            expected, from_cache = self.cached(conn, "value", lambda: self.run(engine, self.reference_function())[0])
            stale = from_cache and got != expected and self.cache_may_be_stale(conn, "value")
        if stale:
            with rolled_back(engine) as conn:
                expected = self.refresh(conn, "value", lambda: self.run(engine, self.reference_function())[0])
        if got != expected:
            problem = f"your function returned a different result. {describe_difference(got, expected)}"
            with rolled_back(engine) as conn:
                return Verdict(self.diagnose(Trial(conn, answer, value=got, expected_value=expected,
                                                   statements=log.statements), problem))
        if log.count > self.max_statements:
            return Verdict(
                f"your function sent {log.count} statements; at most {self.max_statements} are needed. One shape "
                "repeated many times is the N+1 pattern:", detail=log.summary())
        if self.order_must_be_total:
            again, _, _ = self.run(engine, function, without_index_scans=True)
            if again != got:
                return Verdict(
                    "your function returned another result when PostgreSQL chose another plan (index scans off): "
                    f"{describe_difference(again, got)} Rows that tie on your ORDER BY come in whatever order the plan "
                    "gives. Add a unique column (the id) at the end of the ORDER BY, so that the order is total.")
        over = {table: n for table, n in read.items() if n > self.reads_at_most.get(table, n)}
        if over:
            table, n = next(iter(over.items()))
            return Verdict(f"the result is right, but your function read {n:,} rows of {table} (at most "
                           f"{self.reads_at_most[table]:,} are needed)" + (f": {self.reads_why}" if self.reads_why else "."),
                           detail=log.summary())
        return Verdict(None)


def soft_deleted_keys(trial: Trial) -> str | None:
    """A result keyed by email that has a soft-deleted user's email: say so (lessons 03 and 04 teach it)."""
    if not isinstance(trial.value, dict) or not trial.value:
        return None
    assert trial.conn is not None
    hidden = trial.conn.exec_driver_sql(
        "SELECT email FROM users WHERE deleted_at IS NOT NULL AND email = ANY(%(emails)s) ORDER BY email",
        {"emails": [str(key) for key in trial.value]},
    ).scalars().all()
    if not hidden:
        return None
    return (f"Your result has {hidden[0]!r}, a soft-deleted user (deleted_at is set): the ORM hides such users, so "
            "leave out include_deleted (in hand-written SQL: WHERE deleted_at IS NULL).")


__all__ = ["StatementCountExercise", "compile_answer", "counted_by_value", "describe_difference",
           "lists_in_any_order", "sorted_list", "as_list", "soft_deleted_keys"]
