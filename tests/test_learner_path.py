"""The learner's path, proven through each notebook's own cells (testbook): for every exercise, the cell that
shows its task, the answer cell (given the solution, then a plausible mistake, in place of the placeholder),
and hint() and solution() work as a learner would use them.

The convention a lesson follows, per exercise NAME: a code cell `ex.NAME` (shows the task), then one cell that
defines the answer (`answer = \"\"\"...\"\"\"`, `def answer(...)`, or the kind's name such as `async def batch`)
and ends with `ex.NAME.check(...)`, then a cell with `# ex.NAME.hint()` / `# ex.NAME.solution()`.
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from pglab.exercises import Exercise, for_lesson

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CONVENTION = ("the convention is: a cell `ex.{name}`, then one cell that defines the answer and ends with "
              "`ex.{name}.check(...)`, then a cell with `# ex.{name}.hint()` (see tests/test_learner_path.py)")


def _cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


def _find(sources: list[str], exercise: Exercise) -> tuple[int, int]:
    name = exercise.name
    task = [i for i, s in enumerate(sources) if s.strip() == f"ex.{name}"]
    answer = [i for i, s in enumerate(sources) if f"ex.{name}.check(" in s]
    if len(task) != 1 or len(answer) != 1 or not any(f"ex.{name}.hint()" in s for s in sources):
        pytest.fail(f"{exercise.title}: its cells cannot be found; " + CONVENTION.format(name=name))
    return task[0], answer[0]


def _with_answer(cell: str, exercise: Exercise, answer: object) -> str:
    """The answer cell with its placeholder replaced by `answer` (SQL text or Python source text)."""
    tree = ast.parse(cell)
    bound = [node for node in tree.body
             if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == exercise.answer_name for t in node.targets))
             or (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == exercise.answer_name)]
    if len(bound) != 1:
        pytest.fail(f"{exercise.title}: the answer cell must define {exercise.answer_name} once; "
                    + CONVENTION.format(name=exercise.name))
    node = bound[0]
    lines = cell.split("\n")
    first = (node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno) - 1
    code = answer if exercise.language == "python" else f"{exercise.answer_name} = {answer!r}"
    assert isinstance(code, str)
    return "\n".join(lines[:first] + code.split("\n") + lines[node.end_lineno:])


def _text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts.append(data.get("text/plain", "") if isinstance(data.get("text/plain", ""), str)
                     else "".join(data["text/plain"]))
        if output.get("output_type") == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}")
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_exercise_works_through_the_notebooks_own_cells(path: Path):
    from testbook import testbook

    exercises = for_lesson(path.stem)
    sources = _cells(path)
    located = {exercise.name: _find(sources, exercise) for exercise in exercises}
    first_code = next(i for i, c in enumerate(json.loads(path.read_text())["cells"])
                      if c["cell_type"] == "code" and "".join(c["source"]).strip())
    with testbook(str(path), execute=False, kernel_name="python3", timeout=600) as tb:
        # A database of its own: nbval may be running this very notebook at the same time.
        tb.inject("import os; os.environ['PGLAB_RUN'] = 'testtb'")
        tb.execute_cell(first_code)
        for exercise in exercises:
            task_cell, answer_cell = located[exercise.name]
            shown = _text(tb.execute_cell(task_cell))
            assert exercise.task.split("\n")[0][:40] in shown, f"ex.{exercise.name} does not show its task"
            passed = _text(tb.inject(_with_answer(sources[answer_cell], exercise, exercise.solution_text())))
            assert "✔ Correct" in passed, f"{exercise.title}: the solution in the notebook's cell gave {passed!r}"
            mistake = exercise.mistakes[0]
            failed = _text(tb.inject(_with_answer(sources[answer_cell], exercise, mistake.answer)))
            assert "✘ Not yet" in failed and mistake.expect in failed, f"{exercise.title}: {failed!r}"
            hint = _text(tb.inject(f"ex.{exercise.name}.hint()"))
            assert exercise.hints[0][:30] in hint
            solution = _text(tb.inject(f"ex.{exercise.name}.solution()"))
            assert exercise.solution_text().split("\n")[0] in solution
        tb.inject("from pglab import connection, databases\n"
                  "lab.engine.dispose()\n"
                  "with connection.admin_engine().connect() as conn:\n"
                  "    databases.drop_if_ours(conn, lab.database)")
    assert os.environ.get("PGLAB_RUN") != "testtb"  # only the notebook's kernel used the tag
