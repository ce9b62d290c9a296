"""The learner's own copy of every lesson.

`make lab` opens JupyterLab in `my-lessons/` (ignored by git), where each lesson is copied the first time and never
overwritten: what a learner types, runs and saves is theirs, and the lessons in `notebooks/` stay as the project
ships them (so `git pull` never conflicts, and `make html`, `make test` and CI read only those). `reset` gives one
lesson back as shipped (the old copy is kept aside), and `changed` lists the lessons updated since their copy was made.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .server import project_home

LESSONS = project_home() / "notebooks"
COPIES = Path(os.environ.get("PGLAB_COPIES") or project_home() / "my-lessons")  # PGLAB_COPIES: elsewhere (tests)
_RECORD = ".copies.json"  # for each copy: the shipped lesson's digest when it was copied
_PREVIOUS = "previous"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped(lessons: Path = LESSONS) -> list[Path]:
    return sorted(lessons.glob("[0-9][0-9]_*.ipynb"))


def _learner_copy(source: Path) -> str:
    """The lesson as the learner gets it: not paired with the text source (JupyterLab would write a .md beside the
    learner's copy on every save), outputs kept so that a lesson reads before it runs."""
    notebook = json.loads(source.read_text())
    notebook.get("metadata", {}).pop("jupytext", None)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _read_record(copies: Path) -> dict[str, str]:
    path = copies / _RECORD
    return json.loads(path.read_text()) if path.exists() else {}


def _write_record(copies: Path, record: dict[str, str]) -> None:
    (copies / _RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def ensure(lessons: Path = LESSONS, copies: Path = COPIES) -> list[str]:
    """Copy every lesson that has no copy yet; never touch one that exists. Returns the names copied now."""
    copies.mkdir(exist_ok=True)
    record = _read_record(copies)
    made = []
    for source in shipped(lessons):
        target = copies / source.name
        if target.exists():
            record.setdefault(source.name, _digest(source))
            continue
        target.write_text(_learner_copy(source))
        record[source.name] = _digest(source)
        made.append(source.name)
    _write_record(copies, record)
    return made


def _find(lesson: str, lessons: Path) -> Path:
    matches = [p for p in shipped(lessons) if p.name.startswith(lesson) or p.stem == lesson]
    if len(matches) != 1:
        names = ", ".join(p.stem for p in shipped(lessons))
        raise LookupError(f"no single lesson matches {lesson!r} (the lessons: {names})")
    return matches[0]


def reset(lesson: str, lessons: Path = LESSONS, copies: Path = COPIES) -> tuple[Path, Path | None]:
    """The lesson's copy as shipped again; the learner's old copy is moved to my-lessons/previous/ (never deleted).
    Returns (the fresh copy, where the old one went or None)."""
    source = _find(lesson, lessons)
    copies.mkdir(exist_ok=True)
    target = copies / source.name
    kept = None
    if target.exists():
        previous = copies / _PREVIOUS
        previous.mkdir(exist_ok=True)
        kept = previous / f"{source.stem}-{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
        shutil.move(str(target), kept)
    target.write_text(_learner_copy(source))
    record = _read_record(copies)
    record[source.name] = _digest(source)
    _write_record(copies, record)
    return target, kept


@dataclass(frozen=True)
class LessonState:
    name: str
    state: str  # "up to date", "updated since your copy", "no copy yet"


def changed(lessons: Path = LESSONS, copies: Path = COPIES) -> list[LessonState]:
    record = _read_record(copies)
    states = []
    for source in shipped(lessons):
        if not (copies / source.name).exists():
            states.append(LessonState(source.stem, "no copy yet"))
        elif record.get(source.name) != _digest(source):
            states.append(LessonState(source.stem, "updated since your copy"))
        else:
            states.append(LessonState(source.stem, "up to date"))
    return states


__all__ = ["COPIES", "LESSONS", "LessonState", "changed", "ensure", "reset", "shipped"]
