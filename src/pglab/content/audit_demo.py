"""Lesson 08's schema seeded with every problem the audit finds (pglab.audit), and a clean one that has none.

`seed(engine)` builds its tables in the schema public of an empty database (0.5 s) and runs a small workload so
that the statistics show sequential scans and updates; `seed_clean(engine)` builds tables where every index is
used and nothing is wrong. (The lesson role owns the schema public of its databases, but may not create schemas.)
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from ..connection import driver


TABLES = """
CREATE TABLE shops (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, region int NOT NULL, visits int NOT NULL DEFAULT 0)
  WITH (fillfactor = 90);
CREATE TABLE orders (
  id bigint PRIMARY KEY, shop_id int NOT NULL REFERENCES shops, customer_id int NOT NULL REFERENCES customers,
  status text NOT NULL, amount int NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, note text);
CREATE TABLE shop_regions (shop_id int, region int, PRIMARY KEY (shop_id, region));
CREATE TABLE deliveries (id int PRIMARY KEY, shop_id int, region int, FOREIGN KEY (shop_id, region) REFERENCES shop_regions);
CREATE TABLE returns (id int PRIMARY KEY, shop_id int, region int, FOREIGN KEY (shop_id, region) REFERENCES shop_regions);
CREATE TABLE refunds (id int PRIMARY KEY, order_id bigint REFERENCES orders);
CREATE TABLE notes (id int PRIMARY KEY, order_id bigint REFERENCES orders);
CREATE TABLE events (id int PRIMARY KEY, kind text NOT NULL, payload text);
INSERT INTO shops SELECT i, 'shop ' || i FROM generate_series(1, 100) AS i;
INSERT INTO shop_regions SELECT s, r FROM generate_series(1, 100) AS s, generate_series(1, 10) AS r;
INSERT INTO customers (id, email, region) SELECT i, 'c' || i || '@example.com', i % 10 + 1 FROM generate_series(1, 10000) AS i;
INSERT INTO orders SELECT i, i % 100 + 1, i % 10000 + 1, (ARRAY['open', 'paid', 'shipped'])[i % 3 + 1], i % 997 + 1,
  timestamptz '2025-01-01' + i * interval '1 minute', timestamptz '2025-01-01' + i * interval '1 minute', 'note ' || (i % 1000)
  FROM generate_series(1, 20000) AS i;
INSERT INTO deliveries SELECT i, i % 100 + 1, i % 10 + 1 FROM generate_series(1, 1000) AS i;
INSERT INTO returns SELECT i, i % 100 + 1, i % 10 + 1 FROM generate_series(1, 1000) AS i;
INSERT INTO refunds SELECT i, i FROM generate_series(1, 1000) AS i;
INSERT INTO notes SELECT i, i FROM generate_series(1, 1000) AS i;
INSERT INTO events SELECT i, (ARRAY['click', 'view', 'buy'])[1 + i % 3], 'p' || i FROM generate_series(1, 20000) AS i;
-- foreign keys: orders.shop_id has no index; customer_id is the leading column of orders_customer_created (fine)
CREATE INDEX orders_customer_created ON orders (customer_id, created_at);
CREATE INDEX orders_shop_open ON orders (shop_id) WHERE status = 'open';            -- partial: serves no FK check
CREATE INDEX orders_created_shop ON orders (created_at, shop_id);                  -- shop_id not leading
CREATE INDEX deliveries_region_shop ON deliveries (region, shop_id);               -- both columns, other order: fine
CREATE INDEX returns_shop ON returns (shop_id);                                    -- half of (shop_id, region)
CREATE INDEX refunds_order_hash ON refunds USING hash (order_id);                  -- a hash index serves the checks
CREATE INDEX notes_order_expr ON notes ((order_id + 0));                           -- an expression does not
-- duplicates and near misses
CREATE INDEX customers_email ON customers (email);
CREATE INDEX customers_email_dup ON customers (email);
CREATE INDEX customers_email_region ON customers (email, region);
CREATE INDEX customers_email_pattern ON customers (email text_pattern_ops);       -- another operator class
CREATE INDEX customers_email_c ON customers (email COLLATE "C");                 -- another collation
CREATE INDEX customers_lower_email ON customers (lower(email));
CREATE INDEX customers_lower_email_region ON customers (lower(email), region);
CREATE INDEX customers_region_email ON customers (region, email);
CREATE INDEX customers_region ON customers (region) WHERE region > 5;             -- another predicate
CREATE INDEX customers_region_hash ON customers USING hash (region);              -- another method
CREATE UNIQUE INDEX customers_email_key ON customers (email);
CREATE INDEX orders_status_desc ON orders (status DESC);                          -- (status, amount) read backwards
CREATE INDEX orders_status_amount ON orders (status, amount);
CREATE INDEX orders_amount_include ON orders (amount) INCLUDE (note);             -- note is not in (amount, status)
CREATE INDEX orders_amount_status ON orders (amount, status);
CREATE INDEX orders_updated_at ON orders (updated_at);
-- constraints added without checking the rows already there
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE refunds ADD CONSTRAINT refunds_order_again FOREIGN KEY (order_id) REFERENCES orders NOT VALID;
"""

# What a run of the application would leave in the statistics: sequential scans of events, a few index lookups,
# updates of an indexed column (updated_at) that cannot be HOT, and updates of an unindexed one that are.
WORKLOAD = [
    *[f"SELECT count(*) FROM events WHERE payload = 'p{i}'" for i in range(25)],
    "SELECT * FROM events WHERE id = 5",
    *[f"SELECT * FROM customers WHERE email = 'c{i}@example.com'" for i in range(20)],
    *[f"SELECT * FROM orders WHERE customer_id = {i} ORDER BY created_at DESC LIMIT 5" for i in range(5)],
    "UPDATE orders SET updated_at = updated_at + interval '1 second' WHERE id % 10 = 0",
    "UPDATE customers SET visits = visits + 1 WHERE id % 10 = 5",
]

CLEAN_TABLES = """
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE books (id int PRIMARY KEY, author_id int NOT NULL REFERENCES authors, title text NOT NULL);
CREATE INDEX books_author_id ON books (author_id);
INSERT INTO authors SELECT i, 'author ' || i FROM generate_series(1, 1000) AS i;
INSERT INTO books SELECT i, i % 1000 + 1, 'book ' || i FROM generate_series(1, 20000) AS i;
"""
CLEAN_WORKLOAD = [f"SELECT title FROM books WHERE author_id = {i}" for i in range(1, 11)]


def _build(engine: Engine, tables: str, workload: list[str], *, problems: bool) -> None:
    with engine.connect() as conn:
        raw = driver(conn)
        raw.commit()
        raw.autocommit = True
        try:
            with raw.transaction():
                raw.execute(tables)
                if problems and int(raw.execute("SHOW server_version_num").fetchone()[0]) >= 180000:
                    raw.execute("ALTER TABLE orders ADD CONSTRAINT orders_note_not_null NOT NULL note NOT VALID")
            raw.execute(f"VACUUM ANALYZE {', '.join(_tables(raw))}")
            if problems:  # fails on the duplicates, and leaves an invalid index behind
                try:
                    raw.execute("CREATE UNIQUE INDEX CONCURRENTLY orders_note_key ON orders (note)")
                except Exception:  # noqa: BLE001 - the failure is the point
                    pass
            for statement in workload:
                raw.execute(statement).fetchall() if statement.startswith("SELECT") else raw.execute(statement)
            raw.execute("SELECT pg_stat_force_next_flush()")  # the counts visible to every session now
            raw.execute("SELECT 1")  # the flush happens at the end of the transaction after the call
        finally:
            raw.autocommit = False


def _tables(raw: Any) -> list[str]:
    rows = raw.execute("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = 'public' "
                       "ORDER BY 1")
    return [r[0] for r in rows.fetchall()]


def seed(engine: Engine) -> None:
    """In an empty database: tables with one or more of every problem the audit reports."""
    _build(engine, TABLES, WORKLOAD, problems=True)


def seed_clean(engine: Engine) -> None:
    """In an empty database: a foreign key with its index, which the workload uses; nothing to report."""
    _build(engine, CLEAN_TABLES, CLEAN_WORKLOAD, problems=False)


__all__ = ["seed", "seed_clean"]
