"""The dataset: deterministic, matches the documented schema, built once even when asked twice at once."""
from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa

from pglab import connection, databases, dataset

SMALL = dataset.SCALES["small"]

CONTENT_HASH = """
SELECT md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) FROM {table} AS t
"""


def _content(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {table: conn.exec_driver_sql(CONTENT_HASH.format(table=table)).scalar_one()
                for table in ("users", "profiles", "posts", "tags", "post_tags", "comments")}


def _clone(template: str, name: str):
    admin = connection.admin_engine()
    with admin.connect() as conn:
        databases.create(conn, name, "test copy", template=template)
    admin.dispose()
    return connection.make_engine(connection.target().url_for(name))


def _drop(name: str) -> None:
    admin = connection.admin_engine()
    with admin.connect() as conn:
        databases.drop_if_ours(conn, name)
    admin.dispose()


def test_two_builds_give_identical_rows(monkeypatch):
    first = dataset.ensure_template(SMALL, progress=lambda _: None)
    monkeypatch.setenv("PGLAB_DB_PREFIX", "pglabtwin")
    second = dataset.ensure_template(SMALL, progress=lambda _: None)
    monkeypatch.delenv("PGLAB_DB_PREFIX")
    a, b = _clone(first, "pglab_test_twin_a"), _clone(second, "pglab_test_twin_b")
    try:
        assert _content(a) == _content(b)
    finally:
        a.dispose(), b.dispose()
        _drop("pglab_test_twin_a"), _drop("pglab_test_twin_b")
        monkeypatch.setenv("PGLAB_DB_PREFIX", "pglabtwin")
        _drop(second)


def test_built_schema_matches_the_documented_schema():
    """dataset.SCHEMA (what lessons show) and the fast build (tables first, keys after) agree."""
    built = _clone(dataset.ensure_template(SMALL, progress=lambda _: None), "pglab_test_schema_built")
    admin = connection.admin_engine()
    with admin.connect() as conn:
        databases.create(conn, "pglab_test_schema_doc", "test copy")
    admin.dispose()
    documented = connection.make_engine(connection.target().url_for("pglab_test_schema_doc"))
    with documented.begin() as conn:
        conn.connection.driver_connection.execute(dataset.SCHEMA)
    shape = """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2"""
    constraints = """
        SELECT conrelid::regclass::text, contype, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2, 3"""
    indexes = """
        SELECT tablename, regexp_replace(indexdef, 'INDEX \\S+ ON', 'INDEX ON')
        FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"""
    try:
        for query in (shape, constraints, indexes):
            with built.connect() as b, documented.connect() as d:
                assert b.exec_driver_sql(query).fetchall() == d.exec_driver_sql(query).fetchall()
    finally:
        built.dispose(), documented.dispose()
        _drop("pglab_test_schema_built"), _drop("pglab_test_schema_doc")


def test_concurrent_builds_build_once(monkeypatch):
    env = {**os.environ, "PGLAB_DB_PREFIX": "pglabrace"}
    script = "from pglab import dataset; print(dataset.ensure_template(dataset.SCALES['small'], progress=print))"
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    names = {out.strip().splitlines()[-1] for out in outputs}
    assert len(names) == 1
    assert sum("Building" in out for out in outputs) == 1, "the second process should wait, not build again"
    monkeypatch.setenv("PGLAB_DB_PREFIX", "pglabrace")
    admin = connection.admin_engine()
    with admin.connect() as conn:
        ours = [name for name, _ in databases.ours(conn)]
        assert ours == [names.pop()]
        for name in ours:
            databases.drop_if_ours(conn, name)
    admin.dispose()


def test_full_scale_shape(lesson_factory):
    lab = lesson_factory("00_getting_started")
    if lab.value("SELECT count(*) FROM users") != 1_000_000:
        return  # PGLAB_SCALE=small
    assert 900 < lab.value("SELECT count(*) FROM users WHERE role = 'admin'") < 1200
    assert 0.005 < lab.value("SELECT avg((deleted_at IS NOT NULL)::int) FROM users") < 0.02
    assert lab.value("SELECT max(n) FROM (SELECT count(*) n FROM posts GROUP BY user_id) s") > 500
    assert lab.value("SELECT count(*) FROM posts p JOIN users u ON u.id = p.user_id WHERE p.created_at < u.created_at") == 0


def test_every_page_of_the_template_is_all_visible(lesson_factory):
    """Vacuumed after every build transaction ended: plans that depend on the visibility map (Index Only
    Scans, their heap fetches, count(*)) are the same on every server and every build."""
    lab = lesson_factory("00_getting_started")
    pages = lab.sql("""SELECT c.relname, c.relpages, c.relallvisible FROM pg_class c
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1""")
    not_visible = pages[pages.relpages != pages.relallvisible]
    assert not_visible.empty, not_visible.to_string()
