"""Workshop mode on one server: prepared once, each learner isolated from the others, progress kept per learner,
the board showing the room, and clean dropping what the workshop made (and nothing else).

Runs the commands as an instructor and two learners would (subprocesses, each with its own DATABASE_URL), at the
small scale so that it takes seconds."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest
import sqlalchemy as sa

from pglab import connection

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")) and "pg15" not in os.environ.get("DATABASE_URL", ""),
                                reason="needs a server where the tests' role is a superuser (the embedded one, or pg15's)")


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)


def _pglab(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pglab", *args], env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def workshop():
    base = {k: v for k, v in os.environ.items() if not k.startswith("PGLAB_")}
    base.update(PGLAB_SCALE="small", PLOOMBER_STATS_ENABLED="false")
    if os.environ.get("DATABASE_URL"):
        base["DATABASE_URL"] = os.environ["DATABASE_URL"]
    admin_url = os.environ.get("DATABASE_URL") or connection.target().base_url.render_as_string(hide_password=False)
    instructor = dict(base, DATABASE_URL=admin_url)
    prepared = _pglab(["workshop", "prepare", "--learners", "2", "--learner-prefix", "wstest"], instructor)
    assert prepared.returncode == 0, prepared.stderr
    settings = dict(re.findall(r"^  (wstest\d\d): export (.*)$", prepared.stdout, re.M))
    learners = {}
    for name, line in settings.items():
        env = dict(base)
        for key, value in re.findall(r"(\w+)='?([^' ]+)'?", line):
            env[key] = value
        learners[name] = env
    yield instructor, learners, prepared.stdout
    cleaned = _pglab(["workshop", "clean"], instructor)
    assert cleaned.returncode == 0, cleaned.stderr


START = ("from pglab import start_lesson\n"
         "lab = start_lesson('{lesson}', sql_magic=False)\n"
         "lab.run('CREATE INDEX ON users (bio)')\n"  # the learner owns the tables of their copy
         "print('DB', lab.database)\n")


def test_learners_copy_the_shared_dataset_and_are_kept_apart(workshop):
    instructor, learners, _ = workshop
    (a, env_a), (b, env_b) = sorted(learners.items())
    started = _python(START.format(lesson="00_getting_started"), env_a)
    assert started.returncode == 0, started.stderr
    assert "Building the lab dataset" not in started.stderr  # a learner never builds
    database_a = re.search(r"^DB (\S+)$", started.stdout, re.M).group(1)
    template = env_a["PGLAB_WORKSHOP_TEMPLATE"]
    url_b = env_b["DATABASE_URL"]

    def as_b(sql: str, dbname: str = "postgres") -> str:
        engine = sa.create_engine(sa.engine.make_url(url_b).set(database=dbname), isolation_level="AUTOCOMMIT",
                                  poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(sql)
        except sa.exc.DBAPIError as error:
            return str(error.orig).strip().splitlines()[0]
        finally:
            engine.dispose()
        return "done"

    assert "permission denied" in as_b("SELECT 1", dbname=database_a)
    assert "must be owner" in as_b(f'DROP DATABASE "{database_a}"')
    assert "not currently accepting connections" in as_b("SELECT 1", dbname=template)
    assert "must be owner" in as_b(f'ALTER DATABASE "{template}" RENAME TO stolen')
    assert "permission denied to copy database" in as_b(f'CREATE DATABASE wstest_copy TEMPLATE "{database_a}"')
    listed = _pglab(["drop-lessons"], env_b)
    assert database_a not in listed.stdout


def test_a_learner_keeps_only_the_last_lessons(workshop):
    _, learners, _ = workshop
    env = dict(sorted(learners.items())[1][1], PGLAB_KEEP_LESSONS="2")
    code = ("from pglab import start_lesson, databases, connection\n"
            "for lesson in ('00_getting_started', '01_table_conventions', '02_relationships'):\n"
            "    start_lesson(lesson, sql_magic=False).engine.dispose()\n"
            "admin = connection.admin_engine()\n"
            "with admin.connect() as conn:\n"
            "    print(sorted(name for name, _ in databases.ours(conn)))\n")
    done = _python(code, env)
    assert done.returncode == 0, done.stderr
    kept = eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - our own subprocess's list
    assert len(kept) == 2 and not any("00_getting" in name for name in kept), kept


def test_progress_is_per_learner_and_the_board_shows_the_room(workshop):
    instructor, learners, _ = workshop
    (a, env_a), (b, env_b) = sorted(learners.items())
    check = ("from pglab import start_lesson, progress\n"
             "lab = start_lesson('00_getting_started', sql_magic=False)\n"
             "lab.exercises.top_authors.check('SELECT 1')\n"
             "lab.exercises.top_authors.hint()\n"
             "progress.flush()\n"
             "print([e.learner for e in progress.events()])\n")
    done = _python(check, env_a)
    assert done.returncode == 0, done.stderr
    assert set(eval(done.stdout.strip().splitlines()[-1])) == {a}  # noqa: S307
    seen_by_b = _pglab(["progress"], env_b)
    assert "top_authors" not in seen_by_b.stdout
    forged = _python("from pglab import progress, workshop, connection\n"
                     "import psycopg\n"
                     "engine = progress._server_engine()\n"
                     "with engine.begin() as conn:\n"
                     f"    conn.exec_driver_sql(\"INSERT INTO events (learner, lesson, exercise, action, outcome) VALUES ('{a}', '00', 'x', 'check', 'passed')\")\n",
                     env_b)
    assert forged.returncode != 0 and "row-level security" in forged.stderr
    from pglab import board

    port_probe = board.serve("127.0.0.1", 0)
    port = port_probe.server_address[1]
    port_probe.server_close()
    server = subprocess.Popen([sys.executable, "-m", "pglab", "workshop", "board", "--port", str(port)],
                              env=instructor, stdout=subprocess.PIPE, text=True)
    try:
        assert "The board:" in server.stdout.readline()
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert a in page and "top_authors" in page and "Most learners are stuck on" in page


def test_the_board_puts_the_exercise_most_learners_are_stuck_on_first():
    from pglab import board

    rows = [("ada", "00_getting_started", "top_authors", "check", "passed"),
            ("bob", "00_getting_started", "notes_table", "check", "failed"),
            ("cy", "00_getting_started", "notes_table", "check", "failed"),
            ("cy", "00_getting_started", "top_authors", "check", "failed")]
    learners, exercises, cells = board.room(rows)
    assert learners == ["ada", "bob", "cy"]
    assert exercises[0] == ("00_getting_started", "notes_table")
    assert cells[("ada", ("00_getting_started", "top_authors"))] == "passed"
    assert json.dumps(board.page(rows)).count("tried 1x") == 3
