"""Requirements and diagnoses that probe a schema by behaviour: what it accepts, what it rejects, what the
catalog says. Every probe runs in a savepoint that is rolled back, inside the checker's transaction.

Rules every probe follows (each learned from an answer that fooled an earlier check):
- deferred constraints count: a probe asks for them at once (SET CONSTRAINTS ALL IMMEDIATE), as COMMIT would;
- types are compared by what they are, not how they are spelled (timestamptz(3) is a timestamptz, int4 an integer);
- a default must be evaluated at every insert, not once when the table was created ('now' is a constant).
"""
from __future__ import annotations

import re

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from .. import catalog
from ..errors import is_database_error, short_message
from .base import Check, Trial
from .learner_sql import run_script


def probe(conn: Connection, sql: str) -> BaseException | None:
    """Run sql inside a savepoint that is rolled back (deferred constraints checked at once, as COMMIT would);
    return the database error it raised, or None."""
    return probe_value(conn, sql)[0]


def probe_value(conn: Connection, sql: str, query: str | None = None) -> tuple[BaseException | None, Any]:
    """Run sql in a savepoint, then (if it worked) the query; roll the savepoint back.

    Returns (the database error or None, the query's single value or None)."""
    savepoint = conn.begin_nested()
    try:
        run_script(conn, sql + ";\nSET CONSTRAINTS ALL IMMEDIATE")
        value = conn.exec_driver_sql(query).scalar() if query else None
    except Exception as error:
        savepoint.rollback()
        if is_database_error(error):
            return error, None
        raise
    savepoint.rollback()
    return None, value


def accepted_values(conn: Connection, insert: str, values: Sequence[str]) -> dict[str, bool]:
    """Which values the schema accepts: `insert` (with $1 for the value) tried for each one, each in a
    subtransaction that is undone, deferred constraints included, in one round trip for all of them."""
    body = insert.replace("'", "''")
    run_script(conn, f"""
CREATE OR REPLACE FUNCTION pg_temp.pglab_accepts(v text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE '{body}' USING v;
  SET CONSTRAINTS ALL IMMEDIATE;
  RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'pglab: undo';
EXCEPTION
  WHEN raise_exception THEN RETURN SQLERRM = 'pglab: undo';
  WHEN OTHERS THEN RETURN false;
END $$""")
    rows = conn.exec_driver_sql("SELECT v, pg_temp.pglab_accepts(v) FROM unnest(%(values)s::text[]) AS v",
                                {"values": list(values)}).all()
    return {value: bool(accepted) for value, accepted in rows}


def rejects(sql: str, *, why: str) -> Check:
    """The schema must make this statement fail (e.g. insert a NULL email)."""

    def requirement(trial: Trial) -> str | None:
        assert trial.conn is not None
        return None if probe(trial.conn, sql) is not None else f"{why}: your schema accepted `{sql.strip()}`."

    return requirement


def accepts(sql: str, *, why: str) -> Check:
    """The schema must let this statement succeed."""

    def requirement(trial: Trial) -> str | None:
        assert trial.conn is not None
        error = probe(trial.conn, sql)
        return None if error is None else f"{why}, but `{sql.strip()}` failed: {short_message(error)}"

    return requirement


def type_name(conn: Connection, spelled: str) -> str:
    """PostgreSQL's own name for a type however it is spelled ('timestamptz' -> 'timestamp with time zone')."""
    return str(conn.exec_driver_sql("SELECT format_type(%(t)s::regtype, NULL)", {"t": spelled}).scalar_one())


def has_column(table: str, column: str, *, type: str | None = None, not_null: bool | None = None,
               has_default: bool | None = None) -> Check:
    """The table has the column; `type` in any spelling, its modifiers free (varchar(20) is a varchar)."""

    def requirement(trial: Trial) -> str | None:
        conn = trial.conn
        assert conn is not None
        if not catalog.table_exists(conn, table):
            return f"there is no table {table} (create it with that name)."
        columns = catalog.columns(conn, table)
        if column not in columns:
            return f"table {table} has no column {column} (it has {', '.join(columns)})."
        found = columns[column]
        if type is not None:
            wanted = type_name(conn, type)
            if found.base_type != wanted and _domain_base(conn, table, column) != wanted:
                return f"column {column} should be of type {wanted}, not {found.data_type}."
        if not_null is True and not found.not_null and not _null_rejected_otherwise(conn, table, column):
            return f"column {column} should be NOT NULL."
        if not_null is False and found.not_null:
            return f"column {column} should allow NULL (it is optional)."
        if has_default is True and found.default is None:
            return f"column {column} should have a DEFAULT."
        return None

    return requirement


def _domain_base(conn: Connection, table: str, column: str) -> str | None:
    """The base type of the column's domain (a domain over timestamptz is a timestamptz), or None."""
    return conn.exec_driver_sql(
        "SELECT format_type(t.typbasetype, NULL) FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%(table)s) AND a.attname = %(column)s AND t.typtype = 'd'",
        {"table": f"public.{table}", "column": column}).scalar()


def _null_rejected_otherwise(conn: Connection, table: str, column: str) -> bool:
    """NOT NULL said another way: a validated CHECK (column IS NOT NULL), or a NOT NULL domain."""
    checks = conn.exec_driver_sql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%(table)s) "
        "AND contype = 'c' AND convalidated", {"table": f"public.{table}"}).scalars().all()
    pattern = re.compile(rf"^CHECK \(\(?{re.escape(column)} IS NOT NULL\)?\)$")
    if any(pattern.match(definition) for definition in checks):
        return True
    return bool(conn.exec_driver_sql(
        "SELECT t.typnotnull FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%(table)s) AND a.attname = %(column)s AND t.typtype = 'd'",
        {"table": f"public.{table}", "column": column}).scalar())


def default_evaluated_per_insert(table: str, column: str) -> Check:
    """The column's DEFAULT is an expression run at each insert (now(), CURRENT_TIMESTAMP), not a constant."""

    def requirement(trial: Trial) -> str | None:
        assert trial.conn is not None
        expression = trial.value_of(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef AS d JOIN pg_attribute AS a "
            "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            f"WHERE d.adrelid = to_regclass('{table}') AND a.attname = '{column}'")
        if expression is None:
            return f"column {column} should have a DEFAULT."
        if _is_constant(expression):
            return (f"the DEFAULT of {column} is a constant, {expression}: a quoted 'now' is read once, when the "
                    "table is created, so every row would get that same time. Use now() (or CURRENT_TIMESTAMP), "
                    "which runs at every insert.")
        # Judged by what it gives, inside the checker's transaction: now() is the transaction's start, so a default
        # that is the time of the insert lies between now() and the clock.
        is_time = trial.value_of(
            f"SELECT format_type(atttypid, NULL) LIKE 'timestamp%%' FROM pg_attribute "
            f"WHERE attrelid = to_regclass('{table}') AND attname = '{column}'")
        if is_time:
            now_ish = trial.value_of(f"SELECT ({expression})::timestamptz BETWEEN now() AND clock_timestamp()")
            if not now_ish:
                return (f"the DEFAULT of {column}, {expression}, does not give the time of the insert (a date at "
                        "midnight, as CURRENT_DATE or date_trunc give, or another instant). Use now() (or "
                        "CURRENT_TIMESTAMP).")
        return None

    return requirement


def _is_constant(expression: str) -> bool:
    from pglast import ast, parse_sql

    try:
        node = parse_sql(f"SELECT {expression}")[0].stmt.targetList[0].val  # type: ignore[union-attr]
    except Exception:
        return False
    if isinstance(node, ast.TypeCast):  # one cast over a literal is read when the table is created;
        node = node.arg                 # 'now'::text::timestamptz casts text at every insert, so it is not constant
    return isinstance(node, ast.A_Const)


def has_index(table: str, columns: Sequence[str], *, unique: bool | None = None, partial: bool | None = None,
              method: str | None = None, leading_only: bool = True) -> Check:
    """An index on table whose leading key columns are `columns` (in that order)."""

    def requirement(trial: Trial) -> str | None:
        assert trial.conn is not None
        wanted = tuple(columns)
        candidates = [
            ix for ix in catalog.indexes(trial.conn, table)
            if (ix.columns[: len(wanted)] == wanted if leading_only else ix.columns == wanted)
        ]
        label = f"({', '.join(wanted)})"
        if not candidates:
            return f"there is no index on {table} {label}."
        if unique is not None:
            candidates = [ix for ix in candidates if ix.unique == unique]
            if not candidates:
                return f"the index on {table} {label} should {'be' if unique else 'not be'} UNIQUE."
        if partial is not None:
            candidates = [ix for ix in candidates if (ix.predicate is not None) == partial]
            if not candidates:
                return f"the index on {table} {label} should {'have' if partial else 'not have'} a WHERE clause."
        if method is not None and not any(ix.method == method for ix in candidates):
            return f"the index on {table} {label} should use {method}."
        return None

    return requirement


def dataset_indexes_only(*tables: str, keep_also: Sequence[str] = ()) -> str:
    """Setup SQL for a plan exercise: drop every index on `tables` that neither the dataset nor a constraint made
    (what the learner created while trying things would otherwise make a wrong answer pass). It runs in the
    checker's transaction, so the indexes come back when the check ends. DROP INDEX locks its table against readers
    until the check ends, so an index the check would only build again is named in `keep_also` and kept."""
    from ..dataset import INDEXES

    keep = ", ".join(f"'{name}'" for name in (*INDEXES, *keep_also))
    listed = ", ".join(f"'{table}'" for table in tables)
    return f"""
DO $$
DECLARE extra record;
BEGIN
  FOR extra IN SELECT i.indexrelid::regclass AS name FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
               WHERE i.indrelid::regclass::text IN ({listed}) AND c.relname NOT IN ({keep})
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid)
  LOOP
    EXECUTE format('DROP INDEX %s', extra.name);
  END LOOP;
END $$;
"""


def violating_row(trial: Trial) -> str | None:
    """For 'check constraint ... is violated by some row': the first existing row the learner's CHECK rejects."""
    from pglast import ast, enums
    from pglast.stream import RawStream

    assert trial.conn is not None and trial.script is not None
    for statement in trial.script.statements:
        node = statement.node
        if not isinstance(node, ast.AlterTableStmt) or node.relation is None:
            continue
        table = RawStream()(node.relation)
        for command in node.cmds or ():
            constraint = getattr(command, "def_", None)
            if isinstance(constraint, ast.Constraint) and constraint.contype == enums.ConstrType.CONSTR_CHECK and constraint.raw_expr is not None:
                expression = RawStream()(constraint.raw_expr)
                savepoint = trial.conn.begin_nested()
                try:
                    row = trial.conn.exec_driver_sql(
                        f"SELECT * FROM {table} WHERE NOT ({expression}) LIMIT 1").mappings().first()
                except Exception:
                    row = None
                finally:
                    savepoint.rollback()
                if row is not None:
                    shown = ", ".join(f"{k}={v!r}" for k, v in list(row.items())[:4])
                    return (f"A row already in {table} breaks your CHECK, so PostgreSQL refused to add it: ({shown}"
                            f"{', ...' if len(row) > 4 else ''}). A new CHECK must hold for every existing row too (NOT VALID postpones that to VALIDATE CONSTRAINT).")
    return None


__all__ = ["accepted_values", "accepts", "dataset_indexes_only", "default_evaluated_per_insert", "has_column", "has_index", "probe", "probe_value", "rejects",
           "type_name", "violating_row"]
