"""The exercise machinery itself: what counts as the same result, what feedback says, what it never does."""
from __future__ import annotations

from pglab.exercises.base import Feedback, ResultExercise, ResultSet, compare_results

EXPECTED = ResultSet(["email", "posts"], [("a@x", 3), ("b@x", 2), ("c@x", 1)])


def test_same_rows_in_any_order_and_any_alias_match_when_order_is_free():
    got = ResultSet(["e", "n"], [("c@x", 1), ("a@x", 3), ("b@x", 2)])
    assert compare_results(got, EXPECTED, ordered=False, check_names=False) is None


def test_columns_with_the_same_names_in_another_order_match():
    got = ResultSet(["posts", "email"], [(3, "a@x"), (2, "b@x"), (1, "c@x")])
    assert compare_results(got, EXPECTED, ordered=True, check_names=False) is None


def test_order_is_checked_when_the_task_asks_for_it():
    got = ResultSet(["email", "posts"], [("b@x", 2), ("a@x", 3), ("c@x", 1)])
    message = compare_results(got, EXPECTED, ordered=True, check_names=False)
    assert message and "not in the order" in message and "row 1 should be (email='a@x', posts=3)" in message


def test_feedback_names_the_first_missing_and_unexpected_row_and_counts():
    got = ResultSet(["email", "posts"], [("a@x", 3), ("b@x", 2), ("z@x", 9), ("y@x", 1)])
    message = compare_results(got, EXPECTED, ordered=False, check_names=False)
    assert message is not None
    assert "your result has 4 rows, expected 3" in message
    assert "first missing row: (email='c@x', posts=1)" in message
    assert "first unexpected row: (email='z@x', posts=9)" in message


def test_wrong_number_of_columns_is_named():
    got = ResultSet(["email"], [("a@x",)])
    assert "1 column (email), expected 2 (email, posts)" in (compare_results(got, EXPECTED, ordered=False, check_names=False) or "")


def test_numbers_compare_by_value_not_type():
    from decimal import Decimal

    from pglab.exercises.base import _normalise

    assert _normalise(Decimal("2.0")) == _normalise(2) == _normalise(2.0)
    assert _normalise(Decimal("0.3333333333")) == _normalise(1 / 3)


def test_a_result_exercise_never_changes_data(lesson_factory):
    lab = lesson_factory("00_getting_started")
    exercise = ResultExercise("00", "probe", task="t", hints=["h"], solution="SELECT count(*) FROM tags", mistakes=[])
    feedback = exercise.evaluate(lab.engine, "DELETE FROM tags")
    assert not feedback.passed and "read-only" in feedback.message
    assert lab.value("SELECT count(*) FROM tags") == 300


def test_feedback_shows_once_even_as_the_cells_value(capsys):
    feedback = Feedback(True, "✔ Correct!")
    feedback.show()
    feedback._ipython_display_()
    assert capsys.readouterr().out.count("Correct") == 1


def test_a_script_is_judged_by_its_last_result_and_percent_signs_are_literal(lesson_factory):
    lab = lesson_factory("00_getting_started")
    exercise = ResultExercise(
        "00", "probe", task="t", hints=["h"], mistakes=[],
        solution="SELECT '2025-03-30 01:30+00'::timestamptz AT TIME ZONE 'Europe/Paris' AS local, '50%' AS share",
    )
    session_zone = (
        "SET LOCAL TimeZone = 'Europe/Paris';\n"
        "SELECT '2025-03-30 01:30+00'::timestamptz::timestamp AS local, '50%' AS share;"
    )
    assert exercise.evaluate(lab.engine, session_zone).passed
    assert not exercise.evaluate(lab.engine, "SET LOCAL TimeZone = 'UTC'").passed
