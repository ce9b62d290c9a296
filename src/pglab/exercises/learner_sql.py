"""Running a learner's SQL inside the checker's transaction, which is always rolled back.

A script is parsed with PostgreSQL's own parser (pglast) before it runs, because a COMMIT anywhere in it
would end the checker's transaction and keep everything after it: transaction control is taken out when it
only wraps the answer (BEGIN; ...; COMMIT; as in psql) and refused anywhere else, with a sentence saying what
the checker does instead. Statements that cannot run inside a transaction (CREATE INDEX CONCURRENTLY, VACUUM)
are refused the same way, before they reach the server.

The checker's connection is discarded after every check (never returned to the pool), so nothing a script
leaves in the session (a prepared statement, an advisory lock, a setting) can outlive it.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlparse
from sqlalchemy.engine import Connection, Engine

from ..connection import run_script

STATEMENT_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 5_000

_STARTS = ("BEGIN", "START")
_ENDS_OK = ("COMMIT", "END")
_ENDS_BACK = ("ROLLBACK", "ABORT")


class ScriptRefused(Exception):
    """The answer cannot be judged as written; the message says why and what to write instead."""


@dataclass
class Statement:
    text: str
    kind: str  # the parse node's name, e.g. "SelectStmt", "TransactionStmt", "IndexStmt" ("?" if unparsed)
    node: Any = None  # the pglast node, when PostgreSQL's parser read it


@dataclass
class Script:
    """A learner's script, split into statements, with what the checker changed about it."""

    statements: list[Statement]
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n;\n".join(s.text for s in self.statements)  # a line comment before a ';' stays a comment

    @property
    def last(self) -> Statement:
        return self.statements[-1]


def without_comments(sql: str) -> str:
    return sqlparse.format(sql, strip_comments=True).strip()


def is_blank(sql: Any) -> bool:
    if sql is None or sql is ...:
        return True
    return isinstance(sql, str) and not without_comments(sql).strip(" \n\t;")


def split(sql: str) -> list[Statement]:
    """The script's statements, as PostgreSQL's parser reads them (sqlparse's split if it cannot: the server
    will then report the syntax error itself, and a script with one runs nothing)."""
    from pglast import parse_sql

    try:
        parsed = parse_sql(sql)
    except Exception:
        pieces = [part.strip().rstrip(";").strip() for part in sqlparse.split(sql) if without_comments(part).strip(" ;\n\t")]
        try:  # `:name` parameters are not SQL: parse them as $n, keeping the text as written
            parsed_pieces = [parse_sql(positional(piece)[0])[0].stmt for piece in pieces]
            return [Statement(piece, type(node).__name__, node) for piece, node in zip(pieces, parsed_pieces)]
        except Exception:
            return [Statement(piece, "?") for piece in pieces]
    encoded = sql.encode()  # the parser reports byte offsets
    found = []
    for raw in parsed:
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(encoded)
        text = encoded[start:end].decode().strip()
        found.append(Statement(text, type(raw.stmt).__name__, raw.stmt))
    return found


def _transaction_word(statement: Statement) -> str | None:
    """BEGIN / START / COMMIT / END / ROLLBACK / ABORT / PREPARE / SAVEPOINT ... for transaction control."""
    if statement.kind == "TransactionStmt" or statement.kind == "?":
        words = without_comments(statement.text).split()
        word = words[0].upper() if words else ""
        if statement.kind == "TransactionStmt" or word in _STARTS + _ENDS_OK + _ENDS_BACK + ("PREPARE", "SAVEPOINT", "RELEASE"):
            if word == "PREPARE" and not re.match(r"(?is)^\s*prepare\s+transaction\b", statement.text):
                return None  # PREPARE name AS ...: a prepared statement, not a transaction
            if word == "ROLLBACK" and re.match(r"(?is)^\s*rollback\s+(work\s+|transaction\s+)?to\b", statement.text):
                return "ROLLBACK TO"
            if word == "COMMIT" and re.match(r"(?is)^\s*commit\s+prepared\b", statement.text):
                return "COMMIT PREPARED"
            return word
    return None


_CANNOT_RUN_IN_A_TRANSACTION = {
    "VacuumStmt": "VACUUM cannot run inside a transaction block (ANALYZE alone can)",
    "CreatedbStmt": "CREATE DATABASE cannot run inside a transaction",
    "DropdbStmt": "DROP DATABASE cannot run inside a transaction",
    "AlterSystemStmt": "ALTER SYSTEM cannot run inside a transaction",
    "CreateTableSpaceStmt": "CREATE TABLESPACE cannot run inside a transaction",
}


def _refuse_outside_transaction(statement: Statement) -> None:
    node, kind = statement.node, statement.kind
    if kind == "IndexStmt" and getattr(node, "concurrent", False):
        raise ScriptRefused(
            "CREATE INDEX CONCURRENTLY cannot run inside a transaction, and the checker runs your answer in one "
            "(so that it can roll it back): leave out CONCURRENTLY here. On a busy production table, do use it "
            "(lesson 09 shows how, in a migration)."
        )
    if kind in ("DropStmt", "ReindexStmt") and "concurrently" in statement.text.lower().split():
        raise ScriptRefused(
            f"{statement.text.split()[0].upper()} ... CONCURRENTLY cannot run inside a transaction, and the checker "
            "runs your answer in one: leave out CONCURRENTLY here."
        )
    if kind == "VacuumStmt" and getattr(node, "is_vacuumcmd", True) is False:
        return  # ANALYZE alone can run in a transaction
    if kind in _CANNOT_RUN_IN_A_TRANSACTION:
        raise ScriptRefused(
            f"{_CANNOT_RUN_IN_A_TRANSACTION[kind]}, and the checker runs your answer in a transaction that it rolls "
            "back: leave that statement out of your answer (run it in a cell of its own if you want to try it)."
        )


# Functions whose effect a rollback does not undo, or that reach other sessions: refused wherever they appear (in a
# DO block or a function body too). nextval() and advisory locks are left alone: a gap in a sequence is harmless,
# and a session lock dies with the checker's connection.
_OUTSIDE_THE_TRANSACTION = re.compile(
    r"(?:\bpg_catalog\s*\.\s*)?\"?\b(setval|pg_terminate_backend|pg_cancel_backend|pg_stat_reset\w*|pg_stat_statements_reset|dblink\w*"
    r"|lo_import|lo_export|pg_notify|pg_reload_conf|pg_rotate_logfile|pg_switch_wal"
    r"|pg_create\w*_replication_slot|pg_logical_emit_message)\b\"?\s*\(", re.I)
_TIME_LIMITS = re.compile(
    r"\bset\s+(local\s+|session\s+)?(statement_timeout|lock_timeout|idle_in_transaction_session_timeout"
    r"|transaction_timeout)\b|set_config\s*\(\s*'(statement_timeout|lock_timeout|idle_in_transaction_session_timeout"
    r"|transaction_timeout)'", re.I)
_CHANGES_ROWS = ("InsertStmt", "UpdateStmt", "DeleteStmt", "TruncateStmt", "CopyStmt", "DoStmt", "MergeStmt", "CallStmt")


def _refuse_side_doors(statements: list[Statement]) -> None:
    for statement in statements:
        found = _OUTSIDE_THE_TRANSACTION.search(without_comments(statement.text))
        if found:
            raise ScriptRefused(
                f"your answer calls {found.group(1)}(), whose effect a rollback does not undo (or that reaches other "
                "sessions): the checker runs your answer in a transaction it rolls back, so it leaves that call out "
                "of what it accepts. Write only what the task asks for.")
    for statement in statements:
        timeout = _TIME_LIMITS.search(without_comments(statement.text))
        if timeout:
            raise ScriptRefused(
                f"your answer sets {timeout.group(2) or timeout.group(3)}, the checker's own time limit (it stops an "
                "answer that would run for ever, and never waits long for a lock): leave out that SET.")
    changed = False
    for statement in statements:
        changed = changed or statement.kind in _CHANGES_ROWS
        if statement.kind == "VacuumStmt" and changed:
            raise ScriptRefused(
                "your answer runs ANALYZE after changing rows. ANALYZE writes the table's row count into pg_class in "
                "place, which a rollback does not undo, so the lesson's database would keep a count of rows your "
                "answer only pretended to change. Leave out ANALYZE, or the change before it.")


_TABLE = r'(?:ONLY\s+)?(?:"?public"?\s*\.\s*)?"?(\w+)"?'
_ROW_CHANGES = [re.compile(pattern, re.I | re.S) for pattern in (
    rf"\bINSERT\s+INTO\s+{_TABLE}", rf"\bUPDATE\s+{_TABLE}(?:\s+(?:AS\s+)?\w+)?\s+SET\b",
    rf"\bDELETE\s+FROM\s+{_TABLE}", rf"\bTRUNCATE\s+(?:TABLE\s+)?{_TABLE}", rf"\bMERGE\s+INTO\s+{_TABLE}",
    rf"\bCOPY\s+{_TABLE}(?:\s*\([^)]*\))?\s+FROM\b")]


def refuse_changes_to_the_dataset(script: Script, *, may_analyze: tuple[str, ...] = ()) -> None:
    """For schema and plan exercises: the lesson's own tables keep their rows and their statistics.

    A rolled-back change to rows still clears the visibility map of every page it touched, and an index build or an
    ANALYZE after it writes the table's row count into pg_class in place: neither is undone by the rollback. Found
    anywhere in the text (a CTE, EXPLAIN ANALYZE, a function body), before anything runs."""
    from ..dataset import TABLES

    text = without_comments(script.text)
    for pattern in _ROW_CHANGES:
        for match in pattern.finditer(text):
            table = match.group(1).lower()
            if table in TABLES:
                raise ScriptRefused(
                    f"your answer changes rows of {table}, one of the lesson's own tables. The checker rolls it back, "
                    "but a rolled-back change still clears the visibility map of the pages it touched, and an index "
                    "built after it writes the table's row count in place, so the lesson's data would not be as the "
                    "dataset left it. The task needs no change to its rows: leave that statement out.")
    for statement in script.statements:
        if statement.kind != "VacuumStmt":
            continue
        relations = [getattr(getattr(rel, "relation", None), "relname", None) for rel in (statement.node.rels or ())]
        if not relations:
            raise ScriptRefused(
                "your answer runs ANALYZE on the whole database, which writes every table's row count into pg_class "
                "in place (a rollback does not undo it). Name the table it needs"
                + (f": ANALYZE {may_analyze[0]}." if may_analyze else ", or leave ANALYZE out: this task needs none."))
        for relation in relations:
            if relation and relation.lower() in TABLES and relation.lower() not in may_analyze:
                raise ScriptRefused(
                    f"your answer runs ANALYZE {relation}, which writes the lesson's statistics of {relation} in place "
                    "(a rollback does not undo it), and this task does not need it"
                    + (f": ANALYZE {may_analyze[0]} is all it needs." if may_analyze else ": leave it out."))


def prepare(sql: str) -> Script:
    """Split the script and take out (or refuse) transaction control: what runs is one transaction, ours."""
    statements = split(sql)
    _refuse_side_doors(statements)
    notes: list[str] = []
    words = [_transaction_word(s) for s in statements]
    if words and words[0] in _STARTS and len(words) > 1 and words[-1] in _ENDS_OK + _ENDS_BACK:
        ending = words[-1]
        statements, words = statements[1:-1], words[1:-1]
        notes.append(
            f"The checker runs your answer in a transaction of its own and rolls it back, so it left out your "
            f"BEGIN and {ending}."
        )
    for statement, word in zip(statements, words):
        if word is None or word in ("SAVEPOINT", "RELEASE", "ROLLBACK TO"):
            _refuse_outside_transaction(statement)
            continue  # savepoints stay inside the checker's transaction
        if word in _STARTS:
            raise ScriptRefused(
                f"your answer starts a transaction in the middle (`{_short(statement.text)}`). The checker runs the "
                "whole answer as one transaction and rolls it back: write the statements alone, without BEGIN."
            )
        raise ScriptRefused(
            f"your answer ends a transaction (`{_short(statement.text)}`). The checker runs the whole answer as one "
            "transaction and rolls it back afterwards, so it cannot follow a script through several transactions: "
            f"it checks what your statements leave behind, as if they ran together. Leave out {word} (and any BEGIN)."
        )
    if not statements:
        raise ScriptRefused("your answer has only BEGIN and COMMIT: put the statements between them.")
    return Script(statements, notes)


def _short(text: str, width: int = 60) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= width else one_line[: width - 3] + "..."


_TOUCHED = """
SELECT relname FROM pg_stat_xact_user_tables
WHERE schemaname = 'public' AND relname = ANY(%(tables)s) AND n_tup_ins + n_tup_upd + n_tup_del > 0
"""


@contextmanager
def rolled_back(engine: Engine, *, read_only: bool = False) -> Iterator[Connection]:
    """A transaction that is always rolled back, on a connection that is discarded afterwards.

    A rolled-back change still clears the visibility map of the pages it touched (the checker's own probes insert
    into users, for one): the lesson's tables touched in the transaction are vacuumed afterwards, so that the
    notebook's Index Only Scans find them as the dataset left them."""
    from ..dataset import TABLES

    conn = engine.connect()
    touched: list[str] = []
    try:
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        if read_only:
            conn.exec_driver_sql("SET LOCAL transaction_read_only = on")
        yield conn
    finally:
        try:
            if not read_only:
                try:
                    touched = list(conn.exec_driver_sql(_TOUCHED, {"tables": list(TABLES)}).scalars())
                except Exception:  # an aborted transaction: nothing to read, nothing it wrote stays
                    touched = []
            conn.rollback()
        finally:
            conn.invalidate()  # whatever the answer left in the session dies with the connection
            conn.close()
        if touched:
            _vacuum(engine, touched)


def _vacuum(engine: Engine, tables: list[str]) -> None:
    """VACUUM with index cleanup (without it, VACUUM may leave the few dead entries, and the pages not all-visible)."""
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET synchronous_commit = on")
            conn.exec_driver_sql("VACUUM (INDEX_CLEANUP ON, PARALLEL 0) " + ", ".join(f"public.{t}" for t in tables))
    except Exception:  # repairing is a courtesy: the verdict stands whatever happens here
        pass


# A statement-level BEFORE trigger fires before any row is touched, so a change to the lesson's own tables is
# refused however the answer sends it (dynamic SQL, a view, a function): created for the learner's step only, in the
# checker's transaction, and rolled back with it.
_GUARD_FUNCTION = """
CREATE FUNCTION pg_temp.pglab_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'pglab: your answer changes rows of %%, one of the lesson''s own tables', TG_TABLE_NAME
    USING HINT = 'The task needs no change to its rows: a rolled-back change still clears the visibility map of the '
                 'pages it touched, and an index built after it writes the row count in place.';
END $$
"""


def guard_lesson_tables(conn: Connection) -> list[str]:
    """Refuse row changes to the lesson's own tables until `release_lesson_tables`; returns the tables guarded."""
    from ..dataset import TABLES

    present = list(conn.exec_driver_sql(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' "
        "AND relname = ANY(%(tables)s)", {"tables": list(TABLES)}).scalars())
    if not present:
        return []
    conn.exec_driver_sql(_GUARD_FUNCTION)
    for table in present:
        conn.exec_driver_sql(f"CREATE TRIGGER pglab_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON public.{table} "
                             "FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.pglab_refuse_change()")
    return present


def release_lesson_tables(conn: Connection, guarded: list[str]) -> None:
    for table in guarded:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS pglab_guard ON public.{table}")
    if guarded:
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS pg_temp.pglab_refuse_change()")


def bind_named(sql: str) -> str:
    """The SQL with its `:name` parameters as psycopg's `%(name)s` and every other `%` doubled, so that the rest
    reaches the server exactly as written (sqlparse tells a parameter from a string, a cast or a comment)."""
    from sqlparse import tokens

    parts = []
    for statement in sqlparse.parse(sql):
        for token in statement.flatten():
            if token.ttype in tokens.Name.Placeholder and token.value.startswith(":"):
                parts.append(f"%({token.value[1:]})s")
            else:
                parts.append(token.value.replace("%", "%%"))
    return "".join(parts)


def positional(sql: str) -> tuple[str, list[str]]:
    """`:name` parameters as $1, $2 ... in order of first appearance, and their names (to parse or PREPARE a
    statement that has them)."""
    from sqlparse import tokens

    names: list[str] = []
    parts = []
    for statement in sqlparse.parse(sql):
        for token in statement.flatten():
            if token.ttype in tokens.Name.Placeholder and token.value.startswith(":"):
                if token.value[1:] not in names:
                    names.append(token.value[1:])
                parts.append(f"${names.index(token.value[1:]) + 1}")
            else:
                parts.append(token.value)
    return "".join(parts), names


def named_parameters(sql: str) -> set[str]:
    from sqlparse import tokens

    return {token.value[1:] for statement in sqlparse.parse(sql) for token in statement.flatten()
            if token.ttype in tokens.Name.Placeholder and token.value.startswith(":")}


def read_only_from_here(conn: Connection) -> None:
    """After the checker's own setup: the learner's query may read, never write."""
    conn.exec_driver_sql("SET LOCAL transaction_read_only = on")


__all__ = ["guard_lesson_tables", "release_lesson_tables", "refuse_changes_to_the_dataset", "LOCK_TIMEOUT_MS", "STATEMENT_TIMEOUT_MS", "Script", "ScriptRefused", "Statement", "bind_named",
           "is_blank", "named_parameters",
           "prepare", "read_only_from_here", "rolled_back", "run_script", "split", "without_comments"]
