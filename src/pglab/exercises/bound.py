"""An exercise tied to the lesson's database: what a notebook calls (`ex.NAME.check(answer)`, `.hint()`,
`.solution()`), and what it shows as the cell's value (`ex.NAME`: the task, written once, here)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from .. import progress
from ..display import Message
from .base import Exercise
from .feedback import CodeBlock, Feedback, show


class BoundExercise:
    def __init__(self, exercise: Exercise, engine: Engine) -> None:
        self.exercise = exercise
        self.engine = engine
        self._hints_given = 0

    def check(self, answer: Any) -> Feedback:
        feedback = self.exercise.evaluate(self.engine, answer)
        feedback.show()
        outcome = "passed" if feedback.passed else ("failed" if feedback.attempted else "not attempted")
        progress.record(self.exercise.lesson, self.exercise.name, "check", outcome)
        return feedback

    def hint(self, number: int | None = None) -> None:
        hints = self.exercise.hints
        if number is None:
            number = min(self._hints_given + 1, len(hints))
        number = max(1, min(number, len(hints)))
        self._hints_given = max(self._hints_given, number)
        more = (f" (call ex.{self.exercise.name}.hint() again for the next one)" if number < len(hints)
                else " (that was the last hint)" if len(hints) > 1 else "")
        show(Message(f"Hint {number}/{len(hints)}: {hints[number - 1]}{more}", "info"))
        progress.record(self.exercise.lesson, self.exercise.name, "hint", "shown")

    def solution(self) -> None:
        show(CodeBlock(f"A solution to {self.exercise.name}", self.exercise.solution_text(),
                       getattr(self.exercise, "code_language", self.exercise.language),
                       after=self.exercise.explanation))
        progress.record(self.exercise.lesson, self.exercise.name, "solution", "shown")

    @property
    def task(self) -> str:
        return self.exercise.task

    def _heading(self) -> str:
        label = f" · {self.exercise.kind_label}" if self.exercise.kind_label else ""
        return f"Exercise {self.exercise.name}{label}"

    def _footer(self) -> str:
        return (f"Write your answer in the cell below and run it; ex.{self.exercise.name}.hint() gives a hint, "
                f"ex.{self.exercise.name}.solution() a solution.")

    def __repr__(self) -> str:
        return f"{self._heading()}\n{self.exercise.task}\n{self._footer()}"

    def _repr_markdown_(self) -> str:
        return f"**{self._heading()}**\n\n{self.exercise.task}\n\n*{self._footer()}*"


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


__all__ = ["BoundExercise", "LessonExercises"]
