"""Shared fixtures: lesson databases for tests, named apart from the notebooks' own."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")


@pytest.fixture(scope="session")
def lesson_factory():
    """lesson_factory("01_table_conventions") -> a Lesson on its own test database (made once per session)."""
    from pglab import databases, start_lesson

    made: dict[str, object] = {}

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1 when tests run two at a time

    def make(lesson_id: str):
        if lesson_id not in made:
            made[lesson_id] = start_lesson(
                lesson_id, sql_magic=False, database=f"{databases.prefix()}_test{worker}_{lesson_id[:2]}"
            )
        return made[lesson_id]

    yield make
    from pglab import connection

    admin = connection.admin_engine()
    with admin.connect() as conn:
        for lesson in made.values():
            lesson.engine.dispose()  # type: ignore[attr-defined]
            databases.drop_if_ours(conn, lesson.database)  # type: ignore[attr-defined]
    admin.dispose()
