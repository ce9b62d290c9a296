"""One call at the top of a lesson: its own fresh database, an engine, %sql, exercises.

    from pglab import start_lesson
    lab = start_lesson("01_table_conventions")

The lesson's database is a copy of the dataset (or empty, with dataset=False), recreated every time
the lesson starts, so Restart & Run All always begins from the same state and lessons never touch
each other's data.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import charts, claims, connection, databases, dataset, errors, explain as explain_module, features, roles, timing
from . import workshop
from .display import show_text
from .exercises import LessonExercises, for_lesson
from .querycount import StatementLog, count_statements as _count_statements


def run_tag() -> str:
    """PGLAB_RUN names a run that must not touch the learner's lesson databases (test, store, html): its
    lessons get databases of their own, pglab_<run>_<lesson>. Empty for a learner's own session."""
    tag = os.environ.get("PGLAB_RUN", "").strip().lower()
    if tag and not re.fullmatch(r"[a-z][a-z0-9]{0,11}", tag):
        raise errors.LabSetupError(f"PGLAB_RUN={tag!r} must be a short word of letters and digits (e.g. test).")
    return tag


def database_name(lesson_id: str) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", lesson_id.lower()).strip("_")
    run = run_tag()
    return f"{databases.prefix()}_{run + '_' if run else ''}{slug}"[:63]


_VACUUM_ATTEMPTS = 10  # about 5 s at most: an autovacuum ANALYZE in this database ends well within it


@dataclass(frozen=True)
class SqlOutcome:
    ok: bool
    message: str
    rows: int | None = None


class Lesson:
    """A lesson's database and the helpers that work on it."""

    def __init__(self, lesson_id: str, database: str, engine: Engine, target: connection.ServerTarget) -> None:
        self.lesson_id = lesson_id
        self.database = database
        self.engine = engine
        self.target = target
        self.exercises = LessonExercises(for_lesson(lesson_id), engine)

    # -- running SQL ---------------------------------------------------------------------------

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame | int:
        """Run one statement and commit. Rows come back as a DataFrame, otherwise the row count."""
        with self.engine.begin() as conn:
            result = conn.execute(sa.text(query), dict(params or {}))
            if result.returns_rows:
                return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
            return result.rowcount

    def value(self, query: str, params: Mapping[str, Any] | None = None) -> Any:
        """The single value a query returns (e.g. a count)."""
        with self.engine.begin() as conn:
            return conn.execute(sa.text(query), dict(params or {})).scalar_one()

    def run(self, script: str) -> None:
        """Run a script of one or more statements (DDL, inserts) in one transaction and commit."""
        with self.engine.begin() as conn:
            connection.run_script(conn, script)

    def try_sql(self, script: str, *, quiet: bool = False) -> SqlOutcome:
        """Run a script; on a database error show one short message instead of raising.

        The transaction is rolled back on error, so the connection is ready for the next statement.
        """
        try:
            with self.engine.begin() as conn:
                cursor = connection.run_script(conn, script)
                rows = cursor.rowcount if cursor.rowcount >= 0 else None
        except Exception as error:
            if not errors.is_database_error(error):
                raise
            outcome = SqlOutcome(False, errors.short_message(error))
            if not quiet:
                show_text("✘ " + outcome.message + "\n(This cell shows the error and goes on: the notebook has not "
                          "stopped.)", "error")
            return outcome
        outcome = SqlOutcome(True, "OK" + (f" ({rows:,} row{'s' if rows != 1 else ''})" if rows is not None else ""), rows)
        if not quiet:
            show_text("✔ " + outcome.message, "pass")
        return outcome

    def must_fail(self, script: str, *, because: str | None = None) -> str:
        """Show that the database rejects this statement; stop the lesson if it does not.

        `because` is a fragment the error message must contain (e.g. the constraint's name).
        """
        outcome = self.try_sql(script, quiet=True)
        if outcome.ok:
            raise errors.ClaimFailed(f"Expected the database to reject this, but it succeeded:\n{script.strip()}")
        if because and because.lower() not in outcome.message.lower():
            raise errors.ClaimFailed(f"The statement failed, but not because of {because!r}: {outcome.message}")
        show_text("✔ Rejected, as it should be: " + outcome.message, "pass")
        return outcome.message

    def must_succeed(self, script: str) -> SqlOutcome:
        """Run a script that the lesson expects to work; stop the lesson with the error if it fails."""
        outcome = self.try_sql(script, quiet=True)
        if not outcome.ok:
            raise errors.ClaimFailed(f"Expected this to succeed, but: {outcome.message}")
        show_text("✔ " + outcome.message, "pass")
        return outcome

    # -- measuring -----------------------------------------------------------------------------

    def explain(self, query: str, params: Mapping[str, Any] | None = None, *, analyze: bool = True,
                rollback: bool = True) -> explain_module.Plan:
        """EXPLAIN (ANALYZE, BUFFERS) the query; its changes are rolled back unless rollback=False."""
        return explain_module.explain(self.engine, query, dict(params or {}), analyze=analyze, rollback=rollback)

    def compare(self, variants: Mapping[str, timing.Variant], **options: Any) -> timing.Timings:
        """Time SQL (or callables) side by side: see timing.compare."""
        return timing.compare(self.engine, variants, **options)

    def count_statements(self) -> Any:
        """with lab.count_statements() as log: ...  (statements sent through the lesson's engine)."""
        return _count_statements(self.engine)

    def session(self) -> Session:
        return Session(self.engine)

    def analyze(self, *tables: str) -> None:
        """Refresh the planner's statistics after a lesson changes data or adds an expression index."""
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE " + ", ".join(databases.quote(t) for t in tables) if tables else "ANALYZE"
            )

    def vacuum(self, *tables: str) -> None:
        """VACUUM the tables so that the visibility map is current (an Index Only Scan then skips the table).

        VACUUM cannot mark a page all-visible while its last change's commit record may not be flushed yet (the
        lab's server commits asynchronously), nor while a session in this database holds a snapshot taken before
        that change committed (an autovacuum ANALYZE of another table, a pooled connection). So: pooled connections
        are closed, one synchronous commit flushes every earlier commit record, and VACUUM runs again, a few
        times, while pg_class says some pages are still not all-visible."""
        self.engine.dispose()
        names = ", ".join(databases.quote(t) for t in tables)
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET synchronous_commit = on")
            conn.exec_driver_sql("SELECT pg_current_xact_id()")  # a commit record of its own, flushed, and all before it
            for attempt in range(_VACUUM_ATTEMPTS):
                # INDEX_CLEANUP ON: with few dead rows VACUUM may skip the indexes and leave those pages not all-visible
                conn.exec_driver_sql("VACUUM (INDEX_CLEANUP ON, PARALLEL 0) " + names)
                behind = conn.execute(sa.text(
                    "SELECT count(*) FROM pg_class WHERE relallvisible < relpages AND oid IN "
                    "(SELECT CAST(t AS regclass) FROM unnest(CAST(:tables AS text[])) AS t)"), {"tables": list(tables)}).scalar()
                if not behind or attempt == _VACUUM_ATTEMPTS - 1:
                    return
                time.sleep(0.5)

    def draw_schema(self, tables: list[str] | None = None, title: str = "The lab's dataset") -> None:
        """Draw the tables (columns, PK/FK/UQ) and their foreign keys from the live catalog."""
        from . import catalog

        with self.engine.connect() as conn:
            boxes, edges = catalog.diagram_data(conn, tables)
        layout = dataset.DIAGRAM_LAYOUT
        charts.schema_diagram(boxes, edges, title=title, positions=layout if set(boxes) <= set(layout) else None)

    def requires(self, feature: str) -> bool:
        """Whether the server offers an optional feature (pg_stat_statements, pgstattuple, pg_trgm, ...); when it
        does not, say in one sentence that this part of the lesson is skipped, and why."""
        from .features import why_missing

        reason = why_missing(self.engine, feature)
        if reason is not None:
            show_text(f"This part is skipped: {reason}", "todo")
        return reason is None

    def server_version(self) -> str:
        return str(self.value("SHOW server_version"))

    def server_version_num(self) -> int:
        return int(self.value("SHOW server_version_num"))

    def __repr__(self) -> str:
        return f"<Lesson {self.lesson_id}: database {self.database} on {self.target.describe()}>"


def _connect_sql_magic(engine: Engine) -> None:
    """Make %sql / %%sql use this lesson's engine, without banners, showing every row."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from IPython.utils.capture import capture_output

    os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
    with capture_output():  # JupySQL's start-up tips about config files would clutter every lesson
        if "sql" not in shell.magics_manager.magics["line"]:
            shell.run_line_magic("load_ext", "sql")
    for setting in (
        "SqlMagic.displaycon = False",
        "SqlMagic.feedback = 0",
        "SqlMagic.displaylimit = 0",
        "SqlMagic.short_errors = True",
        "SqlMagic.named_parameters = 'enabled'",
    ):
        shell.run_line_magic("config", setting)
    from sql.connection import ConnectionManager

    # Re-running start_lesson recreates the database, which ends the old connection: drop it first.
    ConnectionManager.close_all()
    shell.user_ns["_pglab_engine"] = engine
    shell.run_line_magic("sql", "_pglab_engine --alias lesson")


def start_lesson(lesson_id: str, *, with_dataset: bool = True, sql_magic: bool = True,
                 database: str | None = None) -> Lesson:
    """Give the lesson a fresh database (a copy of the dataset), an engine and a %sql connection.

    database: another name for the lesson's database (tests use their own, next to the notebooks').
    """
    errors.install_notebook_handler()
    charts.use_lab_style()
    claims.current_lesson = lesson_id
    template = dataset.ensure_template() if with_dataset else None
    target = connection.target()
    name = database or database_name(lesson_id)
    admin = connection.admin_engine()
    run_marker = f" (run {run_tag()})" if run_tag() else ""
    try:
        with admin.connect() as conn:
            databases.create(conn, name, f"lesson {lesson_id}" + run_marker, template=template)
            role = connection.lesson_role()
            if role.separate:
                databases.grant_connect(conn, name, role.name)
                # schemas of its own, for scratch work (lesson 09's migration exercises)
                conn.exec_driver_sql(f"GRANT CREATE ON DATABASE {databases.quote(name)} TO {databases.quote(role.name)}")
            keep = workshop.keep_lessons()
            if keep is not None and database is None:
                workshop.prune_lessons(conn, keep, run_marker)
    finally:
        admin.dispose()
    if template is None:  # a copy of the dataset belongs to the lesson role already; an empty database does not
        owner = connection.make_engine(target.url_for(name), pool_size=1)
        try:
            with owner.begin() as conn:
                features.preinstall(conn)
                roles.hand_over(conn, connection.lesson_role())
                roles.close_side_doors(conn)
        finally:
            owner.dispose()
    engine = connection.make_engine(connection.lesson_url(name))
    lesson = Lesson(lesson_id, name, engine, target)
    if sql_magic:
        _connect_sql_magic(engine)
    if connection.lesson_role().warning:
        show_text("Note: " + str(connection.lesson_role().warning), "todo")
    if with_dataset and dataset.current_scale().name != "full":
        show_text(
            f"PGLAB_SCALE={dataset.current_scale().name}: this lesson's text and checks are written for the full "
            "dataset (1,000,000 users), so some of its numbers will differ and some checks will not hold.",
            "todo",
        )
    return lesson


__all__ = ["Lesson", "SqlOutcome", "StatementLog", "start_lesson", "database_name"]
