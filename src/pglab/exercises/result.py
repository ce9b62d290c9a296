"""Result exercises: the learner's query must return the reference query's rows (see results.py for how
values compare). Order matters only when the task asks for it, and then only as far as its sort keys go."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection, Engine

from .base import Case, Exercise, LearnerSqlError, Trial, Verdict
from .learner_sql import Script, ScriptRefused, prepare, read_only_from_here, rolled_back, run_script, split
from .learner_sql import Statement
from .results import (
    Comparison, ResultSet, SortKey, compare, fetch, has_top_level_limit, has_top_level_order, sort_keys_of,
    with_order_columns,
)


def refuse_analyze(script: Script) -> None:
    """A query exercise reads: ANALYZE would write statistics, and the row count it writes into pg_class in place
    outlives the rollback."""
    if any(statement.kind == "VacuumStmt" for statement in script.statements):
        raise ScriptRefused(
            "this exercise asks for a query, and ANALYZE writes: the table's row count, which it writes into pg_class "
            "in place, would outlive the checker's rollback. Leave ANALYZE out.")


class ResultExercise(Exercise):
    kind = "result"
    kind_label = "a query: its rows are compared with the expected ones"

    def __init__(self, lesson: str, name: str, *, ordered: bool = False,
                 order_by: Sequence[str] | None = None, check_names: bool = False, typed: Sequence[str] = (),
                 tolerance: float | None = None, cases: Sequence[Case] = (),
                 variations: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        """ordered: the task asks for an order; order_by: its sort keys as reference column names ("posts DESC"),
        derived from the reference's ORDER BY when not given; typed: reference columns whose type the task names;
        tolerance: a relative tolerance for every number, where the task allows one (floats get 1e-9 anyway);
        cases: situations an answer with `:name` parameters is checked in (each must pass); variations: (label, SQL)
        changes to the data after which a right answer must still be right (a hard-coded result is not)."""
        super().__init__(lesson, name, **kwargs)
        self.cases = list(cases)
        self.ordered = ordered or bool(order_by)
        self.order_by = list(order_by) if order_by else None
        self.check_names = check_names
        self.typed = tuple(typed)
        self.tolerance = tolerance
        self.variations = list(variations)

    # -- the reference ---------------------------------------------------------------------------------

    def reference(self, conn: Connection, params: dict[str, Any] | None = None) -> ResultSet:
        """The reference's rows; for an ordered task whose ORDER BY uses values it does not output, those values
        too (the reference run again with them added as columns), so that ties on them can be left free."""
        statements = split(self.solution_answer)
        if self.ordered and not self.order_by:
            plain = fetch(conn, statements, params=params)
            if sort_keys_of(statements[-1], plain.names) is not None:
                return plain
            augmented = with_order_columns(statements[-1])
            if augmented is None:
                return plain
            text, added = augmented
            return fetch(conn, [*statements[:-1], Statement(text, "SelectStmt")], key_columns=added, params=params)
        return fetch(conn, statements, params=params)

    def sort_keys(self, expected: ResultSet) -> list[SortKey] | None:
        if self.order_by:
            names = [n.lower() for n in expected.names]
            keys = []
            for spec in self.order_by:
                column, _, direction = spec.partition(" ")
                keys.append(SortKey(names.index(column.lower()), direction.strip().upper() == "DESC"))
            return keys
        return sort_keys_of(split(self.solution_answer)[-1], expected.names)

    def order_description(self) -> str:
        if self.order_by:
            return "ORDER BY " + ", ".join(self.order_by)
        node = split(self.solution_answer)[-1].node
        if node is None or not getattr(node, "sortClause", None):
            return ""
        from pglast.stream import RawStream

        return "ORDER BY " + ", ".join(RawStream()(sort) for sort in node.sortClause)

    def comparison(self, expected: ResultSet, answer_script: Script | None = None, got: ResultSet | None = None) -> Comparison:
        learner_sort = None
        if self.ordered and answer_script is not None and got is not None:
            learner_sort = sort_keys_of(answer_script.last, got.names)
        return Comparison(ordered=self.ordered, sort_keys=self.sort_keys(expected) if self.ordered else None,
                          learner_sort=learner_sort, check_names=self.check_names, typed=self.typed,
                          tolerance=self.tolerance, order_description=self.order_description() if self.ordered else "")

    # -- judging ---------------------------------------------------------------------------------------

    def fetch_learner(self, trial: Trial, script: Script) -> ResultSet:
        assert trial.conn is not None
        return self.learner_step(trial, script.text,
                                 lambda: fetch(trial.conn, script.statements, params=trial.params))  # type: ignore[arg-type]

    def case_params(self, conn: Connection) -> list[tuple[Case | None, dict[str, Any] | None]]:
        if not self.cases:
            return [(None, None)]
        return [(case, dict(conn.exec_driver_sql(case.params).mappings().one())) for case in self.cases]

    def judge(self, engine: Engine, answer: Any) -> Verdict:
        script = prepare(answer)
        refuse_analyze(script)
        with rolled_back(engine) as conn:
            if self.setup:
                run_script(conn, self.setup)
            situations = []
            for case, params in self.case_params(conn):
                key = f"result {case.label}" if case else "result"
                expected, from_cache = self.cached(conn, key, lambda: self.reference(conn, params))
                situations.append((case, params, key, expected, from_cache))
            read_only_from_here(conn)  # a stray DELETE in the answer fails at once
            for case, params, key, expected, from_cache in situations:
                trial = Trial(conn, answer, script, expected=expected, case=case, params=params)
                try:
                    trial.result = self.fetch_learner(trial, script)
                except LearnerSqlError as failure:
                    return Verdict(self.sql_failure(trial, failure), notes=script.notes)
                problem = self.problem(trial)
                if problem and from_cache and self.cache_may_be_stale(conn, key):
                    trial.expected = self.refresh(conn, key, lambda: self.reference(conn, params))
                    problem = self.problem(trial)
                if problem:
                    problem = self.diagnose(trial, problem)
                    return Verdict(f"{case.label}: {problem}" if case else problem, notes=script.notes)
        for label, change in self.variations:
            problem = self._problem_after(engine, script, change)
            if problem:
                return Verdict(
                    f"your query is right for the data as they are, but not after {label}: {problem} A query must "
                    "compute its answer from the tables, whatever they hold (are values of this database written "
                    "into it?).", notes=script.notes)
        return Verdict(None, notes=script.notes)

    def _problem_after(self, engine: Engine, script: Script, change: str) -> str | None:
        """The answer judged again after a change to the data (rolled back), against a fresh reference."""
        with rolled_back(engine) as conn:
            if self.setup:
                run_script(conn, self.setup)
            run_script(conn, change)
            (case, params), *_ = self.case_params(conn)
            expected = self.reference(conn, params)
            read_only_from_here(conn)
            trial = Trial(conn, script.text, script, expected=expected, case=case, params=params)
            try:
                trial.result = self.fetch_learner(trial, script)
            except LearnerSqlError as failure:
                return self.sql_failure(trial, failure)
            return self.problem(trial)

    def problem(self, trial: Trial) -> str | None:
        assert trial.result is not None and trial.expected is not None and trial.script is not None
        problem = compare(trial.result, trial.expected, self.comparison(trial.expected, trial.script, trial.result))
        if not self.ordered:
            return problem
        # Without ORDER BY the order is the plan's: it matters when there are several rows, or when a LIMIT picks them.
        unsorted = has_top_level_order(trial.script.last) is False and (
            len(trial.expected.rows) > 1 or has_top_level_limit(trial.script.last))
        if problem is None and unsorted:
            return ("your rows come in the right order this time, but your query has no ORDER BY at its outer "
                    "level, so PostgreSQL may return them in any other order (a different plan, a table that has "
                    "changed): say the order you want with ORDER BY.")
        if problem and unsorted:
            return (problem + " Your query has no ORDER BY at its outer level: without one, the order of the rows "
                    "(and, with LIMIT, which rows you get) is whatever the plan happens to produce.")
        return problem


__all__ = ["ResultExercise"]
