"""A lesson's claims: shown when the measurement agrees, stopping the notebook when it does not, and every timing
claim recorded for the margin report (scripts/claim_margins.py)."""
from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest

from pglab import ClaimFailed, claim_below, claim_ratio
from pglab import claims

ROOT = Path(__file__).resolve().parents[1]


def margins_script():
    spec = importlib.util.spec_from_file_location("claim_margins", ROOT / "scripts/claim_margins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_ratio_claim_fails_at_its_threshold_and_says_what_it_measured(monkeypatch, tmp_path):
    monkeypatch.setenv("PGLAB_CLAIM_LOG", str(tmp_path / "log.jsonl"))
    claim_ratio(25.0, 20, "faster with the index")
    with pytest.raises(ClaimFailed, match=r"20\.0x, where the claim needs more than 20x"):
        claim_ratio(20.0, 20, "faster with the index")
    entries = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [(e["measured"], e["threshold"], e["below"], e["holds"]) for e in entries] == [
        (25.0, 20.0, False, True), (20.0, 20.0, False, False)]


def test_a_time_claim_must_stay_below_its_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("PGLAB_CLAIM_LOG", str(tmp_path / "log.jsonl"))
    claim_below(0.25, 0.8, "no reader waited as long as 0.8 s")
    with pytest.raises(ClaimFailed, match=r"0\.900 s, where the claim needs under 0\.8 s"):
        claim_below(0.9, 0.8, "no reader waited as long as 0.8 s")
    entries = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [(e["below"], e["holds"]) for e in entries] == [(True, True), (True, False)]


def test_nothing_is_recorded_without_a_log(monkeypatch, tmp_path):
    monkeypatch.delenv("PGLAB_CLAIM_LOG", raising=False)
    monkeypatch.chdir(tmp_path)
    claim_ratio(30.0, 20, "faster")
    assert list(tmp_path.iterdir()) == []


def test_the_margin_report_puts_the_thinnest_claim_first_for_both_kinds(monkeypatch, tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("PGLAB_CLAIM_LOG", str(log))
    monkeypatch.setattr(claims, "current_lesson", "05_pagination")
    for measured in (90.0, 45.0, 60.0):
        claim_ratio(measured, 10, "keyset beats OFFSET")  # worst 45: margin 4.5
    monkeypatch.setattr(claims, "current_lesson", "09_migrations")
    for seconds in (0.2, 0.5, 0.3):
        claim_below(seconds, 0.8, "no reader waited as long as 0.8 s")  # worst 0.5 s: margin 1.6
    capsys.readouterr()
    rows = margins_script().report(log, "a test")
    assert [(round(r[0], 2), r[1][0]) for r in rows] == [(1.6, "09_migrations"), (4.5, "05_pagination")]
    printed = capsys.readouterr().out
    assert "<0.8 s" in printed and "<-- under 2" in printed and ">10x" in printed
    assert printed.index("no reader waited") < printed.index("keyset beats OFFSET")


def _timing_names(condition: ast.expr) -> list[str]:
    """Names in a condition that read as times: *_ms, *_s, seconds, ratio, median, elapsed, waits."""
    names = [node.id if isinstance(node, ast.Name) else node.attr
             for node in ast.walk(condition) if isinstance(node, (ast.Name, ast.Attribute))]
    methods = [node.func.attr for node in ast.walk(condition)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)]
    return [name for name in names if name.endswith(("_ms", "_s")) or any(
        word in name for word in ("seconds", "median", "elapsed", "waits", "timing"))] + [
        method for method in methods if method in ("ratio", "median", "fastest")]


def _code_cells(source: Path) -> list[str]:
    cells, inside, lines = [], False, []
    for line in source.read_text().splitlines():
        if line.startswith("```{code-cell}"):
            inside, lines = True, []
        elif inside and line.startswith("```"):
            inside = False
            if not (lines and lines[0].startswith("%%")):  # a %%sql cell is SQL
                cells.append("\n".join(line for line in lines if not line.startswith("%")))
        elif inside and not line.startswith(":"):
            lines.append(line)
    return cells


def test_every_timing_claim_in_the_lessons_is_one_the_margin_report_can_name():
    """A bare claim(...) on a time would escape `make claim-margins`: timing claims use claim_ratio or claim_below."""
    bare = []
    for source in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")):
        for code in _code_cells(source):
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "claim" and node.args:
                    if _timing_names(node.args[0]):
                        bare.append(f"{source.name}: claim({ast.unparse(node.args[0])}, ...)")
    assert bare == []
