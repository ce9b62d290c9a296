"""The lab's own databases on a server: created and marked by the lab, and only those ever dropped.

Each database the lab creates carries a comment starting with OWNER_MARK. Before dropping or
replacing a database the lab reads that comment and the database's owner, so on a shared server
(DATABASE_URL) it never touches a database someone else made, even one with a name the lab would
use, nor the lab databases of another user of the same server (a workshop's other learners).
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
    """An identifier quoted as PostgreSQL wants it (psycopg's own quoting)."""
    from psycopg import sql

    return sql.Identifier(name).as_string()


_DESCRIBE = """
SELECT coalesce(shobj_description(d.oid, 'pg_database'), ''),
       d.datdba = (SELECT r.oid FROM pg_roles AS r WHERE r.rolname = current_user)
FROM pg_database AS d WHERE d.datname = :name
"""


def _describe(conn: Connection, name: str) -> tuple[str, bool] | None:
    """(comment, owned by the current user) of the database, None if it does not exist."""
    row = conn.execute(sa.text(_DESCRIBE), {"name": name}).first()
    return None if row is None else (str(row[0]), bool(row[1]))


def comment_of(conn: Connection, name: str) -> str | None:
    """The database's comment, '' if it has none, None if it does not exist."""
    described = _describe(conn, name)
    return None if described is None else described[0]


def exists(conn: Connection, name: str) -> bool:
    return _describe(conn, name) is not None


def _refuse(name: str, why: str) -> LabSetupError:
    return LabSetupError(
        f"Database {name} exists but {why}, so the lab leaves it alone: "
        "set PGLAB_DB_PREFIX to another name (e.g. your initials: export PGLAB_DB_PREFIX=ada) and run again."
    )


def is_ours(conn: Connection, name: str) -> bool:
    """True if the lab made this database for the current user; False if there is no such database.

    A database with this name that the lab made for another user of the server (another learner in a
    workshop) raises LabSetupError: the two users need different prefixes."""
    described = _describe(conn, name)
    if described is None or not described[0].startswith(OWNER_MARK):
        return False
    if not described[1]:
        raise _refuse(name, "the lab made it for another user of this server")
    return True


def ours(conn: Connection) -> list[tuple[str, str]]:
    """(name, comment) of every database with this prefix that the lab created for the current user."""
    rows = conn.execute(
        sa.text(
            "SELECT d.datname, shobj_description(d.oid, 'pg_database') FROM pg_database AS d "
            "WHERE shobj_description(d.oid, 'pg_database') LIKE :mark "
            "AND left(d.datname, length(:prefix)) = :prefix "
            "AND d.datdba = (SELECT r.oid FROM pg_roles AS r WHERE r.rolname = current_user) "
            "ORDER BY d.datname"
        ),
        {"mark": OWNER_MARK + "%", "prefix": prefix() + "_"},
    )
    return [(str(name), str(comment)) for name, comment in rows]


def drop_if_ours(conn: Connection, name: str) -> bool:
    """Drop the database if the lab made it for this user (ending its sessions); refuse otherwise."""
    described = _describe(conn, name)
    if described is None:
        return False
    if not described[0].startswith(OWNER_MARK):
        raise _refuse(name, "the lab did not create it")
    if not described[1]:
        raise _refuse(name, "the lab made it for another user of this server")
    conn.execute(sa.text(f"ALTER DATABASE {quote(name)} ALLOW_CONNECTIONS true IS_TEMPLATE false"))
    conn.execute(sa.text(f"DROP DATABASE {quote(name)} WITH (FORCE)"))
    return True


def mark(conn: Connection, name: str, description: str) -> None:
    from psycopg import sql

    literal = sql.Literal(OWNER_MARK + description).as_string()
    conn.execute(sa.text(f"COMMENT ON DATABASE {quote(name)} IS {literal}"))


def create(conn: Connection, name: str, description: str, template: str | None = None) -> None:
    """Create (or replace) one of the lab's databases, empty or as a copy of a template."""
    drop_if_ours(conn, name)
    source = f" TEMPLATE {quote(template)} STRATEGY FILE_COPY" if template else ""
    conn.execute(sa.text(f"CREATE DATABASE {quote(name)}{source}"))
    mark(conn, name, description)  # at once: a database the lab made and did not mark could never be dropped again
    # Only its owner (and whom the lab grants it to) may connect: on a shared server, no other learner.
    conn.execute(sa.text(f"REVOKE CONNECT, TEMPORARY ON DATABASE {quote(name)} FROM PUBLIC"))


def grant_connect(conn: Connection, name: str, role: str) -> None:
    conn.execute(sa.text(f"GRANT CONNECT, TEMPORARY ON DATABASE {quote(name)} TO {quote(role)}"))
