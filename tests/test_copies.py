"""The learner's copies (my-lessons/): made once, never overwritten, reset on request with the old copy kept, and
lessons updated since their copy named; the shipped lessons are never written."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from pglab import copies

SHIPPED = copies.LESSONS


def _two_lessons(tmp_path: Path) -> Path:
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    for name in ("00_getting_started.ipynb", "01_table_conventions.ipynb"):
        shutil.copy(SHIPPED / name, lessons / name)
    return lessons


def test_copies_are_made_once_and_never_overwritten(tmp_path):
    lessons, mine = _two_lessons(tmp_path), tmp_path / "my-lessons"
    assert copies.ensure(lessons, mine) == ["00_getting_started.ipynb", "01_table_conventions.ipynb"]
    edited = mine / "00_getting_started.ipynb"
    edited.write_text(edited.read_text().replace("getting", "GETTING"))
    before = edited.read_text()
    assert copies.ensure(lessons, mine) == []
    assert edited.read_text() == before
    assert "jupytext" not in json.loads(before)["metadata"]  # not paired: no .md written beside the learner's copy


def test_reset_gives_the_lesson_back_and_keeps_the_learners_copy(tmp_path):
    lessons, mine = _two_lessons(tmp_path), tmp_path / "my-lessons"
    copies.ensure(lessons, mine)
    (mine / "01_table_conventions.ipynb").write_text('{"my": "work"}')
    fresh, kept = copies.reset("01", lessons, mine)
    assert kept is not None and kept.read_text() == '{"my": "work"}'
    assert json.loads(fresh.read_text())["cells"] == json.loads((lessons / fresh.name).read_text())["cells"]


def test_changed_names_lessons_updated_since_the_copy(tmp_path):
    lessons, mine = _two_lessons(tmp_path), tmp_path / "my-lessons"
    copies.ensure(lessons, mine)
    assert {s.state for s in copies.changed(lessons, mine)} == {"up to date"}
    shipped = lessons / "01_table_conventions.ipynb"
    shipped.write_text(shipped.read_text().replace("Table", "The table", 1))
    shutil.copy(SHIPPED / "02_relationships.ipynb", lessons / "02_relationships.ipynb")
    states = {s.name: s.state for s in copies.changed(lessons, mine)}
    assert states == {"00_getting_started": "up to date", "01_table_conventions": "updated since your copy",
                      "02_relationships": "no copy yet"}


def test_make_lab_opens_the_copies_and_html_and_tests_read_the_shipped_lessons():
    makefile = (SHIPPED.parent / "Makefile").read_text()
    lab = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "pglab copies" in lab and "cd my-lessons" in lab
    html = makefile.split("\nhtml:", 1)[1].split("\n\n", 1)[0]
    assert "lessons.py html" in html and "my-lessons" not in html
    assert "my-lessons/" in (SHIPPED.parent / ".gitignore").read_text().split()
    ini = (SHIPPED.parent / "pyproject.toml").read_text()
    assert "my-lessons" in ini  # pytest never collects the learner's copies

