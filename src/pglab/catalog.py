"""Questions about a schema answered from pg_catalog (no psql backslash commands needed)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # with its modifiers, as \d shows it: character varying(255)
    not_null: bool
    default: str | None
    base_type: str = ""  # without modifiers: character varying


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool
    primary: bool
    predicate: str | None
    method: str
    definition: str


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: str


_ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def columns(conn: Connection, table: str, schema: str = "public") -> dict[str, Column]:
    rows = conn.execute(
        sa.text(
            """SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                      format_type(a.atttypid, NULL)
               FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE a.attrelid = to_regclass(:qualified) AND a.attnum > 0 AND NOT a.attisdropped
               ORDER BY a.attnum"""
        ),
        {"qualified": f"{schema}.{table}"},
    )
    return {r[0]: Column(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows}


def table_exists(conn: Connection, table: str, schema: str = "public") -> bool:
    return conn.execute(sa.text("SELECT to_regclass(:q) IS NOT NULL"), {"q": f"{schema}.{table}"}).scalar_one()


def indexes(conn: Connection, table: str, schema: str = "public") -> list[Index]:
    rows = conn.execute(
        sa.text(
            """SELECT c.relname,
                      ARRAY(SELECT coalesce(a.attname, '(expression)')
                            FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n)
                            LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                            ORDER BY k.n),
                      i.indisunique, i.indisprimary, pg_get_expr(i.indpred, i.indrelid), am.amname,
                      pg_get_indexdef(i.indexrelid)
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_am am ON am.oid = c.relam
               WHERE i.indrelid = to_regclass(:qualified)
               ORDER BY c.relname"""
        ),
        {"qualified": f"{schema}.{table}"},
    )
    return [Index(r[0], tuple(r[1]), bool(r[2]), bool(r[3]), r[4], r[5], r[6]) for r in rows]


def foreign_keys(conn: Connection, table: str, schema: str = "public") -> list[ForeignKey]:
    rows = conn.execute(
        sa.text(
            """SELECT con.conname,
                      ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                            JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
                      con.confrelid::regclass::text,
                      ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
                            JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o),
                      con.confdeltype
               FROM pg_constraint con
               WHERE con.conrelid = to_regclass(:qualified) AND con.contype = 'f'
               ORDER BY con.conname"""
        ),
        {"qualified": f"{schema}.{table}"},
    )
    return [ForeignKey(r[0], tuple(r[1]), r[2], tuple(r[3]), _ON_DELETE.get(r[4], str(r[4]))) for r in rows]


def tables(conn: Connection, schema: str = "public") -> list[str]:
    return list(
        conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') ORDER BY c.relname"
            ),
            {"schema": schema},
        ).scalars()
    )


def sizes(conn: Connection, schema: str = "public") -> pd.DataFrame:
    """Rows (estimated), table size and index size of every table in the schema, biggest first."""
    rows = conn.execute(
        sa.text(
            """SELECT c.relname AS table, c.reltuples::bigint AS rows,
                      pg_size_pretty(pg_table_size(c.oid)) AS table_size,
                      pg_size_pretty(pg_indexes_size(c.oid)) AS indexes_size
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = :schema AND c.relkind = 'r'
               ORDER BY pg_total_relation_size(c.oid) DESC"""
        ),
        {"schema": schema},
    )
    return pd.DataFrame(rows.fetchall(), columns=["table", "rows", "table size", "indexes size"])


def diagram_data(
    conn: Connection, table_names: list[str] | None = None, schema: str = "public"
) -> tuple[dict[str, list[tuple[str, str, str]]], list[tuple[str, str, str, str]]]:
    """Columns with PK/FK/UQ markers and foreign-key edges, ready for charts.schema_diagram."""
    names = table_names or tables(conn, schema)
    boxes: dict[str, list[tuple[str, str, str]]] = {}
    edges: list[tuple[str, str, str, str]] = []
    for table in names:
        keys = {c for ix in indexes(conn, table, schema) if ix.primary for c in ix.columns}
        uniques = {ix.columns[0] for ix in indexes(conn, table, schema) if ix.unique and not ix.primary and len(ix.columns) == 1}
        fks = foreign_keys(conn, table, schema)
        fk_columns = {c for fk in fks for c in fk.columns}
        rows = []
        for column in columns(conn, table, schema).values():
            marker = " ".join(m for m, present in (("PK", column.name in keys), ("FK", column.name in fk_columns),
                                                    ("UQ", column.name in uniques)) if present)
            rows.append((column.name, column.data_type.replace("timestamp with time zone", "timestamptz")
                         .replace("character varying", "varchar"), marker))
        boxes[table] = rows
        edges += [(table, fk.columns[0], fk.ref_table, fk.ref_columns[0]) for fk in fks if fk.ref_table in names]
    return boxes, edges
