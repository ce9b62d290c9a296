"""The repository's migrations folder (migrations/): every revision can be undone, and passes squawk; and the
helpers lesson 09 measures with (pglab.locks) say what PostgreSQL does.

The round trip runs on the small dataset (20,000 users: the same schema), on a fresh database of its own."""
from __future__ import annotations

import os
import re

import pytest

from pglab import locks, migrations


@pytest.fixture(scope="module")
def small_lesson():
    from pglab import connection, databases, start_lesson

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    before = os.environ.get("PGLAB_SCALE")
    os.environ["PGLAB_SCALE"] = "small"
    try:
        lesson = start_lesson("09_migrations", sql_magic=False, database=f"{databases.prefix()}_test{worker}_09_small")
    finally:
        if before is None:
            os.environ.pop("PGLAB_SCALE", None)
        else:
            os.environ["PGLAB_SCALE"] = before
    yield lesson
    lesson.engine.dispose()
    admin = connection.admin_engine()
    with admin.connect() as conn:
        databases.drop_if_ours(conn, lesson.database)
    admin.dispose()


def _schema(lesson) -> set[tuple[str, str, str]]:
    with lesson.engine.connect() as conn:
        return migrations.schema(conn)


def test_every_revision_is_reversible(small_lesson):
    """upgrade head, downgrade base, upgrade head on a fresh database: the schema at base is the dataset's, and
    the schema at head is the same both times (columns, types, defaults, constraints, indexes, triggers,
    functions)."""
    base = _schema(small_lesson)
    out = migrations.run(small_lesson.engine, "upgrade", "head")
    assert out.count("Running upgrade") == len(migrations.revisions())
    head = _schema(small_lesson)
    assert head != base
    migrations.run(small_lesson.engine, "downgrade", "base")
    assert _schema(small_lesson) == base, sorted(_schema(small_lesson) ^ base)
    migrations.run(small_lesson.engine, "upgrade", "head")
    assert _schema(small_lesson) == head, sorted(_schema(small_lesson) ^ head)
    assert "No new upgrade operations detected" in migrations.run(small_lesson.engine, "check")
    assert migrations.run(small_lesson.engine, "current").strip() == f"{migrations.revisions()[-1].revision} (head)"


def test_every_revision_has_an_upgrade_and_a_downgrade_and_one_parent():
    revisions = migrations.revisions()
    assert [r.revision for r in revisions] == [f"{i:04d}" for i in range(1, len(revisions) + 1)]
    for previous, revision in zip([None, *revisions], revisions):
        assert revision.down_revision == (previous.revision if previous else None)
        text = revision.path.read_text()
        assert "def upgrade()" in text and "def downgrade()" in text, revision.path.name
        assert not re.search(r"^\s*(from|import)\s+.*versions", text, re.M), "revisions never import each other"


@pytest.mark.parametrize("revision", migrations.revisions(), ids=lambda r: r.revision)
def test_each_revision_passes_squawk_on_its_own(revision):
    """squawk on the revision's own offline SQL (one revision at a time); a squawk-ignore says why, in a comment on
    the line above it."""
    sql = migrations.offline_sql(revision.down_revision, revision.revision)
    assert "SET lock_timeout" in sql and "SET statement_timeout" in sql  # env.py's timeouts, offline too
    found = migrations.lint(sql)
    assert not found, [(f.rule, f.message) for f in found]
    lines = sql.splitlines()
    for number, line in enumerate(lines):
        if "squawk-ignore" in line:
            reason = lines[number - 1].strip() if number else ""
            assert reason.startswith("--") and "squawk-ignore" not in reason and len(reason) > 10, (
                f"{revision.path.name}: `{line.strip()}` needs a comment line above it that says why")


def test_squawk_flags_an_unsafe_revision():
    sql = "SET lock_timeout = '1s';\nSET statement_timeout = '1s';\nCREATE INDEX idx_users_created_at ON users (created_at);\n"
    assert "require-concurrent-index-creation" in [f.rule for f in migrations.lint(sql)]


def test_observe_tells_a_rewrite_from_a_catalog_change(small_lesson):
    seen = locks.observe(small_lesson.engine, [
        "ALTER TABLE users ADD COLUMN probe_a boolean NOT NULL DEFAULT false",
        "ALTER TABLE users ADD COLUMN probe_b timestamptz DEFAULT clock_timestamp()",
        "ALTER TABLE users ALTER COLUMN bio SET NOT NULL",
    ])
    constant, volatile, not_null = seen.steps
    assert constant.rewritten == [] and volatile.rewritten == ["users"]
    assert constant.locks["users"] == volatile.locks["users"] == "AccessExclusiveLock"
    assert not_null.error and "contains null values" in not_null.error and not_null.scanned == []
    assert "probe_a" not in str(small_lesson.sql("SELECT column_name FROM information_schema.columns "
                                                 "WHERE table_name = 'users'")["column_name"].tolist())


def test_a_lock_timeout_dissolves_the_queue(small_lesson):
    queued = locks.queue(small_lesson.engine, alter="ALTER TABLE users ADD COLUMN probe_c text", hold_s=1.0,
                         lock_timeout="100ms", readers=2)
    assert queued.alter == "canceling statement due to lock timeout"
    assert queued.happened_before("reader", "T1 commits")


def test_the_readers_wait_the_whole_hold_however_slow_the_queue_was_to_form(small_lesson):
    """The hold counts from the moment the readers queued: lesson 09 claims each reader waited more than half of it."""
    queued = locks.queue(small_lesson.engine, alter="ALTER TABLE users ADD COLUMN probe_d text", hold_s=0.5,
                         readers=2)
    assert queued.happened_before("T1 commits", "reader")
    assert min(queued.reader_waits_s) >= 0.5


def test_the_lesson_role_may_create_a_schema_in_its_database(small_lesson):
    """The migration exercises' scratch schema: start_lesson grants CREATE on the lesson's database."""
    small_lesson.run("CREATE SCHEMA probe_scratch; DROP SCHEMA probe_scratch")
