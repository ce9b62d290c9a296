"""The role lessons run as: never a superuser, so that an answer's SQL can do no more than a learner may.

A superuser can run shell commands (COPY ... TO PROGRAM), reach other databases (dblink), reset the server's
statistics and end other sessions, none of which the checker's rolled-back transaction undoes. So lessons
connect as a role of their own, `<prefix>_learner`: it owns the lessons' tables and nothing else, may read the
server's statistics and settings (pg_monitor), and is not a superuser.

When the lab itself connects as a role that is not a superuser (a workshop learner, a managed server), that role
is the lessons' role. When it connects as a superuser (the embedded server, docker-compose's postgres), it
creates the learner role; over TCP that role gets a password, kept in .pglab/roles.json (git-ignored). If the
server will not let the new role log in (a pg_hba.conf that only admits the superuser), lessons run as the
superuser and `LessonRole.warning` says what that means.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection

from . import databases

# What the learner role may read beyond its own tables: pg_stat_* of every session and pgstattuple/pg_visibility
# (pg_read_all_stats, pg_stat_scan_tables), and settings such as shared_preload_libraries (pg_read_all_settings).
GRANTED = ("pg_monitor",)


@dataclass(frozen=True)
class LessonRole:
    name: str
    password: str | None = None
    separate: bool = False  # a role the lab made for lessons (False: the lab's own login role)
    warning: str | None = None  # why lessons run as a superuser after all, when they do

    def url(self, base: URL) -> URL:
        """The URL lessons connect with: the base URL's server, this role."""
        if not self.separate:
            return base
        return base.set(username=self.name, password=self.password)


def role_name() -> str:
    return f"{databases.prefix()}_learner"


def _password_file() -> Path:
    from .server import state_dir

    return state_dir() / "roles.json"


def _stored_password(server_key: str) -> str:
    """The learner role's password on this server, made once and kept in .pglab/roles.json."""
    path = _password_file()
    stored: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    if server_key not in stored:
        stored[server_key] = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=1))
        os.chmod(path, 0o600)
    return stored[server_key]


def is_superuser(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar())


def ensure(conn: Connection, base: URL, *, embedded: bool,
           log_in_problem: Callable[[LessonRole], str | None]) -> LessonRole:
    """The role lessons connect as; created (or brought back to its attributes) when `conn` is a superuser's.
    `conn` is an autocommit administration connection; `log_in_problem` tries the role's URL (None: it works)."""
    if not is_superuser(conn):
        return LessonRole(str(conn.exec_driver_sql("SELECT current_user").scalar()))
    name = role_name()
    # The embedded server admits local connections without a password (trust on its own socket).
    password = None if embedded else _stored_password(f"{base.host or 'localhost'}:{base.port or 5432}/{name}")
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    secret = "" if password is None else " PASSWORD " + _literal(password)
    quoted = databases.quote(name)
    conn.exec_driver_sql("SELECT pg_advisory_lock(hashtext('pglab learner role'))")
    try:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
        conn.exec_driver_sql(f"{'ALTER' if exists else 'CREATE'} ROLE {quoted} {attributes}{secret}")
        for granted in GRANTED:
            conn.exec_driver_sql(f"GRANT {granted} TO {quoted}")
    finally:
        conn.exec_driver_sql("SELECT pg_advisory_unlock(hashtext('pglab learner role'))")
    role = LessonRole(name, password, separate=True)
    problem = log_in_problem(role)
    if problem:
        admin = str(conn.exec_driver_sql("SELECT current_user").scalar())
        return LessonRole(admin, warning=(
            f"the lab could not log in as its learner role {name} ({problem}), so lessons run as {admin}, a "
            "superuser, and an exercise's answer is not kept from the server (allow the role in pg_hba.conf, or "
            "put a role that is not a superuser in DATABASE_URL)."))
    return role


def hand_over(conn: Connection, role: LessonRole) -> None:
    """Make the role the owner of the schema public and of every table, view and sequence in it (in a dataset
    being built, so that every lesson's copy belongs to the role)."""
    if not role.separate:
        return
    quoted = databases.quote(role.name)
    conn.exec_driver_sql(f"ALTER SCHEMA public OWNER TO {quoted}")
    owned = conn.exec_driver_sql(
        "SELECT c.oid::regclass::text, c.relkind FROM pg_class AS c "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i', 'e')) "
        "ORDER BY 1").all()
    for relation, kind in owned:
        keyword = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE", "f": "FOREIGN TABLE"}.get(kind, "TABLE")
        conn.exec_driver_sql(f"ALTER {keyword} {relation} OWNER TO {quoted}")


# Functions a learner's answer could use to reach past its transaction (other sessions of the same role, sequences,
# listeners). Their privileges live in each database's pg_proc, so revoking them in the dataset revokes them in every
# lesson's copy; the lab's administration role (a superuser) keeps them. Only a superuser can revoke them.
SIDE_DOORS = ("pg_terminate_backend(integer, bigint)", "pg_cancel_backend(integer)", "setval(regclass, bigint)",
              "setval(regclass, bigint, boolean)", "pg_notify(text, text)")


def close_side_doors(conn: Connection) -> list[str]:
    """REVOKE EXECUTE ... FROM PUBLIC on SIDE_DOORS in this database; returns those it could revoke."""
    if not is_superuser(conn):
        return []
    closed = []
    for function in SIDE_DOORS:
        savepoint = conn.begin_nested()
        try:
            conn.exec_driver_sql(f"REVOKE EXECUTE ON FUNCTION pg_catalog.{function} FROM PUBLIC")
            savepoint.commit()
            closed.append(function)
        except Exception:
            savepoint.rollback()
    return closed


def _literal(text: str) -> str:
    from psycopg import sql

    return sql.Literal(text).as_string()


__all__ = ["GRANTED", "SIDE_DOORS", "LessonRole", "close_side_doors", "ensure", "hand_over", "is_superuser", "role_name"]
