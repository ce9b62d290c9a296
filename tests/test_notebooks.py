"""Every lesson notebook is stored the way a learner should first see it: executed top to bottom in one
kernel, no error outputs, its own database, no exercise solutions, and listed in the README."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from pglab.exercises import for_lesson

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import lessons  # noqa: E402  (scripts/lessons.py, the authoring tool)


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_from_one_clean_run(path: Path):
    counts = [c.get("execution_count") for c in _code_cells(path) if _source(c).strip()]
    assert counts == list(range(1, len(counts) + 1)), "Restart & Run All, then save"
    for cell in _code_cells(path):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"stored error in cell {_source(cell)[:60]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_paired_with_its_text_source_and_in_sync(path: Path):
    source = path.with_suffix(".md")
    assert source.exists(), f"{path.name} has no text source {source.name} (jupytext md:myst)"
    problem = lessons.out_of_sync(source)
    assert problem is None, problem + "\nEdit the .md, then `make notebook N=" + path.name[:2] + "`."


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_run_noise(path: Path):
    """What makes a re-run that changed nothing a diff of timing outputs only."""
    nb = json.loads(path.read_text())
    stamped = [i for i, c in enumerate(nb["cells"]) if "execution" in c.get("metadata", {})]
    assert not stamped, f"cells {stamped[:5]} carry execution timestamps: store with `make notebook`"
    assert "version" not in nb["metadata"].get("language_info", {}), "the author's Python version is stored"
    machine_specific = [i for i, c in enumerate(nb["cells"]) if "remove-output" in c["metadata"].get("tags", [])
                        and c.get("outputs")]
    assert not machine_specific, f"cells {machine_specific} are tagged remove-output but store outputs"
    ids = [c.get("id") for c in nb["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs a unique, stable id"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_test_markers_are_tags_not_code(path: Path):
    """A learner reads cells; nbval reads tags (nbval-ignore-output, raises-exception)."""
    for cell in _code_cells(path):
        assert "NBVAL_" not in _source(cell), f"move the marker in {_source(cell)[:60]!r} to a cell tag"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_starts_its_own_lesson(path: Path):
    first = next(_source(c) for c in _code_cells(path) if _source(c).strip())
    assert f'start_lesson("{path.stem}"' in first, "the first code cell must be start_lesson(<this notebook's name>)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_solutions_in_the_learners_notebook(path: Path):
    text = "\n".join(_source(c) for c in _code_cells(path))
    squeezed = re.sub(r"\s+", " ", text).lower()
    exercises = for_lesson(path.stem)
    assert len(exercises) >= (1 if path.stem.startswith("00") else 3)
    for exercise in exercises:
        assert f"ex.{exercise.name}.check(" in text, f"the notebook never checks {exercise.name}"
        if isinstance(exercise.solution_answer, str):
            solution = re.sub(r"\s+", " ", exercise.solution_answer).strip().lower()
            assert solution not in squeezed, f"the solution of {exercise.name} is in the notebook"


def test_readme_lists_every_lesson():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert path.name in readme, f"README does not list {path.name}"
