"""Create the lab's virtual environment and install the pinned packages into it (what `make` runs first).

    python3 scripts/install.py [--venv .venv] [--installer uv|pip]

Standard library only: it runs on the learner's own Python before anything is installed. It installs with
uv (bootstrapped into the venv with pip, a few seconds) and falls back to pip where uv cannot be had.
PGLAB_INSTALLER=pip forces pip. Each step prints one line with its time.
"""
import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

SUPPORTED = ((3, 10), (3, 13))  # the Pythons requirements.lock is resolved and tested for
UV_VERSION = "0.13.9"
ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def say(message: str) -> None:
    print(message, flush=True)


def check_python() -> None:
    version = sys.version_info[:2]
    if version < SUPPORTED[0]:
        sys.exit(
            "The lab needs Python 3.10 or newer; this is Python %d.%d (%s). "
            "Run with another one, e.g. `make lab PYTHON=python3.12`." % (version + (sys.executable,))
        )
    if version > SUPPORTED[1]:
        say("Note: Python %d.%d is newer than the lab has been tested with (3.10 to 3.13); trying anyway." % version)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def create_venv(venv: Path) -> None:
    python = venv_python(venv)
    if python.exists() and subprocess.run([str(python), "-c", "import sys"], capture_output=True).returncode == 0:
        return
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if result.returncode != 0:
        hint = " (on Debian/Ubuntu: sudo apt install python3-venv)" if "ensurepip" in result.stdout + result.stderr else ""
        sys.exit("Could not create the virtual environment %s%s:\n%s" % (venv, hint, (result.stderr or result.stdout).strip()))
    say("Created the environment %s with Python %d.%d.%d (%.1f s)" % ((venv,) + sys.version_info[:3] + (time.perf_counter() - started,)))


def pinned_count() -> int:
    return sum(1 for line in LOCK.read_text().splitlines() if re.match(r"^[A-Za-z0-9].*==", line))


def bootstrap_uv(python: Path) -> "Path | None":
    """uv inside the venv, installed with pip if missing; None if it cannot be had here."""
    uv = python.parent / ("uv.exe" if os.name == "nt" else "uv")
    if uv.exists():
        return uv
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv==" + UV_VERSION],
        capture_output=True, text=True,
    )
    if result.returncode != 0 or not uv.exists():
        reason = (result.stderr or result.stdout).strip().splitlines()
        say("uv is not available here (%s): installing with pip instead, about a minute."
            % (reason[-1] if reason else "no wheel for this platform"))
        return None
    return uv


def uv_environment() -> dict:
    env = dict(os.environ)
    # uv does not read pip's settings: pass on an index a learner configured for pip, and trust the system's
    # certificates (as pip, curl and git do here) rather than only uv's own: behind a company proxy that
    # re-signs TLS, uv's own roots reject PyPI.
    if env.get("PIP_INDEX_URL") and not (env.get("UV_INDEX_URL") or env.get("UV_DEFAULT_INDEX")):
        env["UV_DEFAULT_INDEX"] = env["PIP_INDEX_URL"]
    env.setdefault("UV_SYSTEM_CERTS", "1")
    return env


def install_with_uv(uv: Path, python: Path) -> bool:
    """False (after one line saying why) if uv could not install the lock: the caller falls back to pip."""
    common = [str(uv), "pip", "install", "--quiet", "--python", str(python)]
    label = "Installing %d pinned packages with uv" % pinned_count()
    started = time.perf_counter()
    result = subprocess.run(common + ["-r", str(LOCK)], capture_output=True, text=True, env=uv_environment())
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        causes = [line for line in lines if line.startswith("cause:")]
        say("uv could not install the packages (%s): installing with pip instead, about a minute."
            % (causes[-1][len("cause:"):].strip() if causes else lines[0] if lines else "no reason given"))
        return False
    say("%s (%.1f s)" % (label, time.perf_counter() - started))
    run_step("Installing the lab's own package (pglab)", common + ["--no-deps", "-e", str(ROOT)], uv_environment())
    return True


def install_with_pip(python: Path) -> None:
    total = pinned_count()
    started = time.perf_counter()
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
               "-r", str(LOCK)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = 0
    output = []
    tty = sys.stdout.isatty()
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        if line.startswith("Collecting ") or line.startswith("Requirement already satisfied"):
            seen += 1
            if tty:
                print("\rInstalling %d pinned packages with pip: %d/%d" % (total, min(seen, total), total), end="", flush=True)
            elif seen % 25 == 0:
                say("  %d/%d packages" % (seen, total))
        elif line.startswith("Installing collected packages") and tty:
            print("\rInstalling %d pinned packages with pip: unpacking...   " % total, end="", flush=True)
    if tty:
        print()
    if process.wait() != 0:
        sys.exit("pip could not install the lab's packages:\n" + "".join(output[-15:]))
    say("Installed %d pinned packages with pip (%.1f s)" % (total, time.perf_counter() - started))
    run_step("Installing the lab's own package (pglab)",
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "-e", str(ROOT)])


def run_step(label: str, command: list, env: "dict | None" = None) -> None:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit("%s failed:\n%s" % (label, (result.stderr or result.stdout).strip()))
    say("%s (%.1f s)" % (label, time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    parser.add_argument("--installer", choices=["uv", "pip"], default=os.environ.get("PGLAB_INSTALLER", "uv"))
    args = parser.parse_args()
    check_python()
    venv = Path(args.venv)
    create_venv(venv)
    python = venv_python(venv)
    uv = bootstrap_uv(python) if args.installer == "uv" else None
    if uv is None or not install_with_uv(uv, python):
        install_with_pip(python)


if __name__ == "__main__":
    main()
