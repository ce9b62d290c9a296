"""Result exercises: the learner's query must return the reference query's rows (see results.py for how
values compare). Order matters only when the task asks for it, and then only as far as its sort keys go."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection, Engine

from .base import Exercise, LearnerSqlError, Trial, Verdict
from .learner_sql import Script, prepare, read_only_from_here, rolled_back, run_script, split
from .results import (
    DEFAULT_TOLERANCE, Comparison, ResultSet, SortKey, canonical, compare, fetch, has_top_level_order, sort_keys_of,
)


class ResultExercise(Exercise):
    kind = "result"
    kind_label = "a query: its rows are compared with the expected ones"

    def __init__(self, lesson: str, name: str, *, ordered: bool = False,
                 order_by: Sequence[str] | None = None, check_names: bool = False, typed: Sequence[str] = (),
                 tolerance: float = DEFAULT_TOLERANCE, **kwargs: Any) -> None:
        """ordered: the task asks for an order; order_by: its sort keys as reference column names ("posts DESC"),
        derived from the reference's ORDER BY when not given; typed: reference columns whose type the task names."""
        super().__init__(lesson, name, **kwargs)
        self.ordered = ordered or bool(order_by)
        self.order_by = list(order_by) if order_by else None
        self.check_names = check_names
        self.typed = tuple(typed)
        self.tolerance = tolerance

    # -- the reference ---------------------------------------------------------------------------------

    def reference(self, conn: Connection) -> ResultSet:
        return fetch(conn, split(self.solution_answer))

    def sort_keys(self, expected: ResultSet) -> list[SortKey] | None:
        if self.order_by:
            names = [n.lower() for n in expected.names]
            keys = []
            for spec in self.order_by:
                column, _, direction = spec.partition(" ")
                keys.append(SortKey(names.index(column.lower()), direction.strip().upper() == "DESC"))
            return keys
        return sort_keys_of(split(self.solution_answer)[-1], expected.names)

    def comparison(self, expected: ResultSet) -> Comparison:
        return Comparison(ordered=self.ordered, sort_keys=self.sort_keys(expected) if self.ordered else None,
                          check_names=self.check_names, typed=self.typed, tolerance=self.tolerance)

    # -- judging ---------------------------------------------------------------------------------------

    def fetch_learner(self, trial: Trial, script: Script) -> ResultSet:
        assert trial.conn is not None
        return self.learner_step(trial, script.text, lambda: fetch(trial.conn, script.statements))  # type: ignore[arg-type]

    def judge(self, engine: Engine, answer: Any) -> Verdict:
        script = prepare(answer)
        with rolled_back(engine) as conn:
            if self.setup:
                run_script(conn, self.setup)
            expected, from_cache = self.cached(conn, "result", lambda: self.reference(conn))
            read_only_from_here(conn)  # a stray DELETE in the answer fails at once
            trial = Trial(conn, answer, script, expected=expected)
            try:
                trial.result = self.fetch_learner(trial, script)
            except LearnerSqlError as failure:
                return Verdict(self.sql_failure(trial, failure), notes=script.notes)
            problem = self.problem(trial)
            if problem and from_cache and self.cache_may_be_stale(conn, "result"):
                trial.expected = self.refresh(conn, "result", lambda: self.reference(conn))
                problem = self.problem(trial)
            if problem:
                problem = self.diagnose(trial, problem)
            return Verdict(problem, notes=script.notes)

    def problem(self, trial: Trial) -> str | None:
        assert trial.result is not None and trial.expected is not None and trial.script is not None
        how = self.comparison(trial.expected)
        problem, _ = compare(trial.result, trial.expected, how)
        if not self.ordered:
            return problem
        unsorted = has_top_level_order(trial.script.last) is False
        if problem is None and unsorted:
            return ("your rows come in the right order this time, but your query has no ORDER BY at its outer "
                    "level, so PostgreSQL may return them in any other order (a different plan, a table that has "
                    "changed): say the order you want with ORDER BY.")
        if problem and unsorted:
            return (problem + " Your query has no ORDER BY at its outer level: without one, the order of the rows "
                    "(and, with LIMIT, which rows you get) is whatever the plan happens to produce.")
        if problem and how.sort_keys:
            reversed_key = _reversed_direction(trial.result, trial.expected, how)
            if reversed_key:
                return problem + " " + reversed_key
        return problem


def _reversed_direction(got: ResultSet, expected: ResultSet, how: Comparison) -> str | None:
    """The learner's rows sorted the other way round on the first sort key (numbers and times only)."""
    assert how.sort_keys
    key = how.sort_keys[0]
    column = expected.columns[key.column]
    if column.category not in ("N", "D") or len(got.rows) < 2 or key.column >= len(got.columns):
        return None
    values = [canonical(row[key.column], got.columns[key.column], how.time_zone) for row in got.rows]
    values = [v for v in values if v is not None]
    ascending = all(a <= b for a, b in zip(values, values[1:]))
    descending = all(a >= b for a, b in zip(values, values[1:]))
    if key.descending and ascending and not descending:
        return f"Your rows are in ascending order of {column.name}; the task asks for the largest first (DESC)."
    if not key.descending and descending and not ascending:
        return f"Your rows are in descending order of {column.name}; the task asks for the smallest first (ASC)."
    return None


__all__ = ["ResultExercise"]
