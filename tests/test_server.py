"""The embedded server: two processes starting it at once share one server, which outlives them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from pglab import server

START_AND_REPORT = """
import time
from pglab import connection, server
running = server.ensure_running()
with connection.make_engine(connection.target().base_url).connect() as conn:
    assert conn.exec_driver_sql("SELECT 1").scalar() == 1
print(running.pid)
"""


@pytest.fixture
def fresh_home(tmp_path_factory):
    # a short path: unix socket paths are limited to about 100 characters
    home = Path(tmp_path_factory.mktemp("home", numbered=True))
    (home / "notebooks").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR")}
    env["PGLAB_HOME"] = str(home)
    yield home, env
    subprocess.run([sys.executable, "-m", "pglab", "stop"], env=env, capture_output=True, timeout=60)


def test_two_processes_starting_at_once_share_one_server(fresh_home):
    home, env = fresh_home
    starters = [
        subprocess.Popen([sys.executable, "-c", START_AND_REPORT], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120) for p in starters]
    assert all(p.returncode == 0 for p in starters), [err for _, err in results]
    pids = {out.strip() for out, _ in results}
    assert len(pids) == 1, f"two servers were started: {pids}"
    # the server outlives the processes that started it, and a third process reuses it
    again = subprocess.run([sys.executable, "-c", START_AND_REPORT], env=env, capture_output=True, text=True, timeout=60)
    assert again.stdout.strip() in pids
    assert (home / ".pglab" / "pgdata" / "PG_VERSION").read_text().strip() == "18"


def test_status_and_stop(fresh_home):
    home, env = fresh_home
    subprocess.run([sys.executable, "-c", START_AND_REPORT], env=env, check=True, capture_output=True, timeout=60)
    status = subprocess.run([sys.executable, "-m", "pglab", "status"], env=env, capture_output=True, text=True)
    assert "running" in status.stdout and "not running" not in status.stdout
    subprocess.run([sys.executable, "-m", "pglab", "stop"], env=env, check=True, capture_output=True, timeout=60)
    status = subprocess.run([sys.executable, "-m", "pglab", "status"], env=env, capture_output=True, text=True)
    assert "not running" in status.stdout


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="checks the embedded server's settings")
def test_embedded_server_settings_and_socket_only():
    running = server.ensure_running()
    with psycopg.connect(host=str(running.socket_dir), port=running.port, user="postgres", dbname="postgres") as conn:
        settings = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                                     "('listen_addresses', 'shared_preload_libraries', 'wal_level')").fetchall())
    assert settings["listen_addresses"] == ""  # no TCP at all
    assert "pg_stat_statements" in settings["shared_preload_libraries"]
    assert settings["wal_level"] == "minimal"
