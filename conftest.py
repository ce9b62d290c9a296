"""How the test run treats the lessons (nbval runs each notebook cell by cell):

- Run-time budget: a notebook's Restart & Run All should take under 60 s on a 2-core machine. The summary at
  the end of every test run shows each notebook's time; a notebook over the hard limit (60 s plus a margin for
  a loaded machine, PGLAB_NOTEBOOK_LIMIT_S to change it) fails the run.
- Optional server features: a cell tagged `requires-<feature>` (pg_stat_statements, pgstattuple, ...) is
  compared as usual on a server that has the feature; on one without it, a difference in its output is
  reported as skipped, with the sentence the lesson itself prints (pglab.features). An error still fails.
"""
from __future__ import annotations

import json
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


# ---------------------------------------------------------------- optional server features

_missing: dict[str, str] | None = None


def _missing_features(config: pytest.Config) -> dict[str, str]:
    """Feature -> why it is missing, asked once per run (the controller asks; xdist workers are told)."""
    global _missing
    if _missing is None:
        given = getattr(config, "workerinput", {}).get("pglab_missing_features")
        _missing = json.loads(given) if given is not None else _ask_the_server()
    return _missing


def _ask_the_server() -> dict[str, str]:
    from pglab import connection, databases, features, start_lesson

    probe = start_lesson("features", with_dataset=False, sql_magic=False)
    try:
        found = {name: features.why_missing(probe.engine, name) for name in features.FEATURES}
    finally:
        probe.engine.dispose()
        with connection.admin_engine().connect() as conn:
            databases.drop_if_ours(conn, probe.database)
    return {name: why for name, why in found.items() if why is not None}


def pytest_configure_node(node) -> None:  # noqa: ANN001  (an xdist hook: runs only with -n)
    node.workerinput["pglab_missing_features"] = json.dumps(_missing_features(node.config))


def _required(item: pytest.Item) -> list[str]:
    cell = getattr(item, "cell", None)
    tags = cell.get("metadata", {}).get("tags", []) if cell is not None else []
    return [tag[len("requires-"):] for tag in tags if tag.startswith("requires-")]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    needed = _required(item) if report.when == "call" and report.failed else []
    if not needed:
        return
    missing = {name: why for name, why in _missing_features(item.config).items() if name in needed}
    error = call.excinfo.value if call.excinfo else None
    if missing and error is not None and getattr(error, "args", ())[:1] == ("Cell outputs differ",):
        report.outcome = "skipped"
        reason = " ".join(missing.values())
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: needs {', '.join(missing)}: {reason}")
