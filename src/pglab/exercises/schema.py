"""Schema exercises: the learner's DDL runs in the checker's transaction (rolled back afterwards); requirements
probe what the schema then accepts and rejects, and what the catalog says, so every correct spelling passes."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from .base import Check, ErrorHint, Exercise, LearnerSqlError, Trial, Verdict
from .learner_sql import (
    prepare, refuse_changes_to_the_dataset, rolled_back, run_script,
)
from .probes import violating_row

_CHECK_VIOLATED = ErrorHint(r"check constraint .* is violated by some row", violating_row)


class SchemaExercise(Exercise):
    kind = "schema"
    kind_label = "a schema change: the checker probes what your tables accept and reject"

    def __init__(self, lesson: str, name: str, *, requirements: Sequence[Check], may_analyze: Sequence[str] = (),
                 **kwargs: Any) -> None:
        """may_analyze: the tables (the checker's own) an answer may ANALYZE; the lesson's tables never."""
        super().__init__(lesson, name, **kwargs)
        self.may_analyze = tuple(may_analyze)
        self.requirements = list(requirements)
        self.error_hints.insert(len(self.error_hints) - 5, _CHECK_VIOLATED)  # after the lesson's own hints

    def judge(self, engine: Engine, answer: Any) -> Verdict:
        script = prepare(answer)
        refuse_changes_to_the_dataset(script, may_analyze=self.may_analyze)
        with rolled_back(engine) as conn:
            if self.setup:
                run_script(conn, self.setup)
            trial = Trial(conn, answer, script)
            try:
                self.run_learner(trial, script.text, guard_lesson_tables=True)
            except LearnerSqlError as failure:
                return Verdict(self.sql_failure(trial, failure), notes=script.notes)
            problems = []
            for requirement in self.requirements:
                problem = requirement(trial)
                if problem:
                    problems.append(problem)
                    if "canceling statement" in problem:
                        break  # every later probe would wait as long again

            if not problems:
                return Verdict(None, notes=script.notes)
            more = f" ({len(problems) - 1} more to fix after that)" if len(problems) > 1 else ""
            return Verdict(self.diagnose(trial, problems[0] + more), notes=script.notes)


__all__ = ["SchemaExercise"]
