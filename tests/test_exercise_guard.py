"""Python answers (ORM functions, DataLoader batch functions) stay inside the checker's transaction, and every
statement they send is counted, through the ORM or on a raw cursor (review of lessons 00-04, classes 1 and 3)."""
from __future__ import annotations

import pytest

from pglab.exercises import lesson_00, lesson_04

RIGHT = lesson_00.post_counts.solution_text()

ESCAPES = {
    "COMMIT through the session": """
import sqlalchemy as sa
def answer(session):
    session.execute(sa.text("CREATE TABLE escaped_guard (x int)"))
    session.execute(sa.text("COMMIT"))
    return {}
""",
    "commit() on the driver connection": """
import sqlalchemy as sa
def answer(session):
    session.execute(sa.text("CREATE TABLE escaped_guard (x int)"))
    session.connection().connection.commit()
    return {}
""",
    "END on the bind": """
import sqlalchemy as sa
def answer(session):
    session.execute(sa.text("CREATE TABLE escaped_guard (x int)"))
    session.get_bind().exec_driver_sql("END")
    return {}
""",
    "autocommit switched on": """
import sqlalchemy as sa
def answer(session):
    session.connection().connection.driver_connection.autocommit = True
    return {}
""",
    "a COMMIT swallowed": """
import sqlalchemy as sa
def answer(session):
    session.execute(sa.text("CREATE TABLE escaped_guard (x int)"))
    try:
        session.connection().exec_driver_sql("SELECT 1; COMMIT")
    except Exception:
        pass
    return {}
""",
}


def _escaped_table_exists(lab) -> bool:
    return bool(lab.value("SELECT to_regclass('public.escaped_guard') IS NOT NULL"))


@pytest.mark.parametrize("name", list(ESCAPES))
def test_an_orm_answer_cannot_end_the_checkers_transaction(name, lesson_factory):
    lab = lesson_factory("00_getting_started")
    feedback = lesson_00.post_counts.evaluate(lab.engine, ESCAPES[name])
    assert not feedback.passed
    assert "transaction" in feedback.message and "check itself" not in feedback.message, feedback.message
    assert not _escaped_table_exists(lab)
    assert lesson_00.post_counts.evaluate(lab.engine, RIGHT).passed  # the setup's row was not committed either


def test_releasing_the_checkers_savepoint_is_named(lesson_factory):
    lab = lesson_factory("00_getting_started")
    answer = RIGHT.replace("def answer(session):\n", "def answer(session):\n    session.execute(sa.text('RELEASE SAVEPOINT sa_savepoint_1'))\n")
    answer = "import sqlalchemy as sa\n" + answer
    feedback = lesson_00.post_counts.evaluate(lab.engine, answer)
    assert not feedback.passed and "savepoint" in feedback.message and "check itself" not in feedback.message


def test_an_n_plus_one_on_a_raw_cursor_is_counted(lesson_factory):
    lab = lesson_factory("00_getting_started")
    answer = """
import sqlalchemy as sa
def answer(session):
    cur = session.connection().connection.cursor()
    cur.execute("SELECT id, email FROM users ORDER BY created_at LIMIT 10")
    users = cur.fetchall()
    counts = {}
    for user_id, email in users:
        cur.execute("SELECT count(*) FROM posts WHERE user_id = %s", (user_id,))
        counts[email] = cur.fetchone()[0]
    return counts
"""
    feedback = lesson_00.post_counts.evaluate(lab.engine, answer)
    assert not feedback.passed and "11 statements" in feedback.message, feedback.message


def test_a_batch_function_cannot_commit_and_a_raw_cursor_loop_is_counted(lesson_factory):
    lab = lesson_factory("04_n_plus_one")
    commit = """
async def batch(user_ids, conn):
    conn.exec_driver_sql("CREATE TABLE escaped_guard (x int)")
    conn.exec_driver_sql("COMMIT")
    return [None for _ in user_ids]
"""
    feedback = lesson_04.emails_batch.evaluate(lab.engine, commit)
    assert not feedback.passed and "transaction" in feedback.message, feedback.message
    assert not _escaped_table_exists(lab)
    loop = """
async def batch(user_ids, conn):
    cur = conn.connection.cursor()
    emails = []
    for key in user_ids:
        cur.execute("SELECT email FROM users WHERE id = %s", (key,))
        row = cur.fetchone()
        emails.append(row[0] if row else None)
    return emails
"""
    feedback = lesson_04.emails_batch.evaluate(lab.engine, loop)
    assert not feedback.passed and "statements" in feedback.message, feedback.message


def test_the_checkers_own_failure_on_a_returned_value_is_not_blamed_on_the_answer(lesson_factory):
    lab = lesson_factory("03_orm_models")
    from pglab.exercises import lesson_03

    answer = """
import sqlalchemy as sa
from pglab.models import User
def answer(session):
    return session.scalars(sa.select(User).where(User.role == 'admin', User.deleted_at.is_not(None))
                           .execution_options(include_deleted=True)).all()
"""
    feedback = lesson_03.deleted_admins.evaluate(lab.engine, answer)
    assert not feedback.passed
    assert "your answer raised" not in feedback.message, feedback.message


def test_an_answer_that_exits_gets_a_sentence(lesson_factory):
    lab = lesson_factory("00_getting_started")
    feedback = lesson_00.post_counts.evaluate(lab.engine, "def answer(session):\n    raise SystemExit(1)\n")
    assert not feedback.passed and "exit" in feedback.message
