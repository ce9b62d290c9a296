"""A simulated workshop room on this machine (a benchmark, not a test): N learners start a lesson and check
exercises at the same time against one server, at the small scale.

    PGLAB_SCALE=small .venv/bin/python scripts/bench_workshop.py [N]   (default 10)

Reports the time to a ready lesson (median, worst), check latency, the server's disk per learner, that every event
reached the board's table and that no learner saw another's events. Cleans up after itself (workshop clean)."""
from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time

LEARNER = r"""
import json, time
t0 = time.perf_counter()
from pglab import start_lesson, progress
lab = start_lesson('00_getting_started', sql_magic=False)
ready = time.perf_counter() - t0
checks = []
for answer in ('SELECT 1', lab.exercises.top_authors.exercise.solution_text(), 'SELECT email FROM users LIMIT 5'):
    t = time.perf_counter(); lab.exercises.top_authors.check(answer); checks.append(time.perf_counter() - t)
progress.flush()
seen = {e.learner for e in progress.events()}
print(json.dumps({"ready": ready, "checks": checks, "seen": sorted(seen), "database": lab.database}))
"""


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    base = {k: v for k, v in os.environ.items() if not k.startswith("PGLAB_") or k == "PGLAB_SCALE"}
    base.setdefault("PGLAB_SCALE", "small")
    from pglab import connection

    admin_url = os.environ.get("DATABASE_URL") or connection.target().base_url.render_as_string(hide_password=False)
    instructor = dict(base, DATABASE_URL=admin_url)
    started = time.perf_counter()
    prepared = subprocess.run([sys.executable, "-m", "pglab", "workshop", "prepare", "--learners", str(count),
                               "--learner-prefix", "bench"], env=instructor, capture_output=True, text=True)
    if prepared.returncode:
        print(prepared.stderr)
        return 1
    print(f"prepare: {time.perf_counter() - started:.1f} s")
    envs = []
    for _name, line in re.findall(r"^  (bench\d\d): export (.*)$", prepared.stdout, re.M):
        env = dict(base)
        env.update(re.findall(r"(\w+)='?([^' ]+)'?", line))
        envs.append(env)
    try:
        room_started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", LEARNER], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for env in envs]
        results = []
        for proc, env in zip(procs, envs):
            out, err = proc.communicate(timeout=900)
            if proc.returncode:
                print(err[-2000:])
                return 1
            results.append((env["PGLAB_DB_PREFIX"], json.loads(out.strip().splitlines()[-1])))
        room = time.perf_counter() - room_started
        ready = [r["ready"] for _, r in results]
        checks = [c for _, r in results for c in r["checks"]]
        isolated = all(r["seen"] == [name] for name, r in results)
        import sqlalchemy as sa

        engine = sa.create_engine(sa.engine.make_url(admin_url), poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            sizes = [conn.execute(sa.text("SELECT pg_database_size(:d)"), {"d": r["database"]}).scalar()
                     for _, r in results]
        progress_url = sa.engine.make_url(admin_url).set(database="pglab_workshop_progress")
        engine = sa.create_engine(progress_url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            events = conn.execute(sa.text("SELECT learner, count(*) FROM events GROUP BY learner")).all()
        complete = len(events) == count and all(n == 3 for _, n in events)
        print(f"{count} learners at once, scale {base['PGLAB_SCALE']}: the room was ready and checked in {room:.1f} s")
        print(f"time to a ready lesson: median {statistics.median(ready):.1f} s, worst {max(ready):.1f} s")
        print(f"check latency: median {statistics.median(checks) * 1000:.0f} ms, worst {max(checks) * 1000:.0f} ms")
        print(f"disk per learner (one lesson database): {statistics.median(sizes) / 1e6:.0f} MB")
        print(f"every event reached the board's table: {complete}; no learner saw another's: {isolated}")
    finally:
        subprocess.run([sys.executable, "-m", "pglab", "workshop", "clean"], env=instructor, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
