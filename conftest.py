"""Run-time budget of the lessons: nbval runs each notebook cell by cell; this adds the cells up.

A notebook's Restart & Run All should take under 60 s on a 2-core machine. The summary at the end
of every test run shows each notebook's time; a notebook over the hard limit (60 s plus a margin for
a loaded machine, PGLAB_NOTEBOOK_LIMIT_S to change it) fails the run.
"""
from __future__ import annotations

import os
from collections import defaultdict

import pytest

BUDGET_S = 60.0
HARD_LIMIT_S = float(os.environ.get("PGLAB_NOTEBOOK_LIMIT_S", "90"))

_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    if not _seconds:
        return
    terminalreporter.section("notebook run times")
    for path, seconds in sorted(_seconds.items()):
        mark = "over the 60 s budget" if seconds > BUDGET_S else ""
        terminalreporter.write_line(f"{seconds:6.1f} s  {path}  {mark}".rstrip())


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    slow = {path: s for path, s in _seconds.items() if s > HARD_LIMIT_S}
    if slow:
        for path, seconds in slow.items():
            print(f"\n{path} took {seconds:.0f} s, over the {HARD_LIMIT_S:.0f} s limit for one notebook.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
