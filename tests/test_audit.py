"""pglab.audit and `python -m pglab audit`: every finding on a seeded database, none on a clean one, nothing
changed on a database the lab did not build, and one sentence for a bad URL or a server that does not answer.

The audits run as the lesson role (not a superuser), as a learner's would on their own database."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from pglab import audit, databases
from pglab.audit import LABELS, command
from pglab.content import audit_demo


def _empty(name: str):
    from pglab import start_lesson

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return start_lesson(f"08_{name}", sql_magic=False, with_dataset=False,
                        database=f"{databases.prefix()}_test{worker}_audit_{name}")


def _drop(lesson) -> None:
    from pglab import connection

    lesson.engine.dispose()
    admin = connection.admin_engine()
    with admin.connect() as conn:
        databases.drop_if_ours(conn, lesson.database)
    admin.dispose()


@pytest.fixture(scope="module")
def seeded():
    lesson = _empty("seeded")
    audit_demo.seed(lesson.engine)
    yield lesson
    _drop(lesson)


@pytest.fixture(scope="module")
def report(seeded):
    return audit(seeded.engine)


def test_runs_as_a_role_that_is_not_a_superuser(seeded):
    with seeded.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar() is False


def test_every_kind_of_finding_on_the_seeded_database(report):
    assert report.checks() == set(LABELS), report.text()


def test_missing_foreign_key_indexes(report):
    found = {(f.table, tuple(f.details["columns"])) for f in report.of("missing_fk_index")}
    # orders (shop_id): only a partial and a non-leading index; notes: an expression; returns: half the key
    assert found == {("orders", ("shop_id",)), ("notes", ("order_id",)), ("returns", ("shop_id", "region"))}
    # covered: customer_id leads orders_customer_created, deliveries has both columns in the other order, and a
    # hash index serves refunds' two keys on order_id
    assert all(f.bytes is not None and "CREATE INDEX CONCURRENTLY" in f.advice for f in report.of("missing_fk_index"))


def test_duplicate_and_redundant_indexes(report):
    assert {(f.name, f.details["covered_by"]) for f in report.of("duplicate_index")} == {
        ("customers_email", "customers_email_key"), ("customers_email_dup", "customers_email_key")}
    assert {(f.name, f.details["covered_by"]) for f in report.of("redundant_index")} == {
        ("customers_lower_email", "customers_lower_email_region"), ("orders_status_desc", "orders_status_amount")}
    near_misses = {"customers_email_pattern", "customers_email_c", "customers_region", "customers_region_hash",
                   "orders_amount_include", "customers_email_key", "customers_email_region"}
    reported = set(report.names("duplicate_index")) | set(report.names("redundant_index"))
    assert not reported & near_misses


def test_unused_indexes(report):
    unused = {f.name: f for f in report.of("unused_index")}
    assert "orders_created_shop" in unused and "orders_updated_at" in unused
    assert "customers_email_key" not in unused  # unique: it works on every insert
    assert "orders_customer_created" not in unused  # the workload used it
    assert not set(unused) & set(report.names("redundant_index"))  # reported once, as redundant
    assert "serves a foreign key" in unused["deliveries_region_shop"].advice
    assert "serves a foreign key" not in unused["orders_shop_open"].advice  # partial: it serves no key check
    assert any("not used yet" in note for note in report.notes)  # young statistics said so


def test_invalid_index_and_not_valid_constraints(seeded, report):
    assert report.names("invalid_index") == ["orders_note_key"]
    expected = {"orders_amount_positive", "refunds_order_again"}
    if seeded.server_version_num() >= 180000:
        expected.add("orders_note_not_null")  # NOT NULL ... NOT VALID is new in 18
    assert set(report.names("not_valid_constraint")) == expected
    assert all("VALIDATE CONSTRAINT" in f.advice for f in report.of("not_valid_constraint"))


def test_sequential_scans_and_hot(seeded, report):
    (scans,) = report.of("seq_scans")
    assert scans.table == "events" and scans.details["index_pct"] < 10
    (hot,) = report.of("low_hot")
    assert hot.table == "orders" and hot.details["hot_pct"] == 0 and "updated_at" in hot.advice
    if seeded.server_version_num() < 160000:
        assert "PostgreSQL 16+" in hot.advice


def test_every_finding_has_table_size_and_one_sentence(report):
    for finding in report:
        assert finding.table and finding.advice.endswith(".")
        if finding.check != "not_valid_constraint":
            assert finding.bytes is not None
    assert report.text().count("\n") >= len(report)


def test_schema_filter(seeded):
    assert len(audit(seeded.engine, schemas=["public"])) == len(audit(seeded.engine))
    assert len(audit(seeded.engine, schemas=["no_such_schema"])) == 0


def test_nothing_on_a_clean_database():
    lesson = _empty("clean")
    try:
        audit_demo.seed_clean(lesson.engine)
        report = audit(lesson.engine)
        assert len(report) == 0, report.text()
        assert "no findings" in report.text()
    finally:
        _drop(lesson)


FINGERPRINT = {
    "catalog": "SELECT md5(string_agg(format('%s %s %s %s', c.oid, c.relname, c.relfilenode, c.xmin), ',' "
               "ORDER BY c.oid)) FROM pg_class AS c",
    "constraints": "SELECT md5(string_agg(format('%s %s %s', oid, conname, convalidated), ',' ORDER BY oid)) "
                   "FROM pg_constraint",
    "statistics": "SELECT md5(string_agg(format('%s %s %s %s %s %s', relid, seq_scan, seq_tup_read, idx_scan, "
                  "n_tup_upd, n_tup_hot_upd), ',' ORDER BY relid)) FROM pg_stat_user_tables",
    "index statistics": "SELECT md5(string_agg(format('%s %s', indexrelid, idx_scan), ',' ORDER BY indexrelid)) "
                        "FROM pg_stat_user_indexes",
    "data": "SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM app.ledger AS t",
}
# (Not compared: pg_current_snapshot(), which other databases' work, autovacuum's ANALYZE for one, moves on.)


def test_changes_nothing_on_a_database_the_lab_did_not_build():
    """Objects made by another role (the server's superuser), in a schema of its own: the audit, as the lesson
    role, reads them and leaves the catalog, the statistics and the data as they were."""
    from pglab import connection

    lesson = _empty("foreign")
    owner = connection.make_engine(connection.target().url_for(lesson.database), pool_size=1)
    try:
        with owner.begin() as conn:
            connection.run_script(conn, """
CREATE SCHEMA app;
CREATE TABLE app.accounts (id int PRIMARY KEY, name text) WITH (autovacuum_enabled = off);
CREATE TABLE app.ledger (id int PRIMARY KEY, account_id int REFERENCES app.accounts, amount int, note text)
  WITH (autovacuum_enabled = off);
INSERT INTO app.accounts SELECT i, 'a' || i FROM generate_series(1, 100) AS i;
INSERT INTO app.ledger SELECT i, i % 100 + 1, i, 'n' || i FROM generate_series(1, 20000) AS i;
CREATE INDEX ledger_amount ON app.ledger (amount);
CREATE INDEX ledger_amount_again ON app.ledger (amount);
ALTER TABLE app.ledger ADD CONSTRAINT ledger_amount_positive CHECK (amount > 0) NOT VALID;""")
        with owner.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM app.ledger WHERE note = 'n5'").all()
            conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            conn.commit()

        def fingerprint(*names: str) -> dict[str, str]:
            with owner.connect() as conn:
                raw = connection.driver(conn)
                found = {name: raw.execute(FINGERPRINT[name]).fetchone()[0] for name in names}
                raw.execute("SELECT pg_stat_force_next_flush()")  # reading the data is a scan: count it now
                conn.commit()
            return found

        statistics = [name for name in FINGERPRINT if name != "data"]
        before = {**fingerprint("data"), **fingerprint(*statistics)}
        report = audit(lesson.engine)  # as the lesson role, which owns nothing in schema app
        after = {**fingerprint(*statistics), **fingerprint("data")}
        assert {k: v for k, v in before.items() if before[k] != after[k]} == {}, (before, after)
        assert {"missing_fk_index", "duplicate_index", "not_valid_constraint"} <= report.checks(), report.text()
    finally:
        owner.dispose()
        _drop(lesson)


def test_the_audit_transaction_cannot_write(seeded):
    from pglab.audit import read_only_engine

    url = seeded.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg", "postgresql")
    engine = read_only_engine(url)
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            conn.exec_driver_sql("CREATE TEMP TABLE x (i int)")
    finally:
        engine.dispose()
    status, text = command(url)
    assert status == 0 and text.startswith("pglab audit of ")


@pytest.mark.parametrize("url, expected", [
    ("notaurl", "is not a URL"),
    ("mysql://someone@localhost/app", "must point at PostgreSQL"),
    ("postgresql://nobody@127.0.0.1:1/app", "could not connect to 127.0.0.1:1/app"),
    ("postgresql:///app?host=/nonexistent", "could not connect to /nonexistent:5432/app"),
])
def test_bad_urls_and_unreachable_servers_in_one_sentence(url, expected):
    status, text = command(url)
    assert status == 1 and expected in text and "\n" not in text


def test_command_line_prints_no_traceback():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    run = subprocess.run([sys.executable, "-m", "pglab", "audit", "postgresql://nobody@127.0.0.1:1/app"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr and "could not connect" in run.stderr
    missing = subprocess.run([sys.executable, "-m", "pglab", "audit"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert missing.returncode == 2 and "give the database to audit" in missing.stderr
