"""What a learner did with each exercise (check, hint, solution and the outcome), for their own progress table and,
in a workshop, the instructor's board. Never the answer's text.

Alone, events go to `.pglab/progress.jsonl`; in a workshop (PGLAB_WORKSHOP_TEMPLATE set), to the progress table the
instructor prepared, where row-level security keeps each learner to their own rows. Recording never slows or breaks a
check: it happens on a thread of its own, with short timeouts, and a failure is silent.
"""
from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Event:
    lesson: str
    exercise: str
    action: str  # check, hint, solution
    outcome: str  # passed, failed, not attempted, shown
    learner: str = ""


def _local_store() -> Path:
    from .server import state_dir

    return state_dir() / "progress.jsonl"


def _server_engine() -> Any:
    from . import connection, workshop

    url = connection.target().url_for(workshop.PROGRESS_DATABASE)
    return connection.make_engine(url.update_query_dict({"connect_timeout": "2"}), pool_size=1)


def _write(event: Event) -> None:
    from . import workshop

    try:
        if workshop.in_workshop():
            engine = _server_engine()
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql("SET LOCAL statement_timeout = 2000")
                    conn.exec_driver_sql("INSERT INTO events (lesson, exercise, action, outcome) "
                                         "VALUES (%(l)s, %(e)s, %(a)s, %(o)s)",
                                         {"l": event.lesson, "e": event.exercise, "a": event.action, "o": event.outcome})
            finally:
                engine.dispose()
        else:
            store = _local_store()
            store.parent.mkdir(parents=True, exist_ok=True)
            with store.open("a") as out:
                out.write(json.dumps({"lesson": event.lesson, "exercise": event.exercise, "action": event.action,
                                      "outcome": event.outcome, "at": time.time()}) + "\n")
    except Exception:  # progress is a convenience: a check must answer whatever happens to it
        pass


_pending: list[threading.Thread] = []


def record(lesson: str, exercise: str, action: str, outcome: str) -> None:
    thread = threading.Thread(target=_write, args=(Event(lesson, exercise, action, outcome),), daemon=True)
    thread.start()
    _pending[:] = [t for t in _pending if t.is_alive()] + [thread]


def flush(timeout: float = 5.0) -> None:
    """Wait for the events recorded so far (tests, and a command that reads them at once)."""
    for thread in list(_pending):
        thread.join(timeout)


def events() -> list[Event]:
    """The current learner's own events (in a workshop, the server shows them no one else's)."""
    from . import workshop

    if workshop.in_workshop():
        engine = _server_engine()
        try:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT lesson, exercise, action, outcome, learner FROM events ORDER BY id")
                return [Event(*map(str, row)) for row in rows]
        finally:
            engine.dispose()
    store = _local_store()
    if not store.exists():
        return []
    found = []
    for line in store.read_text().splitlines():
        try:
            item = json.loads(line)
            found.append(Event(item["lesson"], item["exercise"], item["action"], item["outcome"]))
        except (ValueError, KeyError):
            continue
    return found


def summary(found: Iterable[Event]) -> dict[tuple[str, str], dict[str, int]]:
    """For each (lesson, exercise): checks, passed, hints, solutions."""
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"checks": 0, "passed": 0, "hints": 0,
                                                                         "solutions": 0})
    for event in found:
        row = table[(event.lesson, event.exercise)]
        if event.action == "check" and event.outcome != "not attempted":
            row["checks"] += 1
            row["passed"] += event.outcome == "passed"
        elif event.action == "hint":
            row["hints"] += 1
        elif event.action == "solution":
            row["solutions"] += 1
    return dict(table)


def state(row: dict[str, int]) -> str:
    if row["passed"]:
        return "passed"
    if row["checks"]:
        return f"tried {row['checks']}x" + (", hinted" if row["hints"] else "")
    return "hinted" if row["hints"] else ("solution seen" if row["solutions"] else "")


def table_text(found: Iterable[Event]) -> str:
    rows = summary(found)
    if not rows:
        return "No exercise checked yet: run an exercise's check cell in a lesson."
    width = max(len(f"{lesson[:2]} {exercise}") for lesson, exercise in rows)
    lines = [f"{'exercise':<{width}}  state"]
    for (lesson, exercise), row in sorted(rows.items()):
        lines.append(f"{lesson[:2] + ' ' + exercise:<{width}}  {state(row)}")
    return "\n".join(lines)


__all__ = ["Event", "events", "flush", "record", "state", "summary", "table_text"]
