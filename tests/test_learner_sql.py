"""No answer, however written, leaves the lesson's database changed (issue 9's class 1: an answer's COMMIT
ended the checker's transaction and kept everything after it).

Each answer below is checked against a real exercise; the database's catalog and data are fingerprinted before
and after, and the reference solution must still pass right after."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from pglab.exercises import for_lesson
from pglab.exercises.learner_sql import ScriptRefused, prepare

NOTES = next(e for e in for_lesson("00_getting_started") if e.name == "notes_table")
SOLUTION = NOTES.solution_text()
ESCAPE = "CREATE TABLE escaped (x int)"
HARM = "DELETE FROM tags; UPDATE users SET role = 'admin' WHERE email LIKE 'a%'"

FINGERPRINT = """
SELECT md5(string_agg(item, '|' ORDER BY item)) FROM (
  SELECT 'rel ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || c.relfilenode
  FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%'
  UNION ALL SELECT 'con ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 'fn ' || oid::regprocedure::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'users ' || (SELECT count(*) FROM users)
  UNION ALL SELECT 'tags ' || md5(string_agg(t::text, ',' ORDER BY t.id)) FROM tags AS t
  UNION ALL SELECT 'admins ' || count(*) FROM users WHERE role = 'admin'
) AS catalog_and_data (item)
"""


def _fingerprint(lab) -> str:
    return str(lab.value(FINGERPRINT))


# (answer, what the feedback says). Judged inside: BEGIN/COMMIT that only wrap the answer are left out.
WRAPPED = [
    f"BEGIN;\n{SOLUTION};\nCOMMIT;",
    f"begin transaction isolation level serializable;\n{SOLUTION};\nend;",
    f"START TRANSACTION; {SOLUTION}; COMMIT AND CHAIN;",
    f"BEGIN WORK; {SOLUTION}; COMMIT WORK",
    f"/* psql habit */ BEGIN; {SOLUTION}; ROLLBACK;",
]
REFUSED = [
    f"{ESCAPE}; COMMIT; {HARM}",
    f"{ESCAPE}; commit and chain; {HARM}",
    f"ROLLBACK; {ESCAPE}",
    f"ABORT; {HARM}",
    f"{ESCAPE}; END; {HARM}",
    f"{ESCAPE}; END",
    f"{ESCAPE}; PREPARE TRANSACTION 'escape'",
    f"COMMIT PREPARED 'escape'; {ESCAPE}",
    f"{ESCAPE}; /* sneaky */ CoMmIt; {HARM}",
    f"{ESCAPE}; -- a comment\nCOMMIT\n; {HARM}",
    f"{ESCAPE}; BEGIN; {HARM}; COMMIT",
    "VACUUM tags",
    "CREATE INDEX CONCURRENTLY ON tags (name)",
    "DROP INDEX CONCURRENTLY tags_name_key",
]
FAILS_ON_THE_SERVER = [  # transaction control inside procedural code: the server refuses it in a transaction
    f"DO $$ BEGIN COMMIT; END $$; {HARM}",
    f"CREATE PROCEDURE escape() LANGUAGE plpgsql AS $$ BEGIN {HARM}; COMMIT; END $$; CALL escape()",
]
SESSION_STATE = [  # left in the session, which the checker discards
    f"SELECT pg_advisory_lock(4242); {SOLUTION}",
    f"PREPARE leftover AS SELECT 1; {SOLUTION}",
    f"SET search_path = nowhere, public; {SOLUTION}",
]


@pytest.fixture(scope="module")
def lab(lesson_factory):
    return lesson_factory("00_getting_started")


@pytest.mark.parametrize("answer", WRAPPED, ids=range(len(WRAPPED)))
def test_an_answer_wrapped_in_begin_commit_is_judged_inside_and_told_so(lab, answer):
    before = _fingerprint(lab)
    feedback = NOTES.evaluate(lab.engine, answer)
    assert feedback.passed, feedback.message
    assert any("left out your BEGIN" in note for note in feedback.notes)
    assert _fingerprint(lab) == before
    assert not lab.value("SELECT to_regclass('notes') IS NOT NULL")


@pytest.mark.parametrize("answer", REFUSED, ids=range(len(REFUSED)))
def test_transaction_control_anywhere_else_is_refused_and_changes_nothing(lab, answer):
    before = _fingerprint(lab)
    feedback = NOTES.evaluate(lab.engine, answer)
    assert not feedback.passed and feedback.attempted
    assert any(word in feedback.message for word in ("transaction", "CONCURRENTLY", "VACUUM")), feedback.message
    assert _fingerprint(lab) == before
    assert not lab.value("SELECT to_regclass('escaped') IS NOT NULL")
    assert NOTES.evaluate(lab.engine, SOLUTION).passed


@pytest.mark.parametrize("answer", FAILS_ON_THE_SERVER, ids=range(len(FAILS_ON_THE_SERVER)))
def test_transaction_control_in_procedural_code_fails_and_changes_nothing(lab, answer):
    before = _fingerprint(lab)
    feedback = NOTES.evaluate(lab.engine, answer)
    # refused before it runs when it also changes the lesson's own rows, else failed by the server
    assert not feedback.passed and ("invalid transaction termination" in feedback.message
                                    or "changes rows of" in feedback.message), feedback.message
    assert _fingerprint(lab) == before
    assert NOTES.evaluate(lab.engine, SOLUTION).passed


@pytest.mark.parametrize("answer", SESSION_STATE, ids=range(len(SESSION_STATE)))
def test_what_an_answer_leaves_in_its_session_dies_with_it(lab, answer):
    feedback = NOTES.evaluate(lab.engine, answer)
    assert feedback.passed, feedback.message
    with lab.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_try_advisory_lock(4242)")).scalar()
        conn.execute(sa.text("SELECT pg_advisory_unlock_all()"))
        assert conn.execute(sa.text("SELECT count(*) FROM pg_prepared_statements WHERE name = 'leftover'")).scalar() == 0
        assert "nowhere" not in conn.execute(sa.text("SHOW search_path")).scalar()


def test_transaction_words_inside_strings_and_bodies_are_not_transaction_control():
    script = prepare("INSERT INTO t VALUES ('BEGIN; COMMIT;');\n"
                     "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'COMMIT' $$;\n"
                     "PREPARE q AS SELECT 1")
    assert len(script.statements) == 3 and not script.notes


def test_a_script_the_parser_cannot_read_is_still_split_and_checked():
    with pytest.raises(ScriptRefused):
        prepare("SELEC 1; COMMIT; DELETE FROM tags")


# Review of lessons 00-04, classes 2, 4, 5 and 11: side doors, settings, names and comments.
SIDE_DOORS = [
    "SELECT setval('users_id_seq', 1)",
    'SELECT "pg_terminate_backend"(pid) FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid()',
    "SELECT pg_catalog.pg_cancel_backend(42)",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    "DO $$ BEGIN PERFORM pg_cancel_backend(42); END $$",
    "SELECT pg_stat_reset()",
    "DELETE FROM tags WHERE name = 'rust'; ANALYZE tags",
]

DATASET_CHANGES = [  # refused before they run: a rollback leaves the visibility map and pg_class changed
    "WITH gone AS (DELETE FROM comments RETURNING 1) SELECT count(*) FROM gone",
    "EXPLAIN ANALYZE DELETE FROM comments",
    "CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS $$ DELETE FROM comments $$",
    "UPDATE users SET status = status WHERE role = 'admin'",
    "ANALYZE",
    "ANALYZE users",
    "DO $$ BEGIN EXECUTE 'DELETE FROM ' || 'comments'; END $$",  # dynamic SQL: refused by the guard trigger
]


@pytest.mark.parametrize("change", DATASET_CHANGES)
def test_changes_to_the_lessons_own_tables_are_refused_before_they_run(change, lesson_factory):
    lab = lesson_factory("00_getting_started")
    before = lab.value("SELECT reltuples::bigint || ' ' || relallvisible FROM pg_class WHERE relname = 'comments'")
    feedback = NOTES.evaluate(lab.engine, change + ";\n" + SOLUTION)
    assert not feedback.passed and ("changes rows of" in feedback.message or "ANALYZE" in feedback.message), \
        feedback.message
    assert lab.value("SELECT reltuples::bigint || ' ' || relallvisible FROM pg_class WHERE relname = 'comments'") == before


@pytest.mark.parametrize("side_door", SIDE_DOORS)
def test_calls_a_rollback_does_not_undo_are_refused_before_they_run(side_door, lesson_factory):
    lab = lesson_factory("00_getting_started")
    before = _fingerprint(lab)
    feedback = NOTES.evaluate(lab.engine, side_door + ";\n" + SOLUTION)
    assert not feedback.passed and "rollback does not undo" in feedback.message, feedback.message
    assert _fingerprint(lab) == before


SETTINGS = [
    ("SET LOCAL search_path = information_schema, public", "search_path"),
    ("SET LOCAL statement_timeout = '1ms'", "statement_timeout"),
    ("SELECT set_config('session_replication_role', 'replica', true)", "session_replication_role"),
    ("SET LOCAL extra_float_digits = -15", "extra_float_digits"),
]


@pytest.mark.parametrize(("setting", "named"), SETTINGS)
def test_settings_the_checking_depends_on_are_refused(setting, named, lesson_factory):
    lab = lesson_factory("00_getting_started")
    feedback = NOTES.evaluate(lab.engine, SOLUTION + ";\n" + setting)
    assert not feedback.passed and named in feedback.message, feedback.message


def test_a_planner_setting_cannot_make_a_plan_exercise_pass(lesson_factory):
    lab = lesson_factory("00_getting_started")
    index = next(e for e in for_lesson("00_getting_started") if e.name == "recent_comments_index")
    feedback = index.evaluate(lab.engine, "SET LOCAL enable_seqscan = off; CREATE INDEX ON comments (user_id, created_at)")
    assert not feedback.passed and "enable_seqscan" in feedback.message
    assert index.evaluate(lab.engine, "SET LOCAL work_mem = '64MB'; " + index.solution_text()).passed


def test_a_temporary_table_cannot_stand_in_for_the_lessons_table(lesson_factory):
    lab = lesson_factory("00_getting_started")
    shadow = SOLUTION.replace("CREATE TABLE notes", "CREATE TEMP TABLE notes", 1)
    assert shadow != SOLUTION
    feedback = NOTES.evaluate(lab.engine, "CREATE TABLE notes (id int);\n" + shadow)
    assert not feedback.passed


def test_a_line_comment_before_a_semicolon_stays_a_comment(lesson_factory):
    lab = lesson_factory("00_getting_started")
    commented = "\n;\n".join(part.strip() + " -- a comment" for part in prepare(SOLUTION).text.split("\n;\n")) + "\n;"
    feedback = NOTES.evaluate(lab.engine, commented)
    assert feedback.passed, feedback.message


def test_the_time_limit_holds_when_the_answer_lifts_statement_timeout(lesson_factory):
    from pglab.exercises.base import watchdog

    lab = lesson_factory("00_getting_started")
    with lab.engine.connect() as conn:
        conn.exec_driver_sql("SET statement_timeout = 0")
        with pytest.raises(sa.exc.DBAPIError, match="canceling statement"), watchdog(conn, seconds=0.5):
            conn.exec_driver_sql("SELECT pg_sleep(5)")


def test_a_lessons_role_cannot_signal_other_sessions_or_move_sequences(lesson_factory):
    """The static refusal is a text match; the lesson's database also revokes the functions themselves."""
    from pglab import connection

    lab = lesson_factory("00_getting_started")
    if not connection.lesson_role().separate:
        pytest.skip("lessons run as the administration role on this server")
    outcome = lab.try_sql("SELECT pg_cancel_backend(pg_backend_pid())", quiet=True)
    assert not outcome.ok and "permission denied" in outcome.message


def test_the_checkers_own_probes_leave_the_visibility_map_as_it_was(lesson_factory):
    """email_check's probes insert hundreds of rows into users (rolled back): users is vacuumed afterwards."""
    lab = lesson_factory("03_orm_models")
    email_check = next(e for e in for_lesson("03_orm_models") if e.name == "email_check")
    lab.vacuum("users")
    before = lab.value("SELECT relallvisible FROM pg_class WHERE relname = 'users'")
    assert email_check.evaluate(lab.engine, email_check.solution_text()).passed
    assert lab.value("SELECT relallvisible FROM pg_class WHERE relname = 'users'") == before
