"""Lesson databases: fresh on every start, isolated from each other, and only the lab's own are touched."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from pglab import LabSetupError, connection, databases, start_lesson
from pglab.lesson import database_name


def test_reset_leaves_other_lessons_alone():
    first = start_lesson("90_isolation_a", sql_magic=False)
    first.run("CREATE TABLE mine (x int); INSERT INTO mine VALUES (1)")
    second = start_lesson("90_isolation_b", sql_magic=False)
    second.run("CREATE TABLE theirs (x int)")
    start_lesson("90_isolation_b", sql_magic=False)  # resetting b ...
    assert first.value("SELECT count(*) FROM mine") == 1  # ... leaves a's work alone
    first.engine.dispose()
    again = start_lesson("90_isolation_a", sql_magic=False)  # resetting a gives a fresh copy
    assert again.value("SELECT to_regclass('mine') IS NULL")
    assert again.value("SELECT count(*) FROM users") > 0
    _drop(again, second)


def test_session_settings_make_plans_stable(lesson_factory):
    lab = lesson_factory("00_getting_started")
    assert lab.value("SHOW jit") == "off"
    assert lab.value("SHOW max_parallel_workers_per_gather") == "0"
    assert lab.value("SHOW TimeZone") == "UTC"


def test_engine_survives_terminated_connections(lesson_factory):
    lab = lesson_factory("00_getting_started")
    assert lab.value("SELECT 1") == 1
    admin = connection.admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                     {"d": lab.database})
    admin.dispose()
    assert lab.value("SELECT 2") == 2  # pool_pre_ping replaced the dead connection


def test_the_lab_never_drops_a_database_it_did_not_create():
    name = database_name("90_not_ours")
    admin = connection.admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
        try:
            with pytest.raises(LabSetupError, match="did not create it"):
                databases.drop_if_ours(conn, name)
            with pytest.raises(LabSetupError, match="PGLAB_DB_PREFIX"):
                start_lesson("90_not_ours", sql_magic=False)
            assert databases.exists(conn, name)
        finally:
            conn.execute(sa.text(f"DROP DATABASE {name}"))
    admin.dispose()


def test_another_users_lab_databases_are_left_alone():
    """A workshop server: the lab made a database for another learner's role; this user must not reuse,
    list or drop it, and is told to pick a prefix of their own."""
    name = database_name("91_someone_elses")
    admin = connection.admin_engine()
    with admin.connect() as conn:
        try:
            conn.execute(sa.text("CREATE ROLE pglab_test_other_learner NOLOGIN"))
        except sa.exc.DBAPIError:
            pytest.skip("this server's user may not create roles")
        try:
            conn.execute(sa.text(f"CREATE DATABASE {name} OWNER pglab_test_other_learner"))
            databases.mark(conn, name, "lesson 91_someone_elses")
            assert name not in [n for n, _ in databases.ours(conn)]
            with pytest.raises(LabSetupError, match="another user of this server"):
                databases.drop_if_ours(conn, name)
            with pytest.raises(LabSetupError, match="PGLAB_DB_PREFIX"):
                start_lesson("91_someone_elses", sql_magic=False)
            assert databases.exists(conn, name)
        finally:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(sa.text("DROP ROLE pglab_test_other_learner"))
    admin.dispose()


def test_prefix_is_validated(monkeypatch):
    monkeypatch.setenv("PGLAB_DB_PREFIX", "drop table;")
    with pytest.raises(LabSetupError):
        databases.prefix()


def _drop(*lessons):
    admin = connection.admin_engine()
    with admin.connect() as conn:
        for lesson in lessons:
            lesson.engine.dispose()
            databases.drop_if_ours(conn, lesson.database)
    admin.dispose()


def test_vacuum_outlasts_an_older_transaction_in_the_database(lesson_factory):
    """lab.vacuum() must leave every page all-visible (lessons 05, 07 and 08 count heap fetches after it), even when
    a transaction older than the last change is still open as it starts (an autovacuum ANALYZE of another table on
    a busy machine): it vacuums again until that transaction has gone."""
    import threading

    from pglab import locks

    lab = lesson_factory("00_getting_started")
    lab.run("DROP TABLE IF EXISTS probe_vm; CREATE TABLE probe_vm (id int, note text) WITH (autovacuum_enabled = off);"
            "INSERT INTO probe_vm SELECT g, 'x' FROM generate_series(1, 20000) AS g")
    lab.vacuum("probe_vm")
    older = locks.connect(lab.engine)
    ends = threading.Timer(1.0, older.rollback)
    try:
        older.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        older.execute("SELECT 1")  # holds its snapshot: the update below is not yet visible to everyone
        lab.run("UPDATE probe_vm SET note = 'y' WHERE id % 10 = 0")
        ends.start()
        lab.vacuum("probe_vm")
        visible, pages = lab.sql("SELECT relallvisible, relpages FROM pg_class WHERE relname = 'probe_vm'").iloc[0]
        assert pages > 0 and visible == pages
    finally:
        ends.cancel()
        older.close()
        lab.run("DROP TABLE probe_vm")
