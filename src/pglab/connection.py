"""Where the lab's databases live, and engines configured the way every lesson expects.

Without DATABASE_URL the lab uses its embedded PostgreSQL 18; with it, any PostgreSQL 15-18 server
(`postgresql://user:password@host:port/dbname`, the form psql and docker use). The database named in
the URL is only used to connect; every lesson gets a database of its own next to it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from pathlib import Path
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from . import roles
from .errors import LabSetupError, short_message

# Every connection turns JIT and parallel workers off: on a 2-core laptop both add noise to timings
# and make plans differ from run to run. UTC makes shown timestamps the same for every reader.
SESSION_OPTIONS = "-c jit=off -c max_parallel_workers_per_gather=0 -c TimeZone=UTC"


@dataclass(frozen=True)
class ServerTarget:
    """The server the lab uses and the database it connects to for administration."""

    base_url: URL
    embedded: bool

    def url_for(self, database: str) -> URL:
        return self.base_url.set(database=database)

    def describe(self) -> str:
        if self.embedded:
            from .server import project_home

            socket = Path(str(self.base_url.query.get("host")))
            if socket.is_relative_to(project_home()):
                socket = socket.relative_to(project_home())
            return f"embedded PostgreSQL (unix socket in {socket})"
        return f"DATABASE_URL server {self.base_url.host or 'localhost'}:{self.base_url.port or 5432}"


def parse_database_url(text: str) -> URL:
    """Turn a libpq-style URL into a SQLAlchemy URL using psycopg 3."""
    try:
        url = make_url(text.strip())
    except Exception as error:
        raise LabSetupError(
            f"DATABASE_URL={text!r} is not a URL: use postgresql://user:password@host:port/dbname."
        ) from error
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise LabSetupError(
            f"DATABASE_URL must point at PostgreSQL (postgresql://user:password@host:port/dbname), not {url.drivername!r}."
        )
    return url.set(drivername="postgresql+psycopg", database=url.database or "postgres")


@lru_cache(maxsize=None)
def _target_for(database_url: str | None) -> ServerTarget:
    if database_url:
        return ServerTarget(parse_database_url(database_url), embedded=False)
    from . import server

    running = server.ensure_running()
    url = URL.create(
        "postgresql+psycopg",
        username="postgres",
        database="postgres",
        query={"host": str(running.socket_dir), "port": str(running.port)},
    )
    return ServerTarget(url, embedded=True)


def target() -> ServerTarget:
    """The server this process uses: DATABASE_URL if set, else the embedded one (started if needed)."""
    return _target_for(os.environ.get("DATABASE_URL") or None)


def make_engine(url: URL, *, autocommit: bool = False, pool_size: int = 5) -> Engine:
    """An engine with the lab's session settings and a pre-ping that survives a server restart."""
    options: dict[str, object] = {
        "pool_pre_ping": True,
        "pool_size": pool_size,
        "connect_args": {"options": SESSION_OPTIONS, "application_name": "pglab", "connect_timeout": 10},
    }
    if autocommit:
        options["isolation_level"] = "AUTOCOMMIT"
    return sa.create_engine(url, **options)


def admin_engine() -> Engine:
    """An autocommit engine on the administration database (for CREATE/DROP DATABASE)."""
    t = target()
    engine = make_engine(t.base_url, autocommit=True, pool_size=1)
    check_reachable(engine, t)
    return engine


@lru_cache(maxsize=None)
def _lesson_role_for(t: ServerTarget) -> roles.LessonRole:
    def log_in_problem(role: roles.LessonRole) -> str | None:
        engine = make_engine(role.url(t.base_url), pool_size=1)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.OperationalError as error:
            return short_message(error)
        finally:
            engine.dispose()
        return None

    admin = admin_engine()
    try:
        with admin.connect() as conn:
            return roles.ensure(conn, t.base_url, embedded=t.embedded, log_in_problem=log_in_problem)
    finally:
        admin.dispose()


def lesson_role() -> roles.LessonRole:
    """The role lessons (and the checker) connect as: see roles.py."""
    return _lesson_role_for(target())


def lesson_url(database: str) -> URL:
    """The URL of one of the lab's databases, for the lesson role."""
    return lesson_role().url(target().url_for(database))


def check_reachable(engine: Engine, t: ServerTarget) -> None:
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version_num")).scalar_one()
    except sa.exc.OperationalError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        if t.embedded:
            raise LabSetupError(
                f"The embedded PostgreSQL server is not answering ({reason}); run `make db-stop` and try again."
            ) from error
        raise LabSetupError(
            f"Cannot connect to {t.describe()} ({reason}): check that the server is running and that "
            "DATABASE_URL's user, password, host, port and database are right."
        ) from error
    if int(version) < 150000:
        raise LabSetupError(f"The lab needs PostgreSQL 15 or newer; {t.describe()} runs {version}.")


def driver(conn: Connection) -> Any:
    """The psycopg connection under a SQLAlchemy one."""
    raw = conn.connection.driver_connection
    assert raw is not None
    return raw


def run_script(conn: Connection, sql: str) -> Any:
    """Send SQL through the driver as one simple query: several statements in one round trip, no parameters
    (so a '%' or a ':' in it is literal). Returns the psycopg cursor (its rowcount is the last statement's)."""
    return driver(conn).execute(sql)
