"""The lab's own databases on a server: created and marked by the lab, and only those ever dropped.

Each database the lab creates carries a comment starting with OWNER_MARK. Before dropping or
replacing a database the lab reads that comment, so on a shared server (DATABASE_URL) it never
touches a database someone else made, even one with a name the lab would use.
"""
from __future__ import annotations

import os
import re

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .errors import LabSetupError

OWNER_MARK = "pglab:"


def prefix() -> str:
    """Database name prefix: PGLAB_DB_PREFIX (e.g. one per learner on a shared server), default pglab."""
    value = os.environ.get("PGLAB_DB_PREFIX", "pglab").strip().lower()
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,30}", value):
        raise LabSetupError(f"PGLAB_DB_PREFIX={value!r} must be letters, digits and _ (at most 31 characters).")
    return value


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def comment_of(conn: Connection, name: str) -> str | None:
    """The database's comment, '' if it has none, None if it does not exist."""
    row = conn.execute(
        sa.text(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = :name"
        ),
        {"name": name},
    ).first()
    return None if row is None else str(row[0])


def exists(conn: Connection, name: str) -> bool:
    return comment_of(conn, name) is not None


def is_ours(conn: Connection, name: str) -> bool:
    comment = comment_of(conn, name)
    return comment is not None and comment.startswith(OWNER_MARK)


def ours(conn: Connection) -> list[tuple[str, str]]:
    """(name, comment) of every database on the server that the lab created."""
    rows = conn.execute(
        sa.text(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE shobj_description(oid, 'pg_database') LIKE :mark ORDER BY datname"
        ),
        {"mark": OWNER_MARK + "%"},
    )
    return [(str(name), str(comment)) for name, comment in rows]


def drop_if_ours(conn: Connection, name: str) -> bool:
    """Drop the database if the lab made it (ending its sessions); refuse if someone else did."""
    comment = comment_of(conn, name)
    if comment is None:
        return False
    if not comment.startswith(OWNER_MARK):
        raise LabSetupError(
            f"Database {name} exists but the lab did not create it, so the lab leaves it alone: "
            "set PGLAB_DB_PREFIX to another name (e.g. your initials) and run again."
        )
    conn.execute(sa.text(f"ALTER DATABASE {quote(name)} ALLOW_CONNECTIONS true IS_TEMPLATE false"))
    conn.execute(sa.text(f"DROP DATABASE {quote(name)} WITH (FORCE)"))
    return True


def mark(conn: Connection, name: str, description: str) -> None:
    literal = "'" + (OWNER_MARK + description).replace("'", "''") + "'"
    conn.execute(sa.text(f"COMMENT ON DATABASE {quote(name)} IS {literal}"))


def create(conn: Connection, name: str, description: str, template: str | None = None) -> None:
    """Create (or replace) one of the lab's databases, empty or as a copy of a template."""
    drop_if_ours(conn, name)
    source = f" TEMPLATE {quote(template)} STRATEGY FILE_COPY" if template else ""
    conn.execute(sa.text(f"CREATE DATABASE {quote(name)}{source}"))
    mark(conn, name, description)
