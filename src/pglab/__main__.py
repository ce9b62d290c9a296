"""Command line: python -m pglab prepare|status|stop|clean|drop-lessons|url|copies|reset NN|changed|progress|
workshop prepare|board|clean|audit [DATABASE_URL]."""
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
        choices=["prepare", "status", "stop", "clean", "drop-lessons", "url", "copies", "reset", "changed", "progress",
                 "workshop", "audit"],
        help="prepare: start the server and build the dataset; status; stop: stop the embedded server; "
        "clean: stop it and delete its data folder; drop-lessons: drop the lesson databases; "
        "url: print the connection URL (for psql); copies: make your copy of each lesson in my-lessons/; "
        "reset NN: your copy of lesson NN as shipped (the old one is kept); changed: lessons updated since your copy; "
        "progress: your exercises so far; workshop prepare|board|clean: for an instructor (see the README); "
        "audit [DATABASE_URL]: check a database's indexes and constraints (read-only)",
    )
    parser.add_argument("lesson", nargs="?", metavar="ARGUMENT",
                        help="reset: the lesson's number (05) or name; workshop: prepare, board or clean; "
                             "audit: the database to audit (default: the DATABASE_URL variable)")
    parser.add_argument("--learners", type=int, default=0, help="workshop prepare: create this many learner roles")
    parser.add_argument("--learner-prefix", default="learner", help="workshop prepare: the learners' role names")
    parser.add_argument("--host", default="127.0.0.1", help="workshop board: the address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="workshop board: the port")
    args = parser.parse_args(argv)
    if args.command == "audit":
        return _audit(args.lesson)
    if args.command in ("copies", "reset", "changed"):
        return _copies(args.command, args.lesson)
    if args.command in ("progress", "workshop"):
        try:
            return _workshop(args)
        except LabSetupError as error:
            print(f"pglab: {error}", file=sys.stderr)
            return 1
    if args.lesson:
        parser.error(f"{args.command} takes no argument")
    try:
        return _run(args.command)
    except LabSetupError as error:
        print(f"pglab: {error}", file=sys.stderr)
        return 1


def _workshop(args: argparse.Namespace) -> int:
    from . import progress, workshop

    if args.command == "progress":
        print(progress.table_text(progress.events()))
        return 0
    if args.lesson == "prepare":
        template, learners, lacking = workshop.prepare(args.learners, args.learner_prefix)
        print(f"The workshop's dataset is {template}: every learner copies it, none builds it.")
        for sentence in lacking:
            print(f"The server lacks something: {sentence}")
        if learners:
            print("Each learner sets these (in the shell before `make lab`):")
            for learner in learners:
                print(f"  {learner.name}: {workshop.learner_settings(learner, template)}")
        else:
            print("Learners: create each role LOGIN CREATEDB, GRANT pglab_workshop_learner TO it, and give them "
                  f"DATABASE_URL, PGLAB_DB_PREFIX=<their role> and PGLAB_WORKSHOP_TEMPLATE={template}.")
        return 0
    if args.lesson == "board":
        from . import board

        server = board.serve(args.host, args.port)
        print(f"The board: http://{args.host}:{server.server_address[1]}/ (Ctrl+C stops it)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        return 0
    if args.lesson == "clean":
        done = workshop.clean()
        print("Dropped: " + (", ".join(done) if done else "nothing (no workshop on this server)"))
        return 0
    print("python -m pglab workshop prepare [--learners N] | board [--port P] | clean", file=sys.stderr)
    return 2


def _copies(command: str, lesson: str | None) -> int:
    from . import copies

    home = copies.LESSONS.parent
    where = copies.COPIES.relative_to(home) if copies.COPIES.is_relative_to(home) else copies.COPIES
    if command == "copies":
        made = copies.ensure()
        print(f"Your lessons are in {where}/ (yours to change; the shipped ones stay in notebooks/)"
              + (f": copied {', '.join(made)}" if made else "."))
        return 0
    if command == "reset":
        if not lesson:
            print("Which lesson? python -m pglab reset 05", file=sys.stderr)
            return 2
        try:
            fresh, kept = copies.reset(lesson)
        except LookupError as error:
            print(f"pglab: {error}", file=sys.stderr)
            return 2
        print(f"{where}/{fresh.name} is as shipped again"
              + (f"; your previous copy is in {kept.relative_to(copies.COPIES.parent)}" if kept else "") + ".")
        return 0
    states = copies.changed()
    width = max(len(s.name) for s in states) if states else 0
    for state in states:
        print(f"  {state.name:<{width}}  {state.state}")
    if any(s.state == "updated since your copy" for s in states):
        print("To take an updated lesson: python -m pglab reset NN (make reset-lesson N=NN); your copy is kept aside.")
    return 0


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
