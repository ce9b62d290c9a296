"""Every lesson's exercises, and the kinds they are declared in.

A lesson's module lesson_NN.py defines EXERCISES: declarations of the kinds below (task, hints, solution,
mistakes, alternatives), with requirements, diagnoses and error hints as plain functions of a Trial.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from .base import Case, Check, ErrorHint, Exercise, Mistake, Since, Trial
from .bound import BoundExercise, LessonExercises
from .dataloader import BatchFunctionExercise
from .feedback import Feedback
from .migration import MigrationExercise
from .plan import PlanExercise, no_node, no_seq_scan_on, reads_at_most, uses_index_named, uses_index_on
from .probes import accepted_values, accepts, dataset_indexes_only, default_evaluated_per_insert, has_column, has_index, probe, probe_value, rejects
from .result import ResultExercise
from .schema import SchemaExercise
from .statements import StatementCountExercise, as_list, counted_by_value, lists_in_any_order, soft_deleted_keys, sorted_list

if TYPE_CHECKING:
    import pandas

KINDS = (ResultExercise, SchemaExercise, PlanExercise, StatementCountExercise, BatchFunctionExercise, MigrationExercise)

__all__ = [
    "BatchFunctionExercise", "BoundExercise", "Case", "Check", "ErrorHint", "Exercise", "Feedback", "KINDS",
    "LessonExercises", "MigrationExercise", "Mistake", "Since", "PlanExercise", "ResultExercise", "SchemaExercise", "StatementCountExercise",
    "Trial", "accepted_values", "accepts", "dataset_indexes_only", "all_exercises", "counted_by_value", "default_evaluated_per_insert", "for_lesson",
    "has_column", "has_index", "listing", "lists_in_any_order", "no_node", "no_seq_scan_on", "probe", "probe_value",
    "as_list", "reads_at_most", "rejects", "soft_deleted_keys", "sorted_list", "uses_index_named", "uses_index_on",
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


def listing() -> "pandas.DataFrame":
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
