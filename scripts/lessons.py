"""The lessons' authoring tool: the MyST text sources are what people edit; the .ipynb files keep the outputs.

    python scripts/lessons.py execute [05 ...]   # text source -> notebook, run in a fresh kernel, outputs stored
    python scripts/lessons.py run [05 ...]       # the same run, nothing stored (say where a lesson stops)
    python scripts/lessons.py check              # every pair in sync (exit 1 and the diff if not)
    python scripts/lessons.py html [05 ...]      # the shipped lessons run and written as HTML to build/html

`execute` reads notebooks/NN_slug.md, runs it top to bottom in a fresh kernel (its own database, as `make test`
does: PGLAB_RUN=store), and writes notebooks/NN_slug.ipynb with no per-cell timestamps, the cell ids the
notebook already had, and no interpreter version, so a re-run that changed nothing changes only the outputs of
timing-dependent cells. A failing lesson is reported in one line (lesson, cell, error) and the others still run.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import os
import sys
import time
import uuid
from pathlib import Path

import jupytext
import nbformat
from jupytext.compare import compare_notebooks
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def lessons(selected: list[str] | None = None) -> list[Path]:
    """The text sources, all of them or those whose names start with the given numbers."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))
    if selected:
        found = [path for path in found if any(path.name.startswith(s) for s in selected)]
        if not found:
            sys.exit(f"no lesson matches {' '.join(selected)} in {NOTEBOOKS}")
    return found


def _keep_cell_ids(new: nbformat.NotebookNode, old: nbformat.NotebookNode | None) -> None:
    """A cell keeps its id while its text is unchanged; a new cell gets one derived from its text."""
    unused: dict[tuple[str, str], list[str | None]] = {}
    for cell in (old.cells if old is not None else []):
        unused.setdefault((cell.cell_type, cell.source), []).append(cell.get("id"))
    taken: set[str] = set()
    for position, cell in enumerate(new.cells):
        candidates = unused.get((cell.cell_type, cell.source), [])
        cell_id = candidates.pop(0) if candidates else None
        if not cell_id or cell_id in taken:
            cell_id = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
            while cell_id in taken:
                cell_id = hashlib.sha1(f"{cell_id}{position}".encode()).hexdigest()[:8]
        cell["id"] = cell_id
        taken.add(cell_id)


def _normalise(nb: nbformat.NotebookNode) -> None:
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.get("language_info", {}).pop("version", None)  # the author's interpreter, not the lesson's
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if "remove-output" in cell.metadata.get("tags", []):  # it shows the author's machine: the reader runs it
            cell["outputs"] = []


def notebook_from_source(source: Path) -> nbformat.NotebookNode:
    nb = jupytext.read(source)
    nb.nbformat, nb.nbformat_minor = 4, 5
    target = source.with_suffix(".ipynb")
    _keep_cell_ids(nb, nbformat.read(target, as_version=4) if target.exists() else None)
    _normalise(nb)
    return nb


def _kernel_manager() -> KernelManager | None:
    """A kernel on unix sockets where there are any (over TCP each kernel warns that its traffic is not encrypted),
    at an absolute path: the kernel runs in notebooks/, and a relative ipc path would not meet the client's."""
    if os.name != "posix":
        return None
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True)
    return KernelManager(kernel_name="python3", transport="ipc", ip=str(runtime / f"pglab-{uuid.uuid4().hex[:12]}"))


def execute(source: Path, store: bool = True, html: Path | None = None) -> str | None:
    """Run one lesson (and store it, or write it as HTML); None when it worked, else one line saying where it
    stopped."""
    nb = notebook_from_source(source)
    # The kernel inherits it: a database of its own, never the one a learner has open.
    os.environ.setdefault("PGLAB_RUN", "html" if html is not None else "store")
    os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
    client = NotebookClient(nb, km=_kernel_manager(), timeout=600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    started = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        cell = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and
                     any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        name = getattr(error, "ename", "error")
        value = str(getattr(error, "evalue", "")).strip().splitlines()[:1]
        return f"{source.name}: stopped at cell {cell} ({name}: {' '.join(value)[:300]}); nothing was written."
    finally:
        if client.km is not None and client.km.has_kernel:
            client.km.shutdown_kernel()
    if html is not None:
        from nbconvert import HTMLExporter

        _normalise(nb)
        # the lab template, with each chart's alternative text (scripts/templates/lab_alt)
        body, _ = HTMLExporter(extra_template_basedirs=[str(ROOT / "scripts" / "templates")],
                               template_name="lab_alt").from_notebook_node(nb)
        html.mkdir(parents=True, exist_ok=True)
        (html / f"{source.stem}.html").write_text(body)
        print(f"{source.stem}: written to {html.relative_to(ROOT)}/{source.stem}.html in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        return None
    if not store:
        print(f"{source.stem}: ran in {time.perf_counter() - started:.0f} s", flush=True)
        return None
    _normalise(nb)
    nbformat.write(nb, source.with_suffix(".ipynb"))
    print(f"{source.stem}: executed and stored in {time.perf_counter() - started:.0f} s", flush=True)
    return None


def out_of_sync(source: Path) -> str | None:
    """None if the notebook's cells are exactly the text source's; else what differs."""
    target = source.with_suffix(".ipynb")
    if not target.exists():
        return f"{target.name} is missing: run `make notebooks` (or python scripts/lessons.py execute {source.name[:2]})"
    stored = nbformat.read(target, as_version=4)
    try:
        compare_notebooks(copy.deepcopy(jupytext.read(source)), stored, fmt="md:myst")
    except Exception as difference:  # jupytext's NotebookDifference, with the diff in its message
        return f"{target.name} differs from {source.name}: {str(difference).strip()[:1500]}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description="Execute and check the lessons' notebooks from their text sources.")
    parser.add_argument("command", choices=["execute", "run", "check", "html"])
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: all)")
    args = parser.parse_args()
    problems = []
    for source in lessons(args.lessons):
        if args.command == "check":
            problem = out_of_sync(source)
        elif args.command == "html":
            problem = execute(source, store=False, html=ROOT / "build" / "html")
        else:
            problem = execute(source, store=args.command == "execute")
        if problem:
            print(problem, file=sys.stderr, flush=True)
            problems.append(problem)
    if args.command == "check" and not problems:
        print("every notebook is in sync with its text source")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
