"""The exercise machinery itself: what counts as the same result, what feedback says, what it never does.

Result comparisons are tested on real queries (the server's types, psycopg's loading), one test per class of
wrong verdict found by the reviews (issue 9) and by the pgexercises corpus (issue 16)."""
from __future__ import annotations

import pytest

from pglab.exercises import Feedback, Mistake, ResultExercise

SOLUTION = "SELECT * FROM (VALUES ('a@x', 3), ('b@x', 2), ('c@x', 1)) AS t(email, posts) ORDER BY posts DESC"


def _exercise(solution: str, **options) -> ResultExercise:
    return ResultExercise("00_getting_started", "probe", task="t", hints=["h"], solution=solution, mistakes=[],
                          **options)


def _verdict(lab, solution: str, answer: str, **options) -> Feedback:
    return _exercise(solution, **options).evaluate(lab.engine, answer)


@pytest.fixture(scope="module")
def lab(lesson_factory):
    return lesson_factory("00_getting_started")


# ---------------------------------------------------------------- rows, columns, names


def test_same_rows_in_any_order_and_any_alias_match_when_order_is_free(lab):
    answer = "SELECT * FROM (VALUES ('c@x', 1), ('a@x', 3), ('b@x', 2)) AS t(e, n)"
    assert _verdict(lab, SOLUTION, answer).passed


def test_columns_with_the_same_names_in_another_order_match(lab):
    answer = "SELECT posts, email FROM (VALUES ('a@x', 3), ('b@x', 2), ('c@x', 1)) AS t(email, posts) ORDER BY 1 DESC"
    assert _verdict(lab, SOLUTION, answer, ordered=True).passed


def test_two_columns_of_the_same_name_are_lined_up_by_place_not_by_name(lab):
    solution = "SELECT 1 AS n, 2 AS n"
    assert _verdict(lab, solution, "SELECT 1 AS n, 2 AS n").passed
    assert not _verdict(lab, solution, "SELECT 2 AS n, 1 AS n").passed


def test_feedback_names_the_first_missing_and_unexpected_row_and_counts(lab):
    answer = "SELECT * FROM (VALUES ('a@x', 3), ('b@x', 2), ('z@x', 9), ('y@x', 1)) AS t(email, posts)"
    message = _verdict(lab, SOLUTION, answer).message
    assert "your result has 4 rows, expected 3" in message
    assert "first missing row: (email='c@x', posts=1)" in message
    assert "first unexpected row: (email='z@x', posts=9)" in message


def test_wrong_number_of_columns_is_named(lab):
    message = _verdict(lab, SOLUTION, "SELECT 'a@x' AS email").message
    assert "1 column (email), expected 2 (email, posts)" in message


# ---------------------------------------------------------------- order


def test_order_is_checked_when_the_task_asks_for_it(lab):
    answer = "SELECT * FROM (VALUES ('b@x', 2), ('a@x', 3), ('c@x', 1)) AS t(email, posts) ORDER BY email DESC"
    message = _verdict(lab, SOLUTION, answer, ordered=True).message
    assert "not in the order asked for (ORDER BY posts DESC)" in message
    assert "row 1 should be (email='a@x', posts=3)" in message


def test_tied_rows_may_come_in_any_order(lab):
    solution = ("SELECT * FROM (VALUES ('a', 2), ('b', 2), ('c', 1)) AS t(name, n) ORDER BY n DESC, name")
    reordered = "SELECT * FROM (VALUES ('b', 2), ('a', 2), ('c', 1)) AS t(name, n) ORDER BY n DESC, name DESC"
    assert not _verdict(lab, solution, reordered, ordered=True).passed  # the task's keys include name
    assert _verdict(lab, solution, reordered, order_by=["n DESC"]).passed  # ties on n are free
    tied_solution = "SELECT * FROM (VALUES ('a', 2), ('b', 2), ('c', 1)) AS t(name, n) ORDER BY n DESC"
    assert _verdict(lab, tied_solution, reordered, ordered=True).passed  # derived from its ORDER BY


def test_a_right_order_without_order_by_is_not_guaranteed(lab):
    answer = "SELECT * FROM (VALUES ('a@x', 3), ('b@x', 2), ('c@x', 1)) AS t(email, posts)"
    message = _verdict(lab, SOLUTION, answer, ordered=True).message
    assert "no ORDER BY" in message


def test_ascending_instead_of_descending_is_named(lab):
    solution = "SELECT n FROM generate_series(1, 10) AS n ORDER BY n DESC LIMIT 3"
    message = _verdict(lab, solution, "SELECT n FROM generate_series(1, 10) AS n ORDER BY n LIMIT 3", ordered=True).message
    assert "ascending order of n" in message and "DESC" in message


# ---------------------------------------------------------------- values as PostgreSQL compares them


def test_date_and_timestamp_of_the_same_instant_are_equal(lab):
    solution = "SELECT date '2012-10-01' AS day"
    assert _verdict(lab, solution, "SELECT timestamp '2012-10-01 00:00'").passed
    assert _verdict(lab, solution, "SELECT timestamptz '2012-10-01 00:00+00'").passed
    assert not _verdict(lab, solution, "SELECT date '2012-10-02'").passed


def test_generate_series_of_timestamptz_matches_dates(lab):
    solution = "SELECT d::date AS day FROM generate_series(date '2012-10-01', date '2012-10-03', interval '1 day') AS d"
    answer = "SELECT * FROM generate_series(date '2012-10-01', date '2012-10-03', interval '1 day')"
    assert _verdict(lab, solution, answer).passed


def test_text_that_looks_like_a_timestamp_is_still_text(lab):
    message = _verdict(lab, "SELECT timestamp '2012-08-31 01:00:00' AS t",
                       "SELECT '2012-08-31 01:00:00'::text AS t").message
    assert "text" in message and "timestamp without time zone" in message


def test_a_named_type_is_required_and_said_when_it_is_the_only_difference(lab):
    solution = "SELECT timestamp '2025-01-01 10:00' AS local"
    message = _verdict(lab, solution, "SELECT timestamptz '2025-01-01 10:00+00'", typed=["local"]).message
    assert "the task asks for a timestamp without time zone" in message
    assert _verdict(lab, solution, "SELECT '2025-01-01 10:00'::timestamp(0)", typed=["local"]).passed


def test_booleans_are_not_integers(lab):
    message = _verdict(lab, "SELECT true AS active, false AS banned", "SELECT 1, 0").message
    assert "boolean" in message


def test_nan_equals_nan_and_numbers_compare_by_value(lab):
    assert _verdict(lab, "SELECT 'NaN'::float8 AS x", "SELECT 'NaN'::numeric").passed
    assert _verdict(lab, "SELECT 2.0::numeric AS x, 1/3.0 AS y", "SELECT 2, 1::float8/3").passed
    assert not _verdict(lab, "SELECT 2.5 AS x", "SELECT 2.50001").passed
    assert _verdict(lab, "SELECT 2.5 AS x", "SELECT 2.50001", tolerance=1e-4).passed


def test_intervals_compare_as_postgresql_does(lab):
    assert _verdict(lab, "SELECT interval '1 mon 2 days' AS i", "SELECT interval '32 days'").passed
    assert _verdict(lab, "SELECT interval '1 year' AS i", "SELECT interval '360 days'").passed
    assert not _verdict(lab, "SELECT interval '1 year' AS i", "SELECT interval '365 days'").passed


def test_char_padding_is_ignored_as_postgresql_does(lab):
    assert _verdict(lab, "SELECT 'ab'::text AS s", "SELECT 'ab'::char(4)").passed


# ---------------------------------------------------------------- what a check never does


def test_a_result_exercise_never_changes_data(lab):
    feedback = _verdict(lab, "SELECT count(*) FROM tags", "DELETE FROM tags")
    assert not feedback.passed and "read-only" in feedback.message
    assert lab.value("SELECT count(*) FROM tags") == 300


def test_feedback_shows_once_even_as_the_cells_value(capsys):
    feedback = Feedback(True, "✔ Correct!")
    feedback.show()
    feedback._ipython_display_()
    assert capsys.readouterr().out.count("Correct") == 1


def test_a_script_is_judged_by_its_last_result_and_percent_signs_are_literal(lab):
    solution = "SELECT '2025-03-30 01:30+00'::timestamptz AT TIME ZONE 'Europe/Paris' AS local, '50%' AS share"
    session_zone = ("SET LOCAL TimeZone = 'Europe/Paris';\n"
                    "SELECT '2025-03-30 01:30+00'::timestamptz::timestamp AS local, '50%' AS share;")
    assert _verdict(lab, solution, session_zone).passed
    assert not _verdict(lab, solution, "SET LOCAL TimeZone = 'UTC'").passed


def test_a_colon_in_a_string_is_not_a_parameter(lab):
    assert _verdict(lab, "SELECT 'a:b' AS s", "SELECT 'a:b'").passed


def test_sql_errors_say_where_like_psql(lab):
    message = _verdict(lab, SOLUTION, "SELECT email\nFROM users\nWHERE emial = 'x'").message
    assert 'column "emial" does not exist' in message
    assert "LINE 3: WHERE emial = 'x'" in message and "\n              ^" in message


def test_an_unchanged_database_reuses_the_reference_result(lab):
    exercise = _exercise("SELECT count(*) AS n FROM posts")
    assert exercise.evaluate(lab.engine, "SELECT count(*) FROM posts").passed
    from pglab.exercises.base import REFERENCES

    database, _ = lab.engine.connect().exec_driver_sql(
        "SELECT oid, 1 FROM pg_database WHERE datname = current_database()").one()
    assert REFERENCES.get(exercise._cache_key("result"), database) is not None
    wrong = exercise.evaluate(lab.engine, "SELECT count(*) + 1 FROM posts")
    assert not wrong.passed


def test_mistakes_are_plain_data():
    assert Mistake("SELECT 1", "x") == Mistake("SELECT 1", "x")


def test_an_include_column_used_as_a_key_is_explained(lab):
    from pglab.exercises import PlanExercise, uses_index_on

    exercise = PlanExercise("00_getting_started", "probe_include", task="t", hints=["h"], mistakes=[],
                            solution="CREATE INDEX ON comments (created_at)",
                            target="SELECT * FROM comments WHERE created_at >= '2025-12-30'",
                            plan_requirements=[uses_index_on("comments")])
    message = exercise.evaluate(lab.engine, "CREATE INDEX ON comments (post_id) INCLUDE (created_at)").message
    assert "only as an INCLUDE column" in message and "created_at" in message
