"""Migration exercises: the learner writes an Alembic revision (upgrade() and downgrade(), as source text); the
checker runs it for real and judges what it did, not how it is spelled.

1. The source runs in a fresh module with `op` and `sa` already imported (an import of its own is fine).
2. Offline, its upgrade() gives SQL (what `alembic upgrade --sql` would write), and squawk lints it: the rules it
   fires are added to a wrong answer's feedback.
3. Online, on a scratch schema of the lesson's database (small copies of users and posts, built from the dataset's
   models, the exercise's own `setup` after), so that an autocommit block really commits and nothing touches the
   lesson's tables: every statement the revision sends is observed inside its transaction (the locks the
   transaction holds after it, from pg_locks; whether it scanned or rewrote a table; what PostgreSQL said at
   DEBUG1). In an autocommit block each statement is wrapped in a transaction of its own to observe it, as
   PostgreSQL would run it; statements that cannot run in a transaction (CONCURRENTLY) run as they are.
4. `requirements` (functions of the upgrade's `MigrationRun` and a connection on the scratch schema) judge it;
   then downgrade() runs on the upgraded schema, `down_requirements` judge it, and the schema must be exactly
   what it was before the upgrade. The scratch schema is dropped afterwards.
"""
from __future__ import annotations

import ast
import re
import textwrap
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .. import locks, migrations
from ..connection import make_engine
from ..errors import short_message
from .base import Exercise, Verdict

SCRATCH = "pglab_scratch"
SCRATCH_ROWS = 2_000  # users copied; their posts come with them
CHECK_LOCK_TIMEOUT = "5s"
CHECK_STATEMENT_TIMEOUT = "30s"
# Rules that the lab's env.py or its autocommit blocks satisfy, so they say nothing about an answer.
NOT_ABOUT_THE_ANSWER = ("require-lock-timeout", "require-statement-timeout", "prefer-robust-stmts",
                        "transaction-nesting")
# A revision reaches only the scratch schema (search_path is that schema alone); naming public, or a statement that
# rewrites or locks a whole table outside any transaction, is refused before it runs.
_OUTSIDE_THE_SCRATCH = re.compile(r'(\bpublic\s*\.|"public"\s*\.)|^\s*(VACUUM\s+(\(\s*)?FULL|CLUSTER\b|REINDEX\b)',
                                  re.I | re.M)
NO_TRANSACTION = re.compile(r"\bCONCURRENTLY\b|^\s*(VACUUM|REINDEX|CLUSTER)\b", re.I)
_TRANSACTION_CONTROL = re.compile(r"\s*(COMMIT|BEGIN|ROLLBACK|END|ABORT|START\s+TRANSACTION|SAVEPOINT|RELEASE)\b", re.I)
_LEARNER_QUERY = re.compile(r"\s*(SELECT|SET|RESET|SHOW|WITH\s+\w+\s+AS\s*\(\s*SELECT)\b", re.I)

TEMPLATE = '''
def upgrade():
    ...


def downgrade():
    ...
'''

# What squawk's rules mean, in the lock the statement would take (for feedback when only squawk sees a problem)
RULE_LOCKS = {
    "require-concurrent-index-creation": "SHARE on the table: writes wait until the index is built",
    "ban-concurrent-index-creation-in-transaction": "none, it fails: CONCURRENTLY cannot run in a transaction",
    "adding-field-with-default": "ACCESS EXCLUSIVE while the whole table is rewritten",
    "adding-not-nullable-field": "ACCESS EXCLUSIVE while the whole table is scanned",
    "constraint-missing-not-valid": "a strong lock held while every row is checked",
    "adding-foreign-key-constraint": "SHARE ROW EXCLUSIVE on both tables while every row is checked",
    "changing-column-type": "ACCESS EXCLUSIVE, and a rewrite if the storage changes",
    "require-concurrent-index-deletion": "ACCESS EXCLUSIVE on the table",
}


class TransactionControl(Exception):
    """A revision sent COMMIT or BEGIN itself."""


@dataclass
class MigrationRun:
    """What upgrade() or downgrade() did on the scratch schema."""

    steps: list[locks.Step] = field(default_factory=list)
    error: str | None = None
    schema: set[tuple[str, str, str]] = field(default_factory=set)
    sql: str = ""  # offline SQL (upgrade only)
    findings: list[migrations.Finding] = field(default_factory=list)  # squawk on `sql`

    def first(self, test: Callable[[locks.Step], bool]) -> locks.Step | None:
        return next((s for s in self.steps if test(s)), None)

    def scan_under(self, table: str, weakest: str) -> tuple[locks.Step, str] | None:
        """The first statement that scanned `table` while its transaction held at least `weakest` on it."""
        for step in self.steps:
            mode = step.locks.get(table)
            if table in step.scanned and mode and locks.strength(mode) >= locks.strength(weakest):
                return step, mode
        return None

    def took(self, table: str, weakest: str) -> tuple[locks.Step, str] | None:
        """The first statement that itself raised its transaction's lock on `table` to `weakest` or stronger."""
        for step in self.steps:
            mode = step.added.get(table)
            if mode and locks.strength(mode) >= locks.strength(weakest):
                return step, mode
        return None

    @property
    def rules(self) -> list[str]:
        return sorted({f.rule for f in self.findings})


Judge = Callable[[MigrationRun, sa.Connection], "str | None"]


def load(source: str) -> types.ModuleType:
    """The learner's revision as a module, `op` and `sa` imported for it."""
    from alembic import op

    module = types.ModuleType("your_revision")
    module.__dict__.update(op=op, sa=sa)
    exec(compile(textwrap.dedent(source), "<your revision>", "exec"), module.__dict__)  # noqa: S102 - the learner's own code
    if not callable(module.__dict__.get("upgrade")):
        raise ValueError("your revision defines no function upgrade()")
    return module


def offline_sql(module: types.ModuleType, function: str = "upgrade") -> str:
    """The SQL the function writes in offline mode (`alembic upgrade --sql`), with the lab env.py's timeouts."""
    import io

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    out = io.StringIO()
    context = MigrationContext.configure(dialect_name="postgresql",
                                         opts={"as_sql": True, "output_buffer": out, "literal_binds": True})
    out.write("SET lock_timeout = '2s';\nSET statement_timeout = '60s';\nBEGIN;\n")
    with Operations.context(context):
        getattr(module, function)()
    out.write("COMMIT;\n")
    return out.getvalue()


def _scratch_tables() -> list[str]:
    """users and posts as the dataset's models declare them, in the scratch schema (none of the lesson's own
    indexes or columns come along), filled with a few thousand of the lesson's rows."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    from .. import models

    metadata = sa.MetaData()
    tables = [models.Base.metadata.tables[name].to_metadata(metadata) for name in ("users", "posts")]
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    ddl = []
    for table in tables:
        ddl.append(str(CreateTable(table).compile(dialect=dialect)))
        ddl += [str(CreateIndex(index).compile(dialect=dialect)) for index in table.indexes]
    columns = {t.name: ", ".join(c.name for c in t.columns) for t in tables}
    ddl.append(f"INSERT INTO users ({columns['users']}) SELECT {columns['users']} FROM public.users "
               f"ORDER BY id LIMIT {SCRATCH_ROWS}")
    ddl.append(f"INSERT INTO posts ({columns['posts']}) SELECT {', '.join('p.' + c for c in columns['posts'].split(', '))} "
               "FROM public.posts AS p JOIN users AS u ON u.id = p.user_id")
    return ddl


def _observe(raw: Any, run: MigrationRun, cursor: Any, statement: str, parameters: Any, notices: list[str]) -> None:
    before, before_locks = locks._tables(raw), locks.held(raw)
    notices.clear()
    cursor.execute(statement, parameters or None)
    said = [n for n in notices if not n.startswith(locks._QUIET)]
    after, held = locks._tables(raw), locks.held(raw)
    added = {t: m for t, m in held.items() if locks.strength(m) > locks.strength(before_locks.get(t, ""))}
    scanned = [t for t, (_, s) in after.items() if t in before and s > before[t][1]]
    rewritten = [t for t, (n, _) in after.items() if t in before and n != before[t][0]]
    run.steps.append(locks.Step(statement, held, added, scanned, rewritten, said, 0.0))


def _run(engine: Engine, module: types.ModuleType, function: str, setup: Sequence[str] | None) -> MigrationRun:
    """Run module.<function>() on the scratch schema (made fresh first if setup is given), observed."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    run = MigrationRun()
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        notices: list[str] = []
        raw.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.exec_driver_sql(f"SET lock_timeout = '{CHECK_LOCK_TIMEOUT}'")
        conn.exec_driver_sql(f"SET statement_timeout = '{CHECK_STATEMENT_TIMEOUT}'")
        if setup is not None:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {SCRATCH}")
        conn.exec_driver_sql(f"SET search_path = {SCRATCH}")
        if setup is not None:
            for sql in [*_scratch_tables(), *setup, "ANALYZE users, posts"]:
                raw.execute(sql)
        conn.commit()
        conn.exec_driver_sql("SET client_min_messages = debug1")
        conn.commit()

        def do_execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
            outside = _OUTSIDE_THE_SCRATCH.search(statement)
            if outside:
                raise TransactionControl(
                    f"your revision {'names the schema public' if outside.group(1) else 'rewrites or reorders a whole table (' + outside.group(0).strip() + ')'}"
                    ": the checker runs it on a scratch copy of users and posts, and the lesson's own tables are not "
                    "its to change. Write table names without a schema; VACUUM FULL, CLUSTER and REINDEX TABLE lock or "
                    "rewrite a production table and belong in no migration of this kind.")
            if _TRANSACTION_CONTROL.match(statement):
                raise TransactionControl(
                    f"`{statement.strip()[:40]}` ends or starts Alembic's transaction behind its back (the version "
                    "table's update is part of it): use `with op.get_context().autocommit_block():` for statements "
                    "that must run outside the revision's transaction.")
            if _LEARNER_QUERY.match(statement):
                return False  # the revision's own queries run as they are
            if not raw.autocommit:
                _observe(raw, run, cursor, statement, parameters, notices)
            elif NO_TRANSACTION.search(statement):
                notices.clear()
                cursor.execute(statement, parameters or None)
                run.steps.append(locks.Step(statement, {}, {}, [], [], list(notices), 0.0))
            else:  # an autocommit block: one transaction per statement, as PostgreSQL would run it
                cursor.execute("BEGIN")
                try:
                    _observe(raw, run, cursor, statement, parameters, notices)
                    cursor.execute("COMMIT")
                except Exception:
                    cursor.execute("ROLLBACK")
                    raise
            return True

        sa.event.listen(engine, "do_execute", do_execute)
        context = MigrationContext.configure(conn)
        try:
            with Operations.context(context):
                with context.begin_transaction():
                    getattr(module, function)()
        except TransactionControl as refused:
            run.error = str(refused)
        except Exception as error:
            run.error = short_message(error) if hasattr(error, "orig") else f"{type(error).__name__}: {error}"
        finally:
            sa.event.remove(engine, "do_execute", do_execute)
            if conn.in_transaction():
                conn.rollback()
            conn.exec_driver_sql("RESET client_min_messages")
            conn.commit()
            run.schema = migrations.schema(conn)
    return run


def describe(step: locks.Step, limit: int = 110) -> str:
    text = " ".join(step.sql.split()).rstrip(";")
    return f"`{text if len(text) <= limit else text[:limit - 3] + '...'}`"


def _blank_function(node: ast.AST) -> bool:
    body = getattr(node, "body", [])
    return all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body)


class MigrationExercise(Exercise):
    """An Alembic revision, judged by running its upgrade() and downgrade() on a scratch copy of users and posts."""

    kind = "migration"
    kind_label = "an Alembic revision, run on a scratch copy of users and posts"
    blank_answer = TEMPLATE
    code_language = "python"

    def __init__(self, lesson: str, name: str, *, requirements: Sequence[Judge],
                 down_requirements: Sequence[Judge] = (), scratch_setup: Sequence[str] = (),
                 **options: Any) -> None:
        super().__init__(lesson, name, **options)
        self.requirements = list(requirements)
        self.down_requirements = list(down_requirements)
        self.scratch_setup = list(scratch_setup)

    def is_blank(self, answer: Any) -> bool:
        if answer is None or answer is ... or not isinstance(answer, str) or not answer.strip():
            return True
        try:
            tree = ast.parse(textwrap.dedent(answer))
        except SyntaxError:
            return False
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        return bool(functions) and len(functions) == len(tree.body) and all(_blank_function(f) for f in functions)

    def _squawk_note(self, run: MigrationRun) -> str:
        rules = [r for r in run.rules if r not in NOT_ABOUT_THE_ANSWER]
        return f" (squawk: {', '.join(rules)})" if rules else ""

    def judge(self, engine: Engine, answer: Any) -> Verdict:
        try:
            module = load(answer)
        except SyntaxError as error:
            return Verdict(f"your revision is not valid Python: {error.msg} (line {error.lineno}).")
        except Exception as error:
            return Verdict(f"your revision does not load: {type(error).__name__}: {error}")
        checker = make_engine(engine.url, pool_size=1)
        try:
            return self._judge(checker, module, ast.parse(textwrap.dedent(answer)))
        finally:
            with checker.connect() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
                conn.commit()
            checker.dispose()

    def _judge(self, engine: Engine, module: types.ModuleType, tree: ast.Module) -> Verdict:
        up = _run(engine, module, "upgrade", self.scratch_setup)
        try:
            up.sql = offline_sql(module)
            up.findings = migrations.lint(up.sql)
        except Exception:  # an answer that only works online (it queries): judged on what it did
            up.findings = []
        if up.error:
            problem = f"upgrade() failed: {up.error}"
            if "inside a transaction block" in up.error:
                problem += (" CONCURRENTLY cannot run inside the migration's transaction: put it in "
                            "`with op.get_context().autocommit_block():`.")
            return Verdict(problem + self._squawk_note(up))
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SET search_path = {SCRATCH}")
            conn.commit()  # a requirement may roll back what it probes: the setting stays
            for requirement in self.requirements:
                found = requirement(up, conn)
                if found:
                    return Verdict(found + self._squawk_note(up))
        downgrade = getattr(module, "downgrade", None)
        written = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "downgrade"]
        if not callable(downgrade) or (written and _blank_function(written[-1])):
            return Verdict("define downgrade() too: every revision in the lab can be undone (alembic downgrade).")
        initial = _run(engine, load("def upgrade():\n    pass\n"), "upgrade", self.scratch_setup).schema
        _run(engine, module, "upgrade", self.scratch_setup)
        down = _run(engine, module, "downgrade", None)
        if down.error:
            return Verdict(f"downgrade() failed: {down.error}")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SET search_path = {SCRATCH}")
            conn.commit()
            for requirement in self.down_requirements:
                found = requirement(down, conn)
                if found:
                    return Verdict("downgrade(): " + found)
        if down.schema != initial:
            left = sorted(down.schema - initial)
            gone = sorted(initial - down.schema)
            what = (f"it leaves {left[0][0]} {left[0][1]}: {left[0][2]}" if left
                    else f"{gone[0][0]} {gone[0][1]} ({gone[0][2]}) is missing")
            return Verdict(f"downgrade() does not give back the schema upgrade() started from: {what}.")
        return Verdict(None)


__all__ = ["MigrationExercise", "MigrationRun", "NOT_ABOUT_THE_ANSWER", "RULE_LOCKS", "SCRATCH", "TEMPLATE",
           "describe", "load", "offline_sql"]
