"""Benchmark a new learner's first run: a fresh clone, nothing cached, `make lab` until JupyterLab answers, then
`make test` on that clone. A benchmark, not a test: it prints the figures (README: "Measured on the reference
machine") and fails only if a step fails.

    python3 scripts/bench_first_run.py [--skip-test] [--python python3.10]

Measured in the same run, for comparison: installing the same lock with pip into another fresh environment.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_environment(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "PGLAB_RUN", "PGLAB_HOME", "XDG_RUNTIME_DIR", "VIRTUAL_ENV", "PGLAB_SCALE")}
    env["UV_CACHE_DIR"] = str(scratch / "uv-cache")  # nothing cached: a learner's first install
    env["PIP_NO_CACHE_DIR"] = "1"
    return env


def first_lab_page(clone: Path, env: dict[str, str], python: str) -> tuple[float, str]:
    """Run `make lab` in the fresh clone; seconds until the JupyterLab page answers, and make's output."""
    port = free_port()
    token = "bench"
    args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token}"
    started = time.perf_counter()
    lab = subprocess.Popen(["make", "lab", f"PYTHON={python}", f"LAB_ARGS={args}"], cwd=clone, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}/lab?token={token}"
    seconds = None
    try:
        while lab.poll() is None and time.perf_counter() - started < 600:
            try:
                with urllib.request.urlopen(url, timeout=2) as page:
                    if page.status == 200 and b"JupyterLab" in page.read():
                        seconds = time.perf_counter() - started
                        break
            except OSError:
                time.sleep(0.2)
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        output, _ = lab.communicate(timeout=60)
    if seconds is None:
        sys.exit("JupyterLab never answered:\n" + output[-3000:])
    return seconds, output


def step_seconds(output: str, pattern: str) -> float | None:
    match = re.search(pattern, output)
    return float(match.group(1)) if match else None


def pip_install_seconds(scratch: Path, env: dict[str, str], python: str, lock: Path) -> float:
    venv = scratch / "pip-venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env)
    started = time.perf_counter()
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-cache-dir", "-r", str(lock)], check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3", help="the learner's Python (default python3)")
    parser.add_argument("--skip-test", action="store_true", help="do not run `make test` on the clone")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="pglab-bench-", dir="/tmp"))  # short: unix socket paths are limited
    clone = scratch / "lab"
    env = clean_environment(scratch)
    figures: list[tuple[str, str]] = []
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        seconds, output = first_lab_page(clone, env, args.python)
        install = sum(s for s in (step_seconds(output, r"Created the environment .*\(([\d.]+) s\)"),
                                  step_seconds(output, r"pinned packages with \w+ \(([\d.]+) s\)"),
                                  step_seconds(output, r"lab's own package \(pglab\) \(([\d.]+) s\)")) if s)
        installer = "uv" if "with uv" in output else "pip"
        figures.append((f"environment + install ({installer}, nothing cached)", f"{install:.1f} s"))
        server = step_seconds(output, r"ready in ([\d.]+) s")
        figures.append(("embedded server start", f"{server:.1f} s" if server is not None else "?"))
        build = step_seconds(output, r"Dataset ready in ([\d.]+) s")
        figures.append(("dataset build (once)", f"{build:.1f} s" if build is not None else "?"))
        figures.append(("fresh clone to the first JupyterLab page", f"{seconds:.1f} s"))
        figures.append(("(same lock with pip, no cache, for comparison)",
                        f"{pip_install_seconds(scratch, env, args.python, clone / 'requirements.lock'):.1f} s"))
        if not args.skip_test:
            started = time.perf_counter()
            test = subprocess.run(["make", "test", f"PYTHON={args.python}"], cwd=clone, env=env,
                                  capture_output=True, text=True)
            summary = [line for line in test.stdout.splitlines() if re.search(r"\d+ passed", line)]
            figures.append(("`make test` on that clone", f"{time.perf_counter() - started:.0f} s "
                            f"({summary[-1].strip(' =') if summary else 'no summary'})"))
            if test.returncode != 0:
                log = Path(tempfile.gettempdir()) / "pglab-bench-make-test.log"
                log.write_text(test.stdout + test.stderr)
                print(f"`make test` failed on the clone: its output is in {log}")
        python_version = subprocess.run([args.python, "--version"], capture_output=True, text=True).stdout.strip()
        print(f"\nFirst run from a fresh clone ({python_version}, {os.cpu_count()} cores):")
        width = max(len(name) for name, _ in figures)
        for name, value in figures:
            print(f"  {name:<{width}}  {value}")
        return 0
    finally:
        subprocess.run(["make", "db-stop"], cwd=clone, env=env, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
