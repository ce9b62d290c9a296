"""The helper package is typed; mypy keeps it so."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_package_type_checks():
    result = subprocess.run([sys.executable, "-m", "mypy", "src/pglab"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
