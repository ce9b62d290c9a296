"""The instructor's board in a real browser (make test-browser): a prepared workshop at the small scale, one learner
who checks an exercise, the board page in headless Chromium, and the page refreshing itself when the learner passes."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("PGLAB_BROWSER"), reason="browser test: run by make test-browser")

CHECK = ("from pglab import start_lesson, progress\n"
         "lab = start_lesson('00_getting_started', sql_magic=False)\n"
         "lab.exercises.top_authors.check({answer!r})\n"
         "progress.flush()\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_board_shows_the_room_and_refreshes_itself(browser):
    from selenium.webdriver.common.by import By

    from pglab import connection
    from pglab.exercises import lesson_00

    base = {k: v for k, v in os.environ.items() if not k.startswith("PGLAB_")}
    base.update(PGLAB_SCALE="small")
    admin_url = os.environ.get("DATABASE_URL") or connection.target().base_url.render_as_string(hide_password=False)
    instructor = dict(base, DATABASE_URL=admin_url)
    run = lambda args, env: subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=600)  # noqa: E731
    prepared = run(["-m", "pglab", "workshop", "prepare", "--learners", "1", "--learner-prefix", "boardtest"], instructor)
    assert prepared.returncode == 0, prepared.stderr
    learner = dict(base)
    learner.update(re.findall(r"(\w+)='?([^' ]+)'?", re.search(r"^  boardtest01: export (.*)$", prepared.stdout,
                                                               re.M).group(1)))
    port = _free_port()
    board = subprocess.Popen([sys.executable, "-m", "pglab", "workshop", "board", "--port", str(port)], env=instructor,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert "The board:" in board.stdout.readline()
        done = run(["-c", CHECK.format(answer="SELECT 1")], learner)
        assert done.returncode == 0, done.stderr
        browser.get(f"http://127.0.0.1:{port}/")
        table = browser.find_element(By.ID, "board")
        assert "boardtest01" in table.text and "top_authors" in table.text and "tried 1x" in table.text
        assert "top_authors" in browser.find_element(By.ID, "stuck").text
        done = run(["-c", CHECK.format(answer=lesson_00.top_authors.solution_text())], learner)
        assert done.returncode == 0, done.stderr
        deadline = time.time() + 30
        while time.time() < deadline and "passed" not in browser.find_element(By.ID, "board").text:
            time.sleep(1)
        assert "passed" in browser.find_element(By.ID, "board").text, "the page did not refresh itself"
    finally:
        board.terminate()
        board.wait(timeout=10)
        run(["-m", "pglab", "workshop", "clean"], instructor)
