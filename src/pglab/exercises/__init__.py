"""Every lesson's exercises. Each module lesson_NN.py defines EXERCISES, a list of Exercise objects."""
from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas

from .base import (
    BoundExercise, Exercise, Feedback, LessonExercises, Mistake, PlanExercise, ResultExercise,
    SchemaExercise, StatementCountExercise,
)

__all__ = [
    "BoundExercise", "Exercise", "Feedback", "LessonExercises", "Mistake", "PlanExercise",
    "ResultExercise", "SchemaExercise", "StatementCountExercise", "all_exercises", "for_lesson", "listing",
]


def for_lesson(lesson_id: str) -> list[Exercise]:
    """The exercises of lesson '01_table_conventions' live in lesson_01.py (none if there is no module)."""
    number = lesson_id[:2]
    try:
        module = importlib.import_module(f"{__name__}.lesson_{number}")
    except ModuleNotFoundError as error:
        if error.name == f"{__name__}.lesson_{number}":
            return []
        raise
    return list(module.EXERCISES)


def listing() -> "pandas.DataFrame":  # noqa: F821
    """Every exercise of the lab: lesson, name, kind (for tests, tools and instructors)."""
    import pandas

    return pandas.DataFrame(
        [(e.lesson, e.name, e.kind) for e in all_exercises()], columns=["lesson", "exercise", "kind"]
    )


def all_exercises() -> list[Exercise]:
    found: list[Exercise] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("lesson_"):
            found.extend(importlib.import_module(f"{__name__}.{info.name}").EXERCISES)
    return found
