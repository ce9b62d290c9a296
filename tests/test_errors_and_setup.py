"""A bad DATABASE_URL, an unreachable server, a server that won't start, a learner's bad SQL:
each ends in one clear sentence, and the session carries on."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pglab import ClaimFailed, LabSetupError, connection

ROOT = Path(__file__).resolve().parents[1]


def run_prepare(env_changes: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | env_changes
    return subprocess.run([sys.executable, "-m", "pglab", "prepare"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def assert_one_clear_sentence(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pglab: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_database_url_for_another_database_system():
    assert_one_clear_sentence(run_prepare({"DATABASE_URL": "mysql://u:p@localhost/db"}), "must point at PostgreSQL")


def test_database_url_that_is_not_a_url():
    assert_one_clear_sentence(run_prepare({"DATABASE_URL": "localhost:5432"}), "postgresql://")


def test_unreachable_server():
    result = run_prepare({"DATABASE_URL": "postgresql://lab:lab@127.0.0.1:1/lab"})
    assert_one_clear_sentence(result, "Cannot connect", "127.0.0.1:1")


def test_embedded_server_that_will_not_start(tmp_path):
    home = tmp_path / "lab"
    data = home / ".pglab" / "pgdata"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("7\n")  # a data folder no PostgreSQL 18 can start
    (home / "notebooks").mkdir()
    result = run_prepare({"PGLAB_HOME": str(home)})
    assert_one_clear_sentence(result, "did not start", "make db-clean")


def test_parse_database_url_uses_psycopg_and_keeps_socket_host():
    url = connection.parse_database_url("postgresql://postgres@/postgres?host=/tmp/sock&port=5415")
    assert url.drivername == "postgresql+psycopg" and url.query["host"] == "/tmp/sock"
    with pytest.raises(LabSetupError):
        connection.parse_database_url("sqlite:///x.db")


def test_learner_error_leaves_the_connection_usable(lesson_factory):
    lab = lesson_factory("00_getting_started")
    for bad in ("SELEC 1", "SELECT nope FROM users", "INSERT INTO users (email) VALUES (NULL)"):
        outcome = lab.try_sql(bad, quiet=True)
        assert not outcome.ok and outcome.message.startswith("ERROR: ")
        assert "\n" not in outcome.message or outcome.message.count("\n") <= 2
    # the same pooled connection is reused, and it is not stuck in an aborted transaction
    assert lab.value("SELECT count(*) FROM tags") == 300


def test_must_fail_stops_the_lesson_when_the_database_accepts(lesson_factory):
    lab = lesson_factory("00_getting_started")
    with pytest.raises(ClaimFailed):
        lab.must_fail("SELECT 1")
    with pytest.raises(ClaimFailed):
        lab.must_fail("SELECT 1/0", because="unique")
    assert "division by zero" in lab.must_fail("SELECT 1/0", because="division")
