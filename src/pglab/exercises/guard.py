"""Keeping a Python answer (an ORM function, a DataLoader batch function) inside the checker's transaction, and
counting every statement it sends.

The answer gets the checker's own connection. While it runs, that psycopg connection refuses to commit, roll back,
switch to autocommit or close, and every cursor made on it (SQLAlchemy's, or a raw one the answer opens itself)
refuses transaction control and is counted at the driver: an N+1 loop on a raw cursor is counted like one through
the ORM. Savepoints stay allowed (a Session's commit() inside the checker's transaction releases one).

What this cannot stop: a second engine or connection the answer opens itself. It runs as the lesson's role, which is
not a superuser and owns only the lesson's database (see pglab.roles), and its statements are not counted.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy.engine import Connection

from ..connection import driver
from ..querycount import StatementLog

_TRANSACTION_CONTROL = re.compile(
    r"^\s*(begin|start\s+transaction|commit|end|abort|rollback(?!\s+(work\s+|transaction\s+)?to\b)"
    r"|prepare\s+transaction|commit\s+prepared|rollback\s+prepared)\b", re.I)

# SQLAlchemy's own savepoints (sa_savepoint_N) go through these cursors too, so they cannot be refused by their text;
# an answer that releases one is told so when the checker's next step fails.
SAVEPOINT_LOST = re.compile(r"savepoint \S+ does not exist|no such savepoint", re.I)


class TransactionControlRefused(psycopg.ProgrammingError):
    """An answer tried to end or start a transaction on the checker's connection."""


@dataclass
class Watch:
    log: StatementLog = field(default_factory=StatementLog)
    refused: list[str] = field(default_factory=list)

    def refuse(self, what: str) -> TransactionControlRefused:
        self.refused.append(what)
        return TransactionControlRefused(
            f"{what} is refused here: the checker runs your function inside its own transaction and rolls it back")


def _watch_of(conn: Any) -> Watch | None:
    return getattr(conn, "_pglab_watch", None)


def _statements_in(query: Any) -> list[str]:
    if isinstance(query, bytes):
        query = query.decode(errors="replace")
    elif not isinstance(query, str):
        try:
            query = query.as_string(None)  # psycopg.sql.Composed
        except Exception:
            query = str(query)
    import sqlparse

    from .learner_sql import without_comments

    return [part for part in sqlparse.split(without_comments(query)) if part.strip(" ;\n\t")] or [query]


class WatchedCursor(psycopg.Cursor):  # type: ignore[type-arg]
    __slots__ = ()

    def _watched(self, query: Any) -> Watch | None:
        watch = _watch_of(self.connection)
        if watch is not None:
            for statement in _statements_in(query):
                if _TRANSACTION_CONTROL.match(statement):
                    raise watch.refuse(f"`{' '.join(statement.split())[:40]}`")
        return watch

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        watch = self._watched(query)
        result = super().execute(query, params, **kwargs)
        if watch is not None:
            text = query if isinstance(query, str) else str(query)
            watch.log.statements.append(text)
            watch.log.parameters.append(len(params) if isinstance(params, (list, tuple, dict)) else 0)
            watch.log.rows.append(max(self.rowcount, 0) if self.pgresult is not None and
                                  self.pgresult.status == pq.ExecStatus.TUPLES_OK else 0)
        return result

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        watch = self._watched(query)
        super().executemany(query, params_seq, **kwargs)
        if watch is not None:
            watch.log.statements.append(query if isinstance(query, str) else str(query))
            watch.log.parameters.append(0)
            watch.log.rows.append(0)


class GuardedConnection(psycopg.Connection):  # type: ignore[type-arg]
    __slots__ = ()

    def commit(self) -> None:
        raise _watch_of(self).refuse("commit()")  # type: ignore[union-attr]

    def rollback(self) -> None:
        raise _watch_of(self).refuse("rollback()")  # type: ignore[union-attr]

    def close(self) -> None:
        raise _watch_of(self).refuse("close()")  # type: ignore[union-attr]

    def set_autocommit(self, value: bool) -> None:
        raise _watch_of(self).refuse("autocommit")  # type: ignore[union-attr]

    @property
    def autocommit(self) -> bool:
        return False

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        raise _watch_of(self).refuse("autocommit")  # type: ignore[union-attr]


@contextmanager
def guarded(conn: Connection, watch: Watch | None = None) -> Iterator[Watch]:
    """While the block runs, the connection's driver connection stays in the checker's transaction (see the
    module's docstring); the Watch holds every statement sent and every refusal (even one the answer caught)."""
    raw = driver(conn)
    original_class, original_factory = raw.__class__, raw.cursor_factory
    watch = watch if watch is not None else Watch()
    raw._pglab_watch = watch  # type: ignore[attr-defined]
    raw.cursor_factory = WatchedCursor
    raw.__class__ = GuardedConnection
    try:
        yield watch
    finally:
        raw.__class__ = original_class
        raw.cursor_factory = original_factory
        del raw._pglab_watch  # type: ignore[attr-defined]


def escape_problem(conn: Connection, watch: Watch) -> str | None:
    """The sentence for an answer that tried to leave the checker's transaction, or None."""
    raw = driver(conn)
    if watch.refused:
        return (f"your function tried to end the checker's transaction ({watch.refused[0]}). The checker runs it "
                "inside a transaction of its own and rolls everything back afterwards: leave out COMMIT, ROLLBACK and "
                "session.commit() on the connection (a Session's commit() is fine), and return the result.")
    if raw.info.transaction_status not in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
        return ("your function ended the checker's transaction (the connection is no longer inside it). The checker "
                "runs your function inside its own transaction and rolls it back: do not commit or roll back.")
    return None


__all__ = ["SAVEPOINT_LOST", "GuardedConnection", "TransactionControlRefused", "Watch", "WatchedCursor", "escape_problem", "guarded"]
