"""The real JupyterLab, driven in headless Chromium, as a learner uses it (make test-browser; not part of make test).

It opens lesson 00 from a learner's copy, makes a %sql mistake and sees Run All stop there and say so, fixes it and
runs all, answers an exercise wrong and then right, saves, and checks that the shipped lesson did not change."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("PGLAB_BROWSER"), reason="browser test: run by make test-browser")

ROOT = Path(__file__).resolve().parents[2]
LESSON = "00_getting_started.ipynb"
MISTYPED = "%sql SELEC count(*) FROM users"
WRONG = "_ = ex.top_authors.check(\"SELECT email, 1 AS posts FROM users ORDER BY email LIMIT 5\")"
RIGHT = ("_ = ex.top_authors.check(\"SELECT u.email, count(*) AS posts FROM users AS u JOIN posts AS p "
         "ON p.user_id = u.id GROUP BY u.id, u.email ORDER BY posts DESC LIMIT 5\")")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    from pglab import copies

    mine = tmp_path_factory.mktemp("my-lessons")
    copies.ensure(copies.LESSONS, mine)
    notebook = json.loads((mine / LESSON).read_text())
    first_code = next(i for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code")
    notebook["cells"].insert(first_code + 1, {"cell_type": "code", "id": "mistyped", "metadata": {},
                                              "execution_count": None, "outputs": [], "source": MISTYPED})
    (mine / LESSON).write_text(json.dumps(notebook, indent=1))
    port, token = _free_port(), "pglab-browser-test"
    env = dict(os.environ, PGLAB_RUN="browser", JUPYTERLAB_WORKSPACES_DIR=str(mine / ".workspaces"))
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={mine}", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}/lab/tree/{LESSON}?token={token}", mine
    server.terminate()
    server.wait(timeout=30)


def _cells(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")


def _cell_text(cell) -> str:
    from selenium.webdriver.common.by import By

    return "\n".join(line.text for line in cell.find_elements(By.CSS_SELECTOR, ".cm-line"))


def _find_cell(driver, fragment: str):
    for cell in _cells(driver):
        if fragment in _cell_text(cell):
            return cell
    raise AssertionError(f"no cell holds {fragment!r}")


def _wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = predicate()
        except Exception:  # the DOM changes under us while JupyterLab renders
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _idle(driver) -> bool:
    from selenium.webdriver.common.by import By

    status = driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator, [data-status]")
    busy = any(s.get_attribute("data-status") == "busy" for s in status)
    prompts = [p.text for p in driver.find_elements(By.CSS_SELECTOR, ".jp-InputPrompt")]
    return not busy and not any("[*]" in p for p in prompts)


def _menu(driver, top: str, item: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//div[contains(@class,'lm-MenuBar-itemLabel') and text()='{top}']").click()
    _wait(lambda: driver.find_element(
        By.XPATH, f"//div[contains(@class,'lm-Menu-itemLabel') and text()='{item}']"), 10, item).click()


def _replace_and_run(driver, cell, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    editor = cell.find_element(By.CSS_SELECTOR, ".cm-content")
    editor.click()
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys(text)
    editor.send_keys(Keys.SHIFT, Keys.ENTER)


def _output(cell) -> str:
    from selenium.webdriver.common.by import By

    return "\n".join(o.text for o in cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output"))


def test_a_learner_runs_lesson_00_in_jupyterlab(lab_server, browser):
    url, mine = lab_server
    shipped = ROOT / "notebooks" / LESSON
    shipped_before = _digest(shipped)
    browser.get(url)
    _wait(lambda: len(_cells(browser)) > 20, 90, "the lesson to open")
    _wait(lambda: "Idle" in browser.page_source or _idle(browser), 90, "the kernel to start")

    _menu(browser, "Run", "Run All Cells")
    mistyped = _find_cell(browser, "SELEC count")
    _wait(lambda: "Run All stopped at this cell" in _output(mistyped), 180, "the mistyped %sql cell's message")
    assert "LINE 1" in _output(mistyped) and "^" in _output(mistyped)
    _wait(lambda: _idle(browser), 60, "the kernel to stop")
    cells = _cells(browser)
    after = cells[cells.index(mistyped) + 1:]
    from selenium.webdriver.common.by import By

    later_prompts = [c.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").text for c in after
                     if "jp-CodeCell" in c.get_attribute("class")]
    assert later_prompts and all(p.strip() in ("[ ]:", "") for p in later_prompts), later_prompts[:5]

    _replace_and_run(browser, mistyped, "%sql SELECT count(*) FROM users")
    _menu(browser, "Run", "Run All Cells")
    _wait(lambda: _idle(browser) and "not attempted yet" in browser.page_source, 240, "Run All to finish")
    answer = _find_cell(browser, "ex.top_authors.check(answer)")
    _replace_and_run(browser, answer, WRONG)
    _wait(lambda: "Not yet" in _output(_find_cell(browser, "ex.top_authors.check(\"SELECT email, 1")), 60,
          "the feedback on a wrong answer")
    _replace_and_run(browser, _find_cell(browser, "ex.top_authors.check(\"SELECT email, 1"), RIGHT)
    _wait(lambda: "Correct" in _output(_find_cell(browser, "GROUP BY u.id, u.email ORDER BY posts")), 60,
          "the feedback on a right answer")

    _menu(browser, "File", "Save Notebook")
    _wait(lambda: "GROUP BY u.id" in (mine / LESSON).read_text(), 30, "the learner's copy to be saved")
    assert _digest(shipped) == shipped_before, "the shipped lesson changed"
