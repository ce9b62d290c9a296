"""How much room every timing claim has: each lesson runs K times with another lesson beside it (two at a time,
as on a learner's 2-core laptop with something else busy), and every claim_ratio() records what it measured.

    python scripts/claim_margins.py [--runs 10] [--parallel 2] [lesson numbers...]

Prints, per claim: its threshold, the smallest and the median ratio measured, and the margin (smallest /
threshold), worst first. Fails if a claim failed in any run, or if a lesson stopped for another reason. The
lab's rule: every timing claim keeps a margin of at least 2 at its worst (20 runs), or states something else.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import lessons  # noqa: E402

REQUIRED_MARGIN = 2.0


def run_one(source: Path, slot: int, log: Path) -> str | None:
    env = dict(os.environ, PGLAB_RUN=f"margin{slot}", PGLAB_CLAIM_LOG=str(log))
    done = subprocess.run([sys.executable, str(ROOT / "scripts/lessons.py"), "run", source.name[:2]],
                          env=env, capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["?"])[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "10")))
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("lessons", nargs="*")
    args = parser.parse_args()
    sources = lessons.lessons(args.lessons)
    log = Path(tempfile.mkstemp(prefix="pglab-claims-", suffix=".jsonl")[1])
    stopped: list[str] = []
    jobs = [source for _ in range(args.runs) for source in sources]
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        slots = [i % args.parallel for i in range(len(jobs))]
        for problem in pool.map(lambda job: run_one(job[0], job[1], log), zip(jobs, slots)):
            if problem:
                stopped.append(problem)
    measured: dict[tuple[str, str], list[float]] = defaultdict(list)
    thresholds: dict[tuple[str, str], float] = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        key = (entry["lesson"], entry["statement"])
        measured[key].append(entry["measured"])
        thresholds[key] = entry["threshold"]
    rows = sorted(((min(v) / thresholds[k], k, thresholds[k], min(v), statistics.median(v), len(v))
                   for k, v in measured.items()), key=lambda r: r[0])
    print(f"\n{len(rows)} timing claims, {args.runs} runs of {len(sources)} lessons, {args.parallel} at a time:\n")
    print(f"{'margin':>7} {'needs':>7} {'worst':>8} {'median':>8} {'runs':>4}  lesson  claim")
    for margin, (lesson, statement), threshold, worst, median, n in rows:
        flag = "  <-- under 2" if margin < REQUIRED_MARGIN else ""
        print(f"{margin:7.2f} {threshold:6g}x {worst:7.1f}x {median:7.1f}x {n:4d}  {lesson[:2]}      "
              f"{statement[:90]}{flag}")
    failed = [r for r in rows if r[0] <= 1.0]
    for problem in stopped:
        print(f"stopped: {problem}")
    print(f"\nworst margin: {rows[0][0]:.2f}" if rows else "\nno timing claims recorded")
    log.unlink()
    return 1 if failed or stopped else 0


if __name__ == "__main__":
    sys.exit(main())
