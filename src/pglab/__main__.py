"""Command line: python -m pglab prepare|status|stop|clean|drop-lessons|url|audit [DATABASE_URL]."""
from __future__ import annotations

import argparse
import shutil
import sys
import time

from .errors import LabSetupError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pglab", description="Manage the lab's PostgreSQL.")
    parser.add_argument(
        "command",
        choices=["prepare", "status", "stop", "clean", "drop-lessons", "url", "audit"],
        help="prepare: start the server and build the dataset; status; stop: stop the embedded server; "
        "clean: stop it and delete its data folder; drop-lessons: drop the lesson databases; "
        "url: print the connection URL (for psql); "
        "audit: check a database's indexes and constraints (read-only)",
    )
    parser.add_argument("url", nargs="?", metavar="DATABASE_URL",
                        help="audit only: the database to audit (default: the DATABASE_URL variable)")
    args = parser.parse_args(argv)
    if args.command == "audit":
        return _audit(args.url)
    if args.url:
        parser.error(f"{args.command} takes no DATABASE_URL")
    try:
        return _run(args.command)
    except LabSetupError as error:
        print(f"pglab: {error}", file=sys.stderr)
        return 1


def _audit(url: str | None) -> int:
    import os

    from .audit import command

    url = url or os.environ.get("DATABASE_URL")
    if not url:
        print("pglab audit: give the database to audit, as in python -m pglab audit "
              "postgresql://user:password@host:5432/dbname (or set DATABASE_URL).", file=sys.stderr)
        return 2
    status, text = command(url)
    print(text, file=sys.stderr if status else sys.stdout)
    return status


def _run(command: str) -> int:
    import os

    from . import connection, databases, dataset, server

    embedded = not os.environ.get("DATABASE_URL")
    if command == "prepare":
        started = time.perf_counter()
        target = connection.target()
        admin = connection.admin_engine()
        with admin.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar_one()
            built = databases.is_ours(conn, dataset.template_name(dataset.current_scale()))
        admin.dispose()
        print(f"PostgreSQL {version}, {target.describe()}: ready in {time.perf_counter() - started:.1f} s", flush=True)
        name = dataset.ensure_template()
        print(f"Dataset: {name}" + (" (built before; every lesson copies it)" if built else ""))
        role = connection.lesson_role()
        print(role.warning or f"Lessons run as {role.name}, a role that is not a superuser.")
        return 0
    if command == "status":
        if not embedded:
            print(f"DATABASE_URL is set: the lab uses {connection.target().describe()}")
            return 0
        running = server.status()
        print(f"embedded PostgreSQL running, pid {running.pid}, socket {running.socket_dir}, data {running.data_dir}"
              if running else f"embedded PostgreSQL not running (data folder: {server.data_dir()})")
        return 0
    if command == "stop":
        print("stopped" if server.stop() else "the embedded server was not running")
        return 0
    if command == "clean":
        server.stop()
        if server.state_dir().exists():
            shutil.rmtree(server.state_dir())
        print(f"deleted {server.state_dir()}")
        return 0
    if command == "drop-lessons":
        import sqlalchemy as sa

        engine = connection.admin_engine()
        with engine.connect() as conn:
            for name, comment in databases.ours(conn):
                if comment.startswith(databases.OWNER_MARK + "lesson"):
                    databases.drop_if_ours(conn, name)
                    print(f"dropped {name}")
        engine.dispose()
        return 0
    if command == "url":
        url = connection.target().base_url.set(drivername="postgresql")
        print(url.render_as_string(hide_password=False))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
