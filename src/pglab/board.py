"""The instructor's live board: every learner against every exercise, the one most learners are stuck on first.

Served on 127.0.0.1 by default (`python -m pglab workshop board`), refreshing itself every few seconds; it reads the
workshop's progress table as the instructor (the table's owner, whom row-level security does not limit)."""
from __future__ import annotations

import html
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import progress

REFRESH_S = 5


def room(rows: list[tuple[str, str, str, str, str]]) -> tuple[list[str], list[tuple[str, str]], dict[Any, str]]:
    """(learners, exercises most-stuck first, {(learner, exercise): state}) from (learner, lesson, exercise, action,
    outcome) rows."""
    by_learner: dict[str, list[progress.Event]] = defaultdict(list)
    for learner, lesson, exercise, action, outcome in rows:
        by_learner[learner].append(progress.Event(lesson, exercise, action, outcome, learner))
    cells: dict[Any, str] = {}
    stuck: dict[tuple[str, str], int] = defaultdict(int)
    exercises: set[tuple[str, str]] = set()
    for learner, found in by_learner.items():
        for key, row in progress.summary(found).items():
            exercises.add(key)
            cells[(learner, key)] = progress.state(row)
            if row["checks"] and not row["passed"]:
                stuck[key] += 1
    ordered = sorted(exercises, key=lambda key: (-stuck[key], key))
    return sorted(by_learner), ordered, cells


def page(rows: list[tuple[str, str, str, str, str]]) -> str:
    learners, exercises, cells = room(rows)
    head = "".join(f"<th>{html.escape(lesson[:2])} {html.escape(name)}</th>" for lesson, name in exercises)
    body = []
    for learner in learners:
        tds = []
        for key in exercises:
            state = cells.get((learner, key), "")
            kind = "passed" if state == "passed" else ("tried" if state.startswith("tried") else "other")
            tds.append(f'<td class="{kind}">{html.escape(state)}</td>')
        body.append(f"<tr><th>{html.escape(learner)}</th>{''.join(tds)}</tr>")
    top = (f"<p id='stuck'>Most learners are stuck on: <b>{html.escape(exercises[0][0][:2])} "
           f"{html.escape(exercises[0][1])}</b></p>" if exercises else "<p id='stuck'>No exercise checked yet.</p>")
    return f"""<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_S}">
<title>pglab workshop board</title><style>
body{{font-family:sans-serif}} td,th{{border:1px solid #ccc;padding:4px 8px}} table{{border-collapse:collapse}}
td.passed{{background:#e8f5e9}} td.tried{{background:#fff3e0}}</style></head>
<body><h1>Workshop board</h1>{top}<table id="board"><tr><th>learner</th>{head}</tr>{''.join(body)}</table>
<p>{len(learners)} learners; refreshes every {REFRESH_S} s.</p></body></html>"""


def _rows() -> list[tuple[str, str, str, str, str]]:
    from . import connection, workshop

    engine = connection.make_engine(connection.target().url_for(workshop.PROGRESS_DATABASE), pool_size=1)
    try:
        with engine.connect() as conn:
            found = conn.exec_driver_sql("SELECT learner, lesson, exercise, action, outcome FROM events ORDER BY id")
            return [tuple(map(str, row)) for row in found]  # type: ignore[misc]
    finally:
        engine.dispose()


def serve(host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    class Board(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            try:
                body = page(_rows()).encode()
                self.send_response(200)
            except Exception as error:  # the page says what is wrong; the server goes on
                body = f"<p>The board cannot read the progress table: {html.escape(str(error))}</p>".encode()
                self.send_response(503)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, port), Board)


__all__ = ["page", "room", "serve"]
