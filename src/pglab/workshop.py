"""Workshop mode: one shared PostgreSQL, prepared once by the instructor, each learner isolated from the others.

`python -m pglab workshop prepare` (a superuser's DATABASE_URL) builds the dataset once as a template every learner
may copy (its tables belong to the group role `pglab_workshop_learner`, of which each learner is a member, so a
learner owns the tables of their own copy), creates the progress table, optionally the learners' roles, and prints
each learner's settings. A learner's `start_lesson` then copies that template (PGLAB_WORKSHOP_TEMPLATE) and never
builds; their lesson databases admit only them (CONNECT is revoked from PUBLIC) and at most PGLAB_KEEP_LESSONS of them
are kept. `workshop clean` drops what the workshop made and nothing else.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection

from . import databases
from .errors import LabSetupError

PREFIX = "pglab_workshop"
GROUP = f"{PREFIX}_learner"  # owns the template's tables; every learner is a member
PROGRESS_DATABASE = f"{PREFIX}_progress"
KEEP_DEFAULT = 3  # lesson databases a workshop learner keeps: the current one and the two before it

PROGRESS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  learner   text NOT NULL DEFAULT current_user,
  lesson    text NOT NULL,
  exercise  text NOT NULL,
  action    text NOT NULL CHECK (action IN ('check', 'hint', 'solution')),
  outcome   text NOT NULL CHECK (outcome IN ('passed', 'failed', 'not attempted', 'shown')),
  at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS events_lesson_exercise_idx ON events (lesson, exercise, learner);
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS own_events ON events;
CREATE POLICY own_events ON events TO {GROUP} USING (learner = current_user) WITH CHECK (learner = current_user);
GRANT SELECT, INSERT ON events TO {GROUP};
REVOKE ALL ON DATABASE {PROGRESS_DATABASE} FROM PUBLIC;
GRANT CONNECT ON DATABASE {PROGRESS_DATABASE} TO {GROUP};
"""


@dataclass(frozen=True)
class Learner:
    name: str
    password: str
    url: str
    prefix: str


def in_workshop() -> bool:
    return bool(os.environ.get("PGLAB_WORKSHOP_TEMPLATE"))


def keep_lessons() -> int | None:
    """How many lesson databases a learner keeps (PGLAB_KEEP_LESSONS); in a workshop 3 by default, else all."""
    value = os.environ.get("PGLAB_KEEP_LESSONS")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise LabSetupError(f"PGLAB_KEEP_LESSONS={value!r} must be a number of lessons, such as 3.") from None
    return KEEP_DEFAULT if in_workshop() else None


def prune_lessons(conn: Connection, keep: int, run_marker: str) -> list[str]:
    """Drop this user's oldest lesson databases (of this run tag) beyond `keep`; returns the names dropped."""
    rows = conn.execute(sa.text(
        "SELECT d.datname FROM pg_database AS d WHERE shobj_description(d.oid, 'pg_database') LIKE :mark "
        "AND (shobj_description(d.oid, 'pg_database') LIKE :run) = :tagged "
        "AND left(d.datname, length(:prefix)) = :prefix "
        "AND d.datdba = (SELECT r.oid FROM pg_roles AS r WHERE r.rolname = current_user) ORDER BY d.oid"),
        {"mark": databases.OWNER_MARK + "lesson %", "run": f"%{run_marker}" if run_marker else "%(run %",
         "tagged": bool(run_marker), "prefix": databases.prefix() + "_"})
    names = [str(name) for (name,) in rows]
    dropped = names[:-keep] if len(names) > keep else []
    for name in dropped:
        databases.drop_if_ours(conn, name)
    return dropped


def _is_superuser(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar())


def prepare(learners: int = 0, learner_prefix: str = "learner") -> tuple[str, list[Learner], list[str]]:
    """Build the shared template and the progress table; create `learners` roles. Returns (template, learners,
    what the server lacks, one sentence each)."""
    os.environ["PGLAB_DB_PREFIX"] = PREFIX  # the template and the group role carry the workshop's name
    from . import connection, dataset

    admin = connection.admin_engine()
    try:
        with admin.connect() as conn:
            if not _is_superuser(conn):
                raise LabSetupError("workshop prepare needs a superuser's DATABASE_URL (it creates the learners' "
                                    "group role and hands the dataset's tables to it).")
    finally:
        admin.dispose()
    template = dataset.ensure_template()
    lacking = []
    admin = connection.admin_engine()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"ALTER ROLE {GROUP} NOLOGIN")  # a group: learners log in as themselves
            conn.exec_driver_sql(f"ALTER DATABASE {databases.quote(template)} IS_TEMPLATE true")
            preload = str(conn.exec_driver_sql("SHOW shared_preload_libraries").scalar())
            if "pg_stat_statements" not in preload:
                lacking.append("pg_stat_statements is not preloaded, so the lessons that count statements on the "
                               "server skip that part: add shared_preload_libraries = 'pg_stat_statements' to "
                               "postgresql.conf and restart the server.")
            if not databases.exists(conn, PROGRESS_DATABASE):
                databases.create(conn, PROGRESS_DATABASE, "workshop progress")
            made = [_learner(conn, f"{learner_prefix}{n:02d}", template) for n in range(1, learners + 1)]
        progress = connection.make_engine(connection.target().url_for(PROGRESS_DATABASE), pool_size=1)
        try:
            with progress.begin() as conn:
                conn.exec_driver_sql(PROGRESS_SCHEMA)
        finally:
            progress.dispose()
    finally:
        admin.dispose()
    return template, made, lacking


def _learner(conn: Connection, name: str, template: str) -> Learner:
    from . import connection

    password = secrets.token_urlsafe(12)
    quoted = databases.quote(name)
    exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
    conn.exec_driver_sql(f"{'ALTER' if exists else 'CREATE'} ROLE {quoted} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE "
                         f"NOBYPASSRLS PASSWORD '{password}'")
    conn.exec_driver_sql(f"COMMENT ON ROLE {quoted} IS 'pglab: workshop learner'")
    conn.exec_driver_sql(f"GRANT {GROUP} TO {quoted}")
    base: URL = connection.target().base_url
    url = base.set(username=name, password=password).render_as_string(hide_password=False)
    return Learner(name, password, url, name)


def learner_settings(learner: Learner, template: str) -> str:
    return (f"export DATABASE_URL='{learner.url}' PGLAB_DB_PREFIX={learner.prefix} "
            f"PGLAB_WORKSHOP_TEMPLATE={template}")


def clean() -> list[str]:
    """Drop what the workshop made: the learners' databases and roles, the progress database, the template and
    the group role. Nothing else: only roles marked as workshop learners, and databases they own or the lab marked."""
    os.environ["PGLAB_DB_PREFIX"] = PREFIX
    from . import connection

    done = []
    admin = connection.admin_engine()
    try:
        with admin.connect() as conn:
            learners = conn.execute(sa.text(
                "SELECT r.rolname FROM pg_roles AS r WHERE shobj_description(r.oid, 'pg_authid') = "
                "'pglab: workshop learner' ORDER BY 1")).scalars().all()
            for learner in learners:
                owned = conn.execute(sa.text(
                    "SELECT d.datname FROM pg_database AS d JOIN pg_roles AS r ON r.oid = d.datdba "
                    "WHERE r.rolname = :r AND shobj_description(d.oid, 'pg_database') LIKE :mark"),
                    {"r": learner, "mark": databases.OWNER_MARK + "%"}).scalars().all()
                for name in owned:
                    conn.exec_driver_sql(f"DROP DATABASE {databases.quote(name)} WITH (FORCE)")
                    done.append(f"database {name}")
                conn.exec_driver_sql(f"DROP ROLE {databases.quote(learner)}")
                done.append(f"role {learner}")
            for name, _comment in databases.ours(conn):
                databases.drop_if_ours(conn, name)
                done.append(f"database {name}")
            if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": GROUP}).first():
                conn.exec_driver_sql(f"DROP OWNED BY {GROUP}")
                conn.exec_driver_sql(f"DROP ROLE {GROUP}")
                done.append(f"role {GROUP}")
    finally:
        admin.dispose()
    return done


__all__ = ["GROUP", "KEEP_DEFAULT", "Learner", "PROGRESS_DATABASE", "clean", "in_workshop", "keep_lessons",
           "learner_settings", "prepare", "prune_lessons"]
