"""Every exercise of every lesson: its solution passes, each plausible wrong answer fails with the
specific feedback the exercise promises, and an empty answer reports 'not attempted'."""
from __future__ import annotations

import pytest

from pglab.exercises import Exercise, Since, all_exercises

EXERCISES = all_exercises()


def _id(exercise: Exercise) -> str:
    return f"{exercise.lesson}.{exercise.name}"


def test_every_lesson_module_has_exercises_of_two_kinds():
    by_lesson: dict[str, set[str]] = {}
    for exercise in EXERCISES:
        by_lesson.setdefault(exercise.lesson, set()).add(exercise.kind)
    assert by_lesson, "no exercises registered"
    for lesson, kinds in by_lesson.items():
        assert len(kinds) >= 2, f"lesson {lesson} has exercises of one kind only: {kinds}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=_id)
def test_the_solution_shown_is_the_solution_that_passes(exercise: Exercise, lesson_factory, capsys):
    """solution() shows solution_text(); that very text, run in a fresh namespace (for Python kinds, as a learner
    pasting it into a cell would), passes."""
    from pglab.exercises import BoundExercise

    BoundExercise(exercise, None).solution()  # type: ignore[arg-type]
    shown = capsys.readouterr().out
    assert exercise.solution_text() in shown
    lesson = lesson_factory(exercise.lesson)
    feedback = exercise.evaluate(lesson.engine, exercise.solution_text())
    assert feedback.passed, feedback.message


@pytest.mark.parametrize("exercise", EXERCISES, ids=_id)
def test_right_answers_spelled_other_ways_pass(exercise: Exercise, lesson_factory):
    lesson = lesson_factory(exercise.lesson)
    for answer in exercise.alternatives:
        if isinstance(answer, Since):
            if lesson.server_version_num() < answer.server_version_num:
                continue
            answer = answer.answer
        feedback = exercise.evaluate(lesson.engine, answer)
        assert feedback.passed, f"rejected a right answer {answer!r}: {feedback.message}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=_id)
def test_plausible_wrong_answers_fail_with_specific_feedback(exercise: Exercise, lesson_factory):
    assert len(exercise.mistakes) >= 2, "each exercise needs at least two plausible wrong answers"
    lesson = lesson_factory(exercise.lesson)
    for mistake in exercise.mistakes:
        feedback = exercise.evaluate(lesson.engine, mistake.answer)
        assert not feedback.passed, f"accepted a wrong answer: {mistake.answer!r}"
        assert feedback.attempted
        assert mistake.expect in feedback.message, f"feedback {feedback.message!r} lacks {mistake.expect!r}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=_id)
def test_unattempted_exercise_says_so(exercise: Exercise, lesson_factory):
    lesson = lesson_factory(exercise.lesson)
    feedback = exercise.evaluate(lesson.engine, exercise.blank_answer)
    assert not feedback.passed and not feedback.attempted
    assert "not attempted" in feedback.message


@pytest.mark.parametrize("exercise", EXERCISES, ids=_id)
def test_exercise_has_task_hints_and_solution(exercise: Exercise):
    assert exercise.task.strip() and exercise.hints and exercise.solution_text()
