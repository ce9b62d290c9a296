"""How long a learner waits for `ex.NAME.check(answer)`: every exercise's solution checked twice (the first check
computes the reference's result, the second reuses it) and its first mistake once. A benchmark, not a test.

    .venv/bin/python scripts/bench_checks.py [lesson numbers...]
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("PGLAB_RUN", "bench")


def main() -> int:
    from pglab import connection, databases, start_lesson
    from pglab.exercises import all_exercises

    wanted = sys.argv[1:]
    rows = []
    labs = {}
    for exercise in all_exercises():
        if wanted and exercise.lesson[:2] not in wanted:
            continue
        if exercise.lesson not in labs:
            labs[exercise.lesson] = start_lesson(exercise.lesson, sql_magic=False)
        engine = labs[exercise.lesson].engine
        times = []
        for answer in (exercise.solution_text(), exercise.solution_text(), exercise.mistakes[0].answer):
            started = time.perf_counter()
            exercise.evaluate(engine, answer)
            times.append(time.perf_counter() - started)
        rows.append((f"{exercise.lesson[:2]} {exercise.name}", exercise.kind, *times))
    width = max(len(r[0]) for r in rows)
    print(f"{'exercise':<{width}}  {'kind':<10}  first check  again   a mistake")
    for name, kind, first, again, mistake in rows:
        print(f"{name:<{width}}  {kind:<10}  {first * 1000:8.0f} ms  {again * 1000:5.0f} ms  {mistake * 1000:6.0f} ms")
    worst = max(rows, key=lambda r: r[3])
    print(f"\nslowest repeated check: {worst[0]} ({worst[3] * 1000:.0f} ms); "
          f"over half a second: {sum(1 for r in rows if r[3] > 0.5)} of {len(rows)}")
    with connection.admin_engine().connect() as conn:
        for lab in labs.values():
            lab.engine.dispose()
            databases.drop_if_ours(conn, lab.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
