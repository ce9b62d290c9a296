"""Run-time budget of the lessons: nbval runs each notebook cell by cell; this adds the cells up.

A notebook's Restart & Run All should take under 60 s on a 2-core machine. The summary at the end
of every test run shows each notebook's time; a notebook over the hard limit (60 s plus a margin for
a loaded machine, PGLAB_NOTEBOOK_LIMIT_S to change it) fails the run.
"""
from __future__ import annotations

import os
from collections import defaultdict

import pytest

# The notebooks' kernels inherit this: a test run works in databases of its own (pglab_test_<lesson>),
# never in the ones a learner has open in JupyterLab.
os.environ.setdefault("PGLAB_RUN", "test")

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


def _drop_this_runs_lesson_databases() -> None:
    from pglab import connection, databases

    marker = f"(run {os.environ['PGLAB_RUN']})"
    admin = connection.admin_engine()
    try:
        with admin.connect() as conn:
            for name, comment in databases.ours(conn):
                if comment.startswith(databases.OWNER_MARK + "lesson") and comment.endswith(marker):
                    databases.drop_if_ours(conn, name)
    finally:
        admin.dispose()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not hasattr(session.config, "workerinput") and _seconds:  # the controller, after notebooks ran
        _drop_this_runs_lesson_databases()
    slow = {path: s for path, s in _seconds.items() if s > HARD_LIMIT_S}
    if slow:
        for path, seconds in slow.items():
            print(f"\n{path} took {seconds:.0f} s, over the {HARD_LIMIT_S:.0f} s limit for one notebook.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
