"""The index audit: a checklist of index and constraint problems, read from the catalog and the statistics views.

    from pglab.audit import audit
    report = audit(engine)             # or audit(engine, schemas=["public"])
    print(report.text())

    python -m pglab audit postgresql://user:password@host:5432/dbname

It reports foreign keys no index serves, unused, duplicate, redundant and invalid indexes, NOT VALID constraints,
tables that sequential scans read most of, and tables whose updates are rarely HOT; each finding with its table,
its index, a size and one sentence of advice. It is read-only by construction: one read-only transaction (checked,
and rolled back at the end) with statement and lock timeouts, reading only catalogs and statistics views, never
a table's rows; so it needs no superuser and changes nothing, not even the statistics it reports. Where the
statistics cannot tell (counting off, a replica, a fresh database), its notes say so.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

STATEMENT_TIMEOUT = "10s"
LOCK_TIMEOUT = "1s"  # pg_relation_size() waits for a lock an ALTER TABLE holds: give up on that check instead
MIN_ROWS_FOR_SEQ_SCANS = 10_000  # pghero's threshold: smaller tables are fine to scan
INDEX_SCAN_SHARE = 95  # % of scans that should use an index on such a table (pghero's threshold)
MIN_UPDATES_FOR_HOT = 1_000
LOW_HOT_PCT = 50
FEW_SCANS = 1_000  # fewer scans than this over the whole database: "unused" means "not used yet"

# What each finding's check is called in the report, in the order the report lists them.
LABELS = {
    "missing_fk_index": "missing FK index",
    "duplicate_index": "duplicate index",
    "redundant_index": "redundant index",
    "unused_index": "unused index",
    "invalid_index": "invalid index",
    "not_valid_constraint": "NOT VALID",
    "seq_scans": "seq scans",
    "low_hot": "low HOT ratio",
}

_SYSTEM = ("pg_catalog", "information_schema", "pg_toast")


def _scope(column: str, schemas: Sequence[str] | None) -> str:
    """The SQL condition that keeps the schemas audited (bound as :schemas when given)."""
    if schemas:
        return f"{column} = ANY (CAST(:schemas AS text[]))"
    system = ", ".join(f"'{name}'" for name in _SYSTEM)
    return (f"{column} NOT IN ({system}) AND {column} NOT LIKE 'pg\\_temp\\_%' "
            f"AND {column} NOT LIKE 'pg\\_toast\\_temp\\_%'")


# ---------------------------------------------------------------- the checks' SQL

CONTEXT = """
SELECT current_setting('server_version_num')::int AS version,
       pg_is_in_recovery() AS replica,
       current_setting('track_counts')::bool AS track_counts,
       (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       current_database() AS database,
       current_setting('transaction_read_only') AS read_only
"""

# The keys' columns are the index's leading key columns, in any order (expression columns have attnum 0 and never
# match). A B-tree serves the lookups a foreign key's checks make (equality on every key column); so does a
# partial index whose predicate is "<column> IS NOT NULL" (the lookup implies it), a hash index on the one column
# and a GiST index (btree_gist) on the leading columns. A BRIN or any other partial index does not.
def _serves(fk: str, ix: str) -> str:
    """The SQL condition "index `ix` (a pg_index row) serves the lookups of foreign key `fk` (a pg_constraint row)",
    one definition for the missing-index check and the unused-index check, so that the two never disagree."""
    return f"""(
          {ix}.indisvalid
          AND (SELECT am.amname FROM pg_class AS ic JOIN pg_am AS am ON am.oid = ic.relam WHERE ic.oid = {ix}.indexrelid)
              IN ('btree', 'gist', 'hash')
          AND ((SELECT am.amname FROM pg_class AS ic JOIN pg_am AS am ON am.oid = ic.relam
                WHERE ic.oid = {ix}.indexrelid) <> 'hash' OR cardinality({fk}.conkey) = 1)
          AND ({ix}.indpred IS NULL
               OR (cardinality({fk}.conkey) = 1
                   AND pg_get_expr({ix}.indpred, {ix}.indrelid) = format('(%I IS NOT NULL)',
                         (SELECT attname FROM pg_attribute WHERE attrelid = {fk}.conrelid AND attnum = {fk}.conkey[1]))))
          AND {ix}.indnkeyatts >= cardinality({fk}.conkey)
          AND NOT EXISTS (SELECT 1 FROM generate_series(1, cardinality({fk}.conkey)) AS k
                          JOIN pg_attribute AS fa ON fa.attrelid = {ix}.indrelid AND fa.attnum = {ix}.indkey[k - 1]
                          WHERE {ix}.indcollation[k - 1] NOT IN (0, fa.attcollation))
          AND (string_to_array({ix}.indkey::text, ' ')::int2[])[1:cardinality({fk}.conkey)] @> {fk}.conkey
          AND (string_to_array({ix}.indkey::text, ' ')::int2[])[1:cardinality({fk}.conkey)] <@ {fk}.conkey)"""


FK_WITHOUT_INDEX = """
SELECT n.nspname AS schema, t.relname AS table, c.conname AS name,
       (SELECT format('%I.%I', rn.nspname, r.relname) FROM pg_class AS r
        JOIN pg_namespace AS rn ON rn.oid = r.relnamespace WHERE r.oid = c.confrelid) AS referenced,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
       pg_relation_size(c.conrelid) AS bytes
FROM pg_constraint AS c
JOIN pg_class AS t ON t.oid = c.conrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
WHERE c.contype = 'f' AND c.conparentid = 0 AND {scope}
  AND NOT EXISTS (SELECT 1 FROM pg_index AS i WHERE i.indrelid = c.conrelid AND """ + _serves("c", "i") + """)
ORDER BY pg_relation_size(c.conrelid) DESC, 1, 2, 3
"""

UNUSED = """
SELECT s.schemaname AS schema, s.relname AS table, s.indexrelname AS name,
       pg_relation_size(s.indexrelid) AS bytes, s.idx_scan,
       EXISTS (SELECT 1 FROM pg_constraint AS f WHERE f.contype = 'f' AND f.conrelid = s.relid
               AND """ + _serves("f", "i") + """) AS serves_foreign_key
FROM pg_stat_user_indexes AS s
JOIN pg_index AS i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND {scope}
  AND i.indisvalid                         -- invalid ones are reported on their own
  AND NOT i.indisunique                    -- a unique index works on every insert, scanned or not
  AND NOT i.indisexclusion
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = s.indexrelid AND c.conrelid = s.relid)
ORDER BY pg_relation_size(s.indexrelid) DESC, 1, 2, 3
"""

# a is redundant when b (same table, same access method, both valid) has a's key columns as its leading key
# columns: the same column or expression at each position, the same operator class, collation and ordering (or
# all reversed), the same predicate, and b holds a's INCLUDE columns too. Only a B-tree serves a prefix of its
# keys; other methods need the same keys. A unique a is redundant only next to a unique b on the same keys. An
# index that backs a constraint is never reported. Of exact twins, the newer one is reported.
REDUNDANT = """
WITH ix AS (
  SELECT i.indexrelid, i.indrelid, i.indnkeyatts, i.indnatts, i.indisunique, i.indisprimary,
         i.indpred, i.indclass, i.indcollation, i.indoption, i.indnullsnotdistinct, i.indimmediate,
         string_to_array(i.indkey::text, ' ')::int2[] AS cols, ic.relam, am.amname,
         EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
           AS backs_constraint
  FROM pg_index AS i
  JOIN pg_class AS ic ON ic.oid = i.indexrelid
  JOIN pg_am AS am ON am.oid = ic.relam
  JOIN pg_namespace AS n ON n.oid = ic.relnamespace
  WHERE i.indisvalid AND {scope}
)
SELECT n.nspname AS schema, t.relname AS table, ca.relname AS name, cb.relname AS covered_by,
       pg_relation_size(a.indexrelid) AS bytes,
       a.indnkeyatts = b.indnkeyatts AS exact
FROM ix AS a
JOIN ix AS b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid AND b.relam = a.relam
JOIN pg_class AS ca ON ca.oid = a.indexrelid
JOIN pg_class AS cb ON cb.oid = b.indexrelid
JOIN pg_class AS t ON t.oid = a.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
WHERE NOT a.backs_constraint AND NOT a.indisprimary
  AND a.indnkeyatts <= b.indnkeyatts
  AND (a.amname = 'btree' OR a.indnkeyatts = b.indnkeyatts)
  AND pg_get_expr(a.indpred, a.indrelid) IS NOT DISTINCT FROM pg_get_expr(b.indpred, b.indrelid)
  AND NOT EXISTS (
        SELECT 1 FROM generate_series(1, a.indnkeyatts) AS k
        WHERE pg_get_indexdef(a.indexrelid, k, true) IS DISTINCT FROM pg_get_indexdef(b.indexrelid, k, true)
           OR a.indclass[k - 1] <> b.indclass[k - 1]
           OR a.indcollation[k - 1] <> b.indcollation[k - 1])
  AND (NOT EXISTS (SELECT 1 FROM generate_series(1, a.indnkeyatts) AS k
                   WHERE a.indoption[k - 1] <> b.indoption[k - 1])
       OR NOT EXISTS (SELECT 1 FROM generate_series(1, a.indnkeyatts) AS k
                      WHERE a.indoption[k - 1] <> (b.indoption[k - 1] # 3)))
  AND a.cols[a.indnkeyatts + 1:a.indnatts] <@ b.cols
  AND (NOT a.indisunique OR (b.indisunique AND a.indnkeyatts = b.indnkeyatts
                              -- NULLS NOT DISTINCT, or a deferrable constraint's index, do another job
                              AND a.indnullsnotdistinct = b.indnullsnotdistinct AND a.indimmediate = b.indimmediate))
  AND (a.indnkeyatts < b.indnkeyatts
       OR (b.indisunique AND NOT a.indisunique)
       OR b.backs_constraint
       OR cardinality(a.cols) < cardinality(b.cols)
       OR (a.indisunique = b.indisunique AND cardinality(a.cols) = cardinality(b.cols) AND a.indexrelid > b.indexrelid))
ORDER BY pg_relation_size(a.indexrelid) DESC, 1, 2, 3, 4
"""

INVALID = """
SELECT n.nspname AS schema, t.relname AS table, ic.relname AS name,
       pg_relation_size(i.indexrelid) AS bytes, i.indisready AS ready,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index AS p WHERE p.index_relid = i.indexrelid) AS being_built
FROM pg_index AS i
JOIN pg_class AS ic ON ic.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = ic.relnamespace
WHERE NOT i.indisvalid AND {scope}
ORDER BY 1, 2, 3
"""

# Another role's index build shows in pg_stat_progress_create_index without its relid (measured on 15 and 18).
BUILDS_RUNNING = """
SELECT coalesce(string_agg(pid::text, ', ' ORDER BY pid), '') AS pids FROM pg_stat_progress_create_index
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""

NOT_VALID = """
SELECT n.nspname AS schema, t.relname AS table, c.conname AS name, c.contype::text AS kind
FROM pg_constraint AS c
JOIN pg_class AS t ON t.oid = c.conrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
WHERE NOT c.convalidated AND {scope}
ORDER BY 1, 2, 3
"""

# Row counts from pg_class.reltuples (-1 before the first VACUUM or ANALYZE): a copied database keeps them, while
# n_live_tup starts at 0 there and can count rows twice.
SEQ_SCANS = """
SELECT s.schemaname AS schema, s.relname AS table,
       (CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE s.n_live_tup END)::bigint AS rows,
       s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0) AS idx_scan,
       round(100.0 * coalesce(s.idx_scan, 0) / (s.seq_scan + coalesce(s.idx_scan, 0)), 1)::float AS index_pct,
       pg_relation_size(s.relid) AS bytes
FROM pg_stat_user_tables AS s
JOIN pg_class AS c ON c.oid = s.relid
WHERE (CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE s.n_live_tup END) >= :min_rows AND s.seq_scan > 0 AND {scope}
  AND 100 * coalesce(s.idx_scan, 0) < :index_share * (s.seq_scan + coalesce(s.idx_scan, 0))
  AND s.seq_tup_read > coalesce(s.idx_tup_fetch, 0)
ORDER BY s.seq_tup_read DESC, 1, 2
"""

# Which columns the updates changed, the statistics do not say; every column an index uses (keys, INCLUDE,
# expressions, predicates) stops an update that changes it from being HOT (a BRIN index only before 16).
LOW_HOT = """
SELECT s.schemaname AS schema, s.relname AS table, s.n_tup_upd AS updates, s.n_tup_hot_upd AS hot,
       {newpage} AS moved,
       round(100.0 * s.n_tup_hot_upd / s.n_tup_upd, 1)::float AS hot_pct,
       coalesce((SELECT option_value FROM pg_options_to_table(c.reloptions) WHERE option_name = 'fillfactor'),
                '100') AS fillfactor,
       ARRAY(SELECT DISTINCT a.attname::text
             FROM pg_index AS i JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
             WHERE i.indrelid = s.relid AND a.attnum > 0 ORDER BY 1) AS indexed_columns,
       pg_relation_size(s.relid) AS bytes
FROM pg_stat_user_tables AS s
JOIN pg_class AS c ON c.oid = s.relid
WHERE s.n_tup_upd >= :min_updates AND 100 * s.n_tup_hot_upd < :low_hot * s.n_tup_upd AND {scope}
  AND EXISTS (SELECT 1 FROM pg_index AS i WHERE i.indrelid = s.relid)
ORDER BY s.n_tup_upd - s.n_tup_hot_upd DESC, 1, 2
"""

SCANS_SEEN = """
SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0)::bigint AS scans FROM pg_stat_user_tables AS s WHERE {scope}
"""


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class Finding:
    """One problem: `check` is a key of LABELS; `name` the index or constraint (None for a table's finding)."""

    check: str
    schema: str
    table: str
    name: str | None
    bytes: int | None
    advice: str
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return LABELS[self.check]

    @property
    def subject(self) -> str:
        if self.check == "missing_fk_index":
            return f"{self.schema}.{self.table} ({', '.join(self.details['columns'])})"
        if self.name is None:
            return f"{self.schema}.{self.table}"
        if self.check == "not_valid_constraint":
            return f"{self.schema}.{self.table}.{self.name}"
        return f"{self.schema}.{self.name} on {self.table}"

    def line(self) -> str:
        size = f"  {size_text(self.bytes)}" if self.bytes is not None else ""
        return f"  {self.label:<17} {self.subject}{size}: {self.advice}"


@dataclass
class Report:
    """The findings, in LABELS order, and what the audit could not tell (notes)."""

    findings: list[Finding]
    notes: list[str]
    version: int
    database: str
    replica: bool
    stats_reset: datetime | None

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def of(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def checks(self) -> set[str]:
        """The kinds of finding present."""
        return {f.check for f in self.findings}

    def names(self, check: str) -> list[str]:
        return [f.name or f.table for f in self.of(check)]

    def heading(self) -> str:
        since = (f"statistics since {self.stats_reset:%Y-%m-%d %H:%M}" if self.stats_reset
                 else "statistics since the database was created (or restored, or the server last crashed)")
        role = "replica" if self.replica else "primary"
        return f"pglab audit of {self.database}: PostgreSQL {self.version // 10000}, {role}, {since}"

    def text(self) -> str:
        lines = [self.heading()]
        lines += [f.line() for f in self.findings] or ["  no findings"]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def table(self) -> Any:
        """The findings as a DataFrame (check, object, size, advice)."""
        import pandas

        return pandas.DataFrame(
            [(f.label, f.subject, size_text(f.bytes) if f.bytes is not None else "", f.advice) for f in self.findings],
            columns=["check", "object", "size", "advice"],
        )

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


def size_text(n: int) -> str:
    if n >= 1024 ** 3:
        return f"{n / 1024 ** 3:.1f} GB"
    if n >= 1024 ** 2:
        return f"{n / 1024 ** 2:.1f} MB"
    if n >= 1024:
        return f"{n // 1024} kB"
    return f"{n} bytes"


# ---------------------------------------------------------------- running it


class _Reader:
    """Runs each check in a savepoint of the read-only transaction: a check that times out or is refused becomes
    a note, and the others go on."""

    def __init__(self, conn: Connection, schemas: Sequence[str] | None) -> None:
        self.conn = conn
        self.schemas = list(schemas) if schemas else None
        self.notes: list[str] = []

    def rows(self, what: str, sql: str, column: str = "n.nspname", **params: Any) -> list[dict[str, Any]] | None:
        text = sql.replace("{scope}", _scope(column, self.schemas))
        if self.schemas:
            params["schemas"] = self.schemas
        savepoint = self.conn.begin_nested()
        try:
            result = [dict(row._mapping) for row in self.conn.execute(sa.text(text), params)]
        except sa.exc.DBAPIError as error:
            savepoint.rollback()
            reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
            self.notes.append(f"could not tell {what}: {reason}.")
            return None
        savepoint.commit()
        return result


def audit(engine: Engine | Connection, schemas: Sequence[str] | None = None) -> Report:
    """Audit the database `engine` connects to (every schema but the system ones, or only `schemas`)."""
    if isinstance(engine, Connection):
        raise TypeError("audit() takes an Engine: it opens its own read-only transaction")
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        conn.begin()
        try:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            conn.exec_driver_sql("SET LOCAL idle_in_transaction_session_timeout = '60s'")
            context = dict(conn.exec_driver_sql(CONTEXT).one()._mapping)
            if context["read_only"] != "on":  # never go on in a transaction that could write
                raise RuntimeError("the audit's transaction is not read-only")
            return _run(_Reader(conn, schemas), context)
        finally:
            conn.rollback()


def _run(reader: _Reader, context: dict[str, Any]) -> Report:
    version = int(context["version"])
    findings: list[Finding] = []
    notes = reader.notes
    counting = bool(context["track_counts"])

    findings += _foreign_keys(reader.rows("which foreign keys lack an index", FK_WITHOUT_INDEX))
    redundant = _redundant(reader.rows("which indexes duplicate others", REDUNDANT))
    findings += redundant
    if counting:
        scans = reader.rows("how much the statistics have seen", SCANS_SEEN, column="s.schemaname")
        seen = int(scans[0]["scans"]) if scans else 0
        unused = reader.rows("which indexes are unused", UNUSED, column="s.schemaname")
        findings += _unused(unused, {f.name for f in redundant if f.name}, seen, context, notes)
    findings += _invalid(reader.rows("which indexes are invalid", INVALID), reader)
    findings += _not_valid(reader.rows("which constraints are NOT VALID", NOT_VALID))
    if counting:
        findings += _seq_scans(reader.rows("which tables sequential scans read", SEQ_SCANS, column="s.schemaname",
                                           min_rows=MIN_ROWS_FOR_SEQ_SCANS, index_share=INDEX_SCAN_SHARE))
        newpage = "s.n_tup_newpage_upd" if version >= 160000 else "NULL::bigint"
        findings += _low_hot(reader.rows("which tables have few HOT updates", LOW_HOT.replace("{newpage}", newpage),
                                         column="s.schemaname", min_updates=MIN_UPDATES_FOR_HOT, low_hot=LOW_HOT_PCT),
                             version)
    else:
        notes.append("track_counts is off, so there are no statistics: unused indexes, sequential scans and HOT "
                     "updates cannot be told.")
    if context["replica"]:
        notes.append("this server is a replica: its statistics count only the queries it served, so check the "
                     "primary and every replica before dropping an index.")
    order = list(LABELS)
    findings.sort(key=lambda f: order.index(f.check))  # stable: each check keeps its own order
    return Report(findings, notes, version, str(context["database"]), bool(context["replica"]),
                  context["stats_reset"])


def _foreign_keys(rows: list[dict[str, Any]] | None) -> list[Finding]:
    grouped: dict[tuple[str, str, tuple[str, ...]], list[dict[str, Any]]] = {}
    for row in rows or []:
        grouped.setdefault((row["schema"], row["table"], tuple(row["columns"])), []).append(row)
    found = []
    for (schema, table, columns), keys in grouped.items():
        referenced = ", ".join(sorted({k["referenced"] for k in keys}))
        cols = ", ".join(columns)
        found.append(Finding(
            "missing_fk_index", schema, table, keys[0]["name"], keys[0]["bytes"],
            f"references {referenced}: each delete there, or change of its key, reads {table} for matching rows; "
            f"CREATE INDEX CONCURRENTLY ON {schema}.{table} ({cols}).",
            {"columns": columns, "constraints": [k["name"] for k in keys], "referenced": referenced}))
    return found


def _redundant(rows: list[dict[str, Any]] | None) -> list[Finding]:
    covers: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows or []:
        covers.setdefault((row["schema"], row["table"], row["name"]), []).append(row)
    reported = {key[2] for key in covers}
    found = []
    for (schema, table, name), options in covers.items():
        # name a cover that is not itself reported, so that the advice never drops both
        best = sorted(options, key=lambda r: (r["covered_by"] in reported, not r["exact"], r["covered_by"]))[0]
        check = "duplicate_index" if best["exact"] else "redundant_index"
        what = "has the same keys as" if best["exact"] else "is the leading part of"
        found.append(Finding(
            check, schema, table, name, best["bytes"],
            f"{what} {best['covered_by']}, which serves its queries; DROP INDEX CONCURRENTLY {schema}.{name}.",
            {"covered_by": best["covered_by"]}))
    return found


def _unused(rows: list[dict[str, Any]] | None, redundant: set[str], seen: int, context: dict[str, Any],
            notes: list[str]) -> list[Finding]:
    found = []
    for row in rows or []:
        if row["name"] in redundant:
            continue
        if row["serves_foreign_key"]:
            advice = ("it serves a foreign key: it is scanned only when rows it refers to are deleted or their key "
                      "changes; keep it unless that never happens.")
        else:
            advice = "no scan since statistics began; check the replicas too, then DROP INDEX CONCURRENTLY it."
        found.append(Finding("unused_index", row["schema"], row["table"], row["name"], row["bytes"], advice,
                             {"serves_foreign_key": row["serves_foreign_key"]}))
    if found and (seen < FEW_SCANS or context["stats_reset"] is None):
        young = f"the statistics have counted only {seen:,} scans" if seen < FEW_SCANS else (
            "the statistics go back only to the database's creation, restore or the last crash")
        notes.append(f"{young}: an index that looks unused may serve a monthly job; read 'unused' as 'not used yet'.")
    return found


def _invalid(rows: list[dict[str, Any]] | None, reader: _Reader) -> list[Finding]:
    found = []
    others = None
    for row in rows or []:
        if row["being_built"]:
            advice = "being built right now by CREATE INDEX CONCURRENTLY; nothing to do unless that fails."
        else:
            upkeep = "every write still updates it, yet no query uses it" if row["ready"] else "no query uses it"
            advice = (f"left by a failed CREATE INDEX CONCURRENTLY (or REINDEX): {upkeep}; DROP INDEX CONCURRENTLY "
                      "it, then build it again.")
            if others is None:
                running = reader.rows("whether an index build is running", BUILDS_RUNNING)
                others = str(running[0]["pids"]) if running else ""
            if others:
                advice += f" (An index build is running in this database, pid {others}: if this is it, ignore this.)"
        found.append(Finding("invalid_index", row["schema"], row["table"], row["name"], row["bytes"], advice))
    return found


_KINDS = {"c": "CHECK", "f": "FOREIGN KEY", "n": "NOT NULL"}


def _not_valid(rows: list[dict[str, Any]] | None) -> list[Finding]:
    return [Finding(
        "not_valid_constraint", row["schema"], row["table"], row["name"], None,
        f"a {_KINDS.get(row['kind'], 'constraint')} that new rows obey but existing rows were never checked against; "
        f"ALTER TABLE {row['schema']}.{row['table']} VALIDATE CONSTRAINT {row['name']} (reads and writes go on "
        "meanwhile).",
        {"kind": row["kind"]}) for row in rows or []]


def _seq_scans(rows: list[dict[str, Any]] | None) -> list[Finding]:
    return [Finding(
        "seq_scans", row["schema"], row["table"], None, row["bytes"],
        f"{row['rows']:,} rows; only {row['index_pct']}% of its scans use an index, and {row['seq_scan']:,} "
        f"sequential scans read {row['seq_tup_read']:,} rows: find those queries (pg_stat_statements) and index "
        "what they filter on.",
        {"index_pct": row["index_pct"], "seq_scan": row["seq_scan"]}) for row in rows or []]


def _low_hot(rows: list[dict[str, Any]] | None, version: int) -> list[Finding]:
    found = []
    for row in rows or []:
        cold = row["updates"] - row["hot"]
        if row["moved"] is None:
            why = "PostgreSQL 16+ would tell whether they changed an indexed column or found no room on the page"
        elif cold - row["moved"] >= 0.1 * cold:
            why = ("most changed an indexed column, which no fillfactor helps: see whether every index on an "
                   "updated column (updated_at, counters) earns its cost")
        else:
            why = (f"they found no room on their page: a lower fillfactor (now {row['fillfactor']}, try 90) leaves "
                   "room, which makes them HOT only if they leave every indexed column alone (the statistics cannot "
                   "tell whether they do)")
        found.append(Finding(
            "low_hot", row["schema"], row["table"], None, row["bytes"],
            f"{row['hot_pct']}% of {row['updates']:,} updates were HOT; {why}. Indexed columns: "
            f"{', '.join(row['indexed_columns'])}.",
            {"hot_pct": row["hot_pct"], "fillfactor": row["fillfactor"], "moved": row["moved"]}))
    return found


# ---------------------------------------------------------------- the command line


def read_only_engine(url: str) -> Engine:
    """An engine for an audit from the command line: every transaction read-only from the connection's start."""
    from .connection import parse_database_url

    return sa.create_engine(parse_database_url(url), poolclass=sa.pool.NullPool, connect_args={
        "options": "-c default_transaction_read_only=on", "application_name": "pglab audit", "connect_timeout": 10})


def command(url: str) -> tuple[int, str]:
    """`python -m pglab audit URL`: (exit status, what to print). Errors are one sentence, never a traceback."""
    from .errors import LabSetupError

    try:
        engine = read_only_engine(url)
    except LabSetupError as error:
        return 1, f"pglab audit: {error}"
    where = engine.url.host or engine.url.query.get("host") or "localhost"
    port = engine.url.port or engine.url.query.get("port") or 5432
    try:
        return 0, audit(engine).text()
    except sa.exc.OperationalError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        for prefix in ("connection failed: ", "connection is bad: "):
            reason = reason.removeprefix(prefix)
        return 1, f"pglab audit: could not connect to {where}:{port}/{engine.url.database}: {reason}"
    except sa.exc.DBAPIError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        return 1, f"pglab audit: the server refused the audit: {reason}"
    finally:
        engine.dispose()


__all__ = ["LABELS", "Finding", "Report", "audit", "command", "read_only_engine", "size_text"]
