"""Alembic driven from a notebook against the lesson's own database, and squawk (the migration linter) on its SQL.

The repository's migrations folder (`migrations/` next to `notebooks/`: env.py, versions/) is "the application's":
`run(engine, "upgrade", "head")` runs alembic.command.upgrade with a programmatic Config whose connection is one
of the lesson's, and returns what Alembic printed and logged. `offline_sql(prev, rev)` is `alembic upgrade
prev:rev --sql` (one revision at a time), `lint(sql)` runs squawk on it, `lint_revisions()` every revision.

`backfill(...)` is the batched UPDATE the revisions call: keyset over the primary key, a commit per batch.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from .server import project_home


def folder() -> Path:
    """The repository's migrations folder."""
    return project_home() / "migrations"


def config(engine: Engine | None = None, *, stdout: io.StringIO | None = None, **attributes: Any) -> Any:
    """A programmatic alembic Config: the repository's migrations folder, the engine's database."""
    from alembic.config import Config

    cfg = Config(stdout=stdout or io.StringIO())
    cfg.set_main_option("script_location", str(folder()))
    if engine is not None:  # '%' is ConfigParser's interpolation character
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes.update(attributes)
    return cfg


# What Alembic logs that is worth showing: the revisions it runs, and env.py's retries.
_SHOWN_LOGGERS = ("alembic.runtime.migration", "alembic.env")
_NOISE = ("Context impl ", "Will assume ")


class _Capture(logging.Handler):
    def __init__(self, out: io.StringIO) -> None:
        super().__init__(logging.INFO)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in _SHOWN_LOGGERS and not record.getMessage().startswith(_NOISE):
            self.out.write(record.getMessage() + "\n")


@contextlib.contextmanager
def _captured(out: io.StringIO) -> Iterator[None]:
    handler = _Capture(out)
    logger = logging.getLogger("alembic")
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the notebook's root logger would print it a second time
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def run(engine: Engine, command_name: str, *args: Any, connection: Connection | None = None,
        attributes: dict[str, Any] | None = None, **options: Any) -> str:
    """alembic.command.<command_name>(cfg, *args, **options) on the engine's database; returns its output.

    The connection given to Alembic is not in a transaction (env.py commits its session settings and then runs
    each revision in a transaction of its own, so that `autocommit_block()` works)."""
    from alembic import command

    out = io.StringIO()
    cfg = config(engine, stdout=out, **(attributes or {}))
    with _captured(out), contextlib.ExitStack() as stack:
        conn = connection if connection is not None else stack.enter_context(engine.connect())
        cfg.attributes["connection"] = conn
        getattr(command, command_name)(cfg, *args, **options)
    return out.getvalue()


def show(engine: Engine, command_name: str, *args: Any, **options: Any) -> None:
    """run(...) and print its output (what a terminal running `alembic <command>` would show)."""
    print(run(engine, command_name, *args, **options).rstrip() or "(nothing printed)")


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: str | None
    doc: str
    path: Path


def revisions() -> list[Revision]:
    """Every revision of the repository's migrations, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config())
    found = [Revision(r.revision, r.down_revision if isinstance(r.down_revision, str) else None,
                      (r.doc or "").strip(), Path(r.path)) for r in script.walk_revisions()]
    return list(reversed(found))


_VERSION_TABLE = re.compile(r"CREATE TABLE alembic_version \(.*?\);\n+", re.S)


def offline_sql(start: str | None, end: str) -> str:
    """`alembic upgrade start:end --sql`: the SQL the revisions between would run (no database needed).
    Alembic's own CREATE TABLE alembic_version (for a start at base) is left out: it is not the revision's."""
    from alembic import command

    out = io.StringIO()
    cfg = config(stdout=out)
    cfg.set_main_option("sqlalchemy.url", "postgresql+psycopg://")
    cfg.output_buffer = out
    with _captured(io.StringIO()):
        command.upgrade(cfg, f"{start}:{end}" if start else end, sql=True)
    return _VERSION_TABLE.sub("", out.getvalue())


def squawk_binary() -> str:
    """The squawk executable (the squawk-cli package installs it next to this Python)."""
    for candidate in (Path(sysconfig.get_path("scripts")) / "squawk", Path(sys.executable).parent / "squawk"):
        for path in (candidate, candidate.with_suffix(".exe")):
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    found = shutil.which("squawk")
    if found is None:
        raise FileNotFoundError("squawk is not installed: it comes with the lab's packages (squawk-cli); run `make install`")
    return found


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    line: int


def lint(sql: str, *, exclude: tuple[str, ...] = ()) -> list[Finding]:
    """squawk's findings on the SQL (its JSON reporter), optionally without some rules."""
    args = [squawk_binary(), "--reporter", "json"]
    if exclude:
        args += ["--exclude", ",".join(exclude)]
    done = subprocess.run(args, input=sql, text=True, capture_output=True, timeout=60)
    if done.returncode not in (0, 1) or (done.returncode == 1 and not done.stdout.strip()):
        raise RuntimeError(f"squawk failed: {done.stderr.strip() or done.stdout.strip()}")
    found = json.loads(done.stdout or "[]")
    return [Finding(f["rule_name"], f.get("message", ""), int(f.get("line", 0) or 0)) for f in found]


def lint_revisions() -> pd.DataFrame:
    """squawk on each revision's own SQL, one revision at a time (linting the whole history as one file would
    make tables created earlier look new, and hide findings); with the rules each revision tells squawk to
    ignore."""
    rows = []
    for rev in revisions():
        sql = offline_sql(rev.down_revision, rev.revision)
        ignored = sorted({rule.strip() for line in re.findall(r"squawk-ignore[ \t]+([\w, \t-]+)", sql)
                          for rule in line.split(",") if rule.strip()})
        rows.append({"revision": rev.revision, "what it does": rev.doc.splitlines()[0] if rev.doc else "",
                     "squawk findings": ", ".join(sorted({f.rule for f in lint(sql)})) or "none",
                     "ignored (with a reason)": ", ".join(ignored)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------- backfill


def backfill(table: str, set_sql: str, where: str = "true", *, key: str = "id", batch: int = 50_000) -> int:
    """Inside a revision: UPDATE table SET set_sql WHERE where, `batch` keys at a time, each batch committed.

    Online it runs in `op.get_context().autocommit_block()`: row locks last one batch, and the space of earlier
    batches' old row versions can be reused. `where` must skip rows already done, so that a retry or a second run
    resumes. Offline (--sql) it writes the one UPDATE, commented, so the SQL can be read and linted. A callable
    in the config's attributes["progress"] is called with each batch's row count (the notebook's progress bar)."""
    from alembic import context, op

    if context.is_offline_mode():
        op.execute(f"-- backfill in batches of {batch:,} keys, each committed (online only):\n"
                   f"UPDATE {table} SET {set_sql} WHERE {where}")
        return 0
    progress: Callable[[int], None] | None = context.config.attributes.get("progress")
    total, last = 0, None
    with op.get_context().autocommit_block():
        conn = op.get_bind()
        while True:
            after = f"WHERE {key} > %(last)s" if last is not None else ""
            bound = conn.exec_driver_sql(
                f"SELECT {key} FROM (SELECT {key} FROM {table} {after} ORDER BY {key} LIMIT %(n)s) AS b "
                f"ORDER BY {key} DESC LIMIT 1", {"last": last, "n": batch}).scalar()
            if bound is None:
                return total
            low = f"{key} > %(last)s AND " if last is not None else ""
            result = conn.exec_driver_sql(
                f"UPDATE {table} SET {set_sql} WHERE {low}{key} <= %(bound)s AND ({where})",
                {"last": last, "bound": bound})
            total += result.rowcount
            last = bound
            if progress is not None:
                progress(result.rowcount)


# ------------------------------------------------------------------------------------------- schema snapshot

SNAPSHOT_SQL = """
SELECT kind, name, definition FROM (
  SELECT 'column' AS kind, table_name || '.' || column_name AS name,
         concat_ws(' ', data_type || coalesce('(' || character_maximum_length || ')', ''),
                   CASE WHEN is_nullable = 'NO' THEN 'NOT NULL' END, 'DEFAULT ' || column_default) AS definition
    FROM information_schema.columns WHERE table_schema = current_schema()
  UNION ALL
  SELECT 'constraint', conrelid::regclass::text || '.' || conname,
         pg_get_constraintdef(oid) || CASE WHEN convalidated THEN '' ELSE ' (NOT VALID)' END
    FROM pg_constraint WHERE connamespace = current_schema()::regnamespace AND contype <> 'n'
  UNION ALL
  SELECT 'index', indexrelid::regclass::text,
         pg_get_indexdef(indexrelid) || CASE WHEN indisvalid THEN '' ELSE ' (INVALID)' END
    FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)
  UNION ALL
  SELECT 'trigger', tgrelid::regclass::text || '.' || tgname, pg_get_triggerdef(oid)
    FROM pg_trigger WHERE NOT tgisinternal
     AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)
  UNION ALL
  SELECT 'function', p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid))
    FROM pg_proc AS p LEFT JOIN pg_depend AS d ON d.objid = p.oid AND d.deptype = 'e'
   WHERE p.pronamespace = current_schema()::regnamespace AND d.objid IS NULL
) AS s WHERE name !~ '^alembic_version' ORDER BY kind, name
"""


def schema(conn: Connection) -> set[tuple[str, str, str]]:
    """Tables' columns (type, nullability, default), constraints, indexes, triggers and functions of the current
    schema, as (kind, name, definition) rows: equal sets mean the same schema (the NOT NULL constraints PostgreSQL
    18 lists in pg_constraint are left out: the columns say it)."""
    return {(str(k), str(n), str(d)) for k, n, d in conn.exec_driver_sql(SNAPSHOT_SQL).fetchall()}


__all__ = ["Finding", "Revision", "backfill", "config", "folder", "lint", "lint_revisions", "offline_sql",
           "revisions", "run", "schema", "show", "squawk_binary"]
