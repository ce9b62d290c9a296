"""On a plain server (nothing preloaded, no superuser) the lessons run to the end: the cells that need
pg_stat_statements or pgstattuple are reported as skipped, with the lesson's own reason, not as failures.

Slow (a dataset build on a server of its own): `make test-pg15` runs it (PGLAB_TEST_BARE_SERVER=1)."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ["notebooks/01_table_conventions.ipynb", "notebooks/04_n_plus_one.ipynb"]


@pytest.mark.skipif(not os.environ.get("PGLAB_TEST_BARE_SERVER"), reason="slow: run by make test-pg15")
@pytest.mark.skipif(not Path("/usr/lib/postgresql/15/bin/initdb").exists() or not shutil.which("bash"),
                    reason="needs Debian's PostgreSQL 15 binaries")
def test_lessons_pass_on_a_bare_server_with_skips_that_say_why():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PGLAB_TEST_BARE_SERVER")}
    env.update(BARE="1", PGLAB_RUN="bare")
    # The dataset first (as `make lab` does), so that no lesson's first cell prints the build's progress.
    command = (f"{shlex.quote(sys.executable)} -m pglab prepare && {shlex.quote(sys.executable)} -m pytest "
               + " ".join(shlex.quote(lesson) for lesson in LESSONS) + " -rs -q -p no:cacheprovider")
    run = subprocess.run(["bash", "scripts/with-pg15.sh", "bash", "-c", command],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert any("pg_stat_statements" in line and "shared_preload_libraries" in line for line in skipped), output[-3000:]
    assert any("pgstattuple" in line and "may not install it" in line for line in skipped), output[-3000:]
