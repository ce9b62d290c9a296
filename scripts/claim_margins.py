"""How much room every timing claim has: each lesson runs K times with another lesson beside it (two at a time,
as on a learner's 2-core laptop with something else busy), and every claim_ratio() records what it measured.

    python scripts/claim_margins.py [--runs 10] [--parallel 2] [--log FILE] [lesson numbers...]

Prints a line as each run ends, then, per claim: its threshold, the smallest and the median ratio measured, and
the margin (smallest / threshold), worst first. Fails if a claim failed in any run, or if a lesson stopped for
another reason. The lab's rule: every timing claim keeps a margin of at least 2 at its worst (20 runs), or states
something else. `--report FILE` prints the table again from a kept log (of a run still going, too).
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import lessons  # noqa: E402

REQUIRED_MARGIN = 2.0


def run_one(source: Path, slots: queue.Queue[int], log: Path) -> tuple[float, str | None]:
    slot = slots.get()  # a run's databases are named by its slot: two runs at once never share one
    try:
        env = dict(os.environ, PGLAB_RUN=f"margin{slot}", PGLAB_CLAIM_LOG=str(log))
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(ROOT / "scripts/lessons.py"), "run", source.name[:2]],
                              env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
    finally:
        slots.put(slot)
    if done.returncode == 0:
        return elapsed, None
    return elapsed, f"{source.name[:2]}: " + (done.stderr.strip().splitlines() or ["?"])[-1]


def report(log: Path, runs_note: str) -> list[tuple]:
    """A ratio claim (claim_ratio) needs its smallest value above the threshold: margin = smallest / threshold.
    A time claim (claim_below) needs its largest value below the limit: margin = limit / largest."""
    measured: dict[tuple[str, str], list[float]] = defaultdict(list)
    limits: dict[tuple[str, str], tuple[float, bool]] = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        key = (entry["lesson"], entry["statement"])
        measured[key].append(entry["measured"])
        limits[key] = (entry["threshold"], entry.get("below", False))
    rows = []
    for key, values in measured.items():
        threshold, below = limits[key]
        worst = max(values) if below else min(values)
        margin = threshold / worst if below else worst / threshold
        rows.append((margin, key, threshold, below, worst, statistics.median(values), len(values)))
    rows.sort(key=lambda r: r[0])
    print(f"\n{len(rows)} timing claims, {runs_note}:\n")
    print(f"{'margin':>7} {'needs':>8} {'worst':>8} {'median':>8} {'runs':>4}  lesson  claim")
    for margin, (lesson, statement), threshold, below, worst, median, n in rows:
        unit = " s" if below else "x"
        needs = f"<{threshold:g}{unit}" if below else f">{threshold:g}{unit}"
        flag = "  <-- under 2" if margin < REQUIRED_MARGIN else ""
        print(f"{margin:7.2f} {needs:>8} {worst:7.2f}{unit} {median:7.2f}{unit} {n:4d}  {lesson[:2]}      "
              f"{statement[:90]}{flag}")
    print(f"\nworst margin: {rows[0][0]:.2f}" if rows else "\nno timing claims recorded")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "10")))
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--log", type=Path, help="keep the claim log here (default: a temporary file, removed)")
    parser.add_argument("--report", type=Path, help="only print the table from this kept log")
    parser.add_argument("lessons", nargs="*")
    args = parser.parse_args()
    if args.report:
        report(args.report, f"from {args.report}")
        return 0
    sources = lessons.lessons(args.lessons)
    log = args.log or Path(tempfile.mkstemp(prefix="pglab-claims-", suffix=".jsonl")[1])
    log.write_text("")
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(args.parallel):
        slots.put(slot)
    jobs = [source for _ in range(args.runs) for source in sources]
    stopped: list[str] = []
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for number, (source, (elapsed, problem)) in enumerate(
                zip(jobs, pool.map(lambda source: run_one(source, slots, log), jobs)), start=1):
            print(f"[{number}/{len(jobs)} at {time.monotonic() - started:5.0f} s] lesson {source.name[:2]} "
                  f"{elapsed:4.0f} s " + (f"STOPPED: {problem}" if problem else "ok"), flush=True)
            if problem:
                stopped.append(problem)
    rows = report(log, f"{args.runs} runs of {len(sources)} lessons, {args.parallel} at a time")
    for problem in stopped:
        print(f"stopped: {problem}")
    if not args.log:
        log.unlink()
    failed = [r for r in rows if r[0] <= 1.0]
    return 1 if failed or stopped else 0


if __name__ == "__main__":
    sys.exit(main())
