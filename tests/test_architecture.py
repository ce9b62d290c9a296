"""The package's shape: dependencies run one way, no module reaches into another's private names, and a
lesson's exercise module is declarations of the kinds the package offers (no subclasses)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
PACKAGE = ROOT / "pglab"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names imported from it) for every import in the file, lazy ones included."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [alias.name for alias in node.names]
            if target.startswith("pglab"):
                found.append((target, names))
                for name in names:  # `from . import charts` imports the module pglab.charts
                    if (PACKAGE.parent / (target.replace(".", "/") + f"/{name}.py")).exists():
                        found.append((f"{target}.{name}", []))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("pglab")]
    return found


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_no_two_modules_import_each_other():
    edges = {name: {target for target, _ in _imports(path) if target in MODULES and target != name}
             for name, path in MODULES.items()}
    both_ways = sorted({tuple(sorted((a, b))) for a, targets in edges.items() for b in targets
                        if a in edges.get(b, set()) and not (a.startswith(b + ".") or b.startswith(a + "."))})
    assert not both_ways, f"imports run both ways between: {both_ways}"


def test_no_module_imports_a_private_name_of_another():
    private = [(name, target, imported) for name, path in MODULES.items() for target, names in _imports(path)
               for imported in names if imported.startswith("_") and target != name]
    assert not private, f"private names imported across modules: {private}"


def test_charts_draw_plain_data():
    assert not [t for t, _ in _imports(MODULES["pglab.charts"])], "charts.py must import nothing of the lab"


def test_lesson_exercise_modules_are_declarations():
    for path in sorted((PACKAGE / "exercises").glob("lesson_*.py")):
        classes = [node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)]
        assert not classes, f"{path.name} defines classes {classes}: declare exercises of the package's kinds"


def test_tool_modules_hold_no_lesson_content():
    for name in ("pglab.orm_tour", "pglab.lesson", "pglab.charts", "pglab.explain"):
        assert not [t for t, _ in _imports(MODULES[name]) if t.startswith("pglab.content")], name
