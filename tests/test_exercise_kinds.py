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
    assert "sorts by n ascending" in message and "DESC" in message


def test_one_ordered_row_needs_no_order_by_unless_a_limit_picks_it(lab):
    assert _verdict(lab, "SELECT max(n) AS n FROM generate_series(1, 5) n ORDER BY 1",
                    "SELECT max(n) FROM generate_series(1, 5) n", ordered=True).passed
    message = _verdict(lab, "SELECT n FROM generate_series(1, 5) n ORDER BY n DESC LIMIT 1",
                       "SELECT n FROM (SELECT n FROM generate_series(1, 5) n ORDER BY n DESC) s LIMIT 1", ordered=True).message
    assert "no ORDER BY" in message


def test_an_order_by_that_leaves_the_tasks_ties_to_chance_fails(lab):
    solution = "SELECT * FROM (VALUES ('a', 1), ('a', 2), ('b', 1)) AS t(name, n) ORDER BY name, n"
    lucky = "SELECT * FROM (VALUES ('a', 1), ('a', 2), ('b', 1)) AS t(name, n) ORDER BY name"
    message = _verdict(lab, solution, lucky, ordered=True).message
    assert "leaves rows 1 and 2 tied" in message and "chance" in message
    assert _verdict(lab, solution, lucky.replace("ORDER BY name", "ORDER BY 1, 2"), ordered=True).passed


def test_sort_keys_the_reference_does_not_output_still_leave_ties_free(lab):
    solution = "SELECT name FROM (VALUES ('x', 2), ('y', 1), ('z', 1)) AS t(name, n) ORDER BY n"
    assert _verdict(lab, solution, "SELECT name FROM (VALUES ('z', 1), ('y', 1), ('x', 2)) AS t(name, n) ORDER BY n",
                    ordered=True).passed
    assert not _verdict(lab, solution, "SELECT name FROM (VALUES ('x', 2), ('y', 1), ('z', 1)) AS t(name, n) "
                        "ORDER BY n DESC", ordered=True).passed


# ---------------------------------------------------------------- values as PostgreSQL compares them


def test_the_answers_own_time_zone_and_interval_style_count(lab):
    solution = "SELECT timestamp '2012-10-01 00:00' AS ts, interval '1 mon 2 days' AS i"
    for style in ("iso_8601", "sql_standard", "postgres_verbose"):
        assert _verdict(lab, solution, f"SET LOCAL IntervalStyle = '{style}'; "
                        "SELECT timestamp '2012-10-01 00:00', interval '32 days'").passed, style
    assert _verdict(lab, solution, "SET LOCAL TimeZone = 'America/New_York'; "
                    "SELECT timestamptz '2012-10-01 00:00', interval '32 days'").passed
    assert not _verdict(lab, solution, "SELECT timestamptz '2012-10-01 00:00-04', interval '32 days'").passed


def test_integers_and_numerics_compare_exactly_floats_within_a_tolerance(lab):
    assert not _verdict(lab, "SELECT 9007199254740993::bigint AS n", "SELECT 9007199254740992::bigint").passed
    assert not _verdict(lab, "SELECT 1357054200::numeric AS epoch", "SELECT 1357054199.000000").passed
    assert _verdict(lab, "SELECT 1357054200::numeric AS epoch", "SELECT 1357054200.000000").passed
    assert _verdict(lab, "SELECT 0.1::float8 + 0.2::float8 AS x", "SELECT 0.3").passed


def test_the_text_looks_like_a_date_sentence_only_for_text_against_dates(lab):
    message = _verdict(lab, "SELECT interval '1 day' AS i", "SELECT 1").message
    assert "looks like a date" not in message and "interval" in message


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


def test_an_index_the_learner_left_behind_does_not_make_a_wrong_answer_pass(lab):
    from pglab.exercises import for_lesson

    exercise = next(e for e in for_lesson("00_getting_started") if e.name == "recent_comments_index")
    lab.run("CREATE INDEX leftover_comments_created_at ON comments (created_at)")
    try:
        assert not exercise.evaluate(lab.engine, "CREATE INDEX ON comments (post_id)").passed
        assert exercise.evaluate(lab.engine, exercise.solution_text()).passed
        assert lab.value("SELECT to_regclass('leftover_comments_created_at') IS NOT NULL")  # the check changed nothing
    finally:
        lab.run("DROP INDEX leftover_comments_created_at")
