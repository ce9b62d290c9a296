"""Lesson 08: index strategy. Drop the indexes others make redundant (and only those), make an update pattern HOT
again by changing an index, and give an admin screen the small partial index that removes its Sort."""
from __future__ import annotations

from . import ErrorHint, Mistake, PlanExercise, ResultExercise, SchemaExercise, Since, Trial, dataset_indexes_only, no_node, no_seq_scan_on

LESSON = "08_index_strategy"

# ---------------------------------------------------------------- 1. drop what another index makes redundant

INVOICES = """
DROP TABLE IF EXISTS invoices;
CREATE TABLE invoices (id bigint PRIMARY KEY, customer_id uuid NOT NULL, number text NOT NULL, status text NOT NULL,
  created_at timestamptz NOT NULL);
INSERT INTO invoices
SELECT i, md5('c' || (i % 5000))::uuid, 'INV-' || i, (ARRAY['open', 'paid'])[1 + i % 2],
       timestamptz '2025-01-01' + i * interval '1 hour'
FROM generate_series(1, 20000) AS i;
CREATE UNIQUE INDEX invoices_number_key ON invoices (number);
CREATE INDEX invoices_number ON invoices (number);
CREATE INDEX invoices_customer ON invoices (customer_id);
CREATE INDEX invoices_customer_created ON invoices (customer_id, created_at DESC);
CREATE INDEX invoices_created_customer ON invoices (created_at, customer_id);
CREATE INDEX invoices_open ON invoices (created_at) WHERE status = 'open';
CREATE INDEX invoices_id_dup ON invoices (id);
"""

# Each index by what it is (its definition without its name), so that a kept index may be renamed or rebuilt.
_KEEP = {
    "CREATE UNIQUE INDEX ON public.invoices USING btree (id)":
        "the primary key must stay: it is what other tables' foreign keys and every lookup by id rely on.",
    "CREATE UNIQUE INDEX ON public.invoices USING btree (number)":
        "you dropped invoices_number_key, the UNIQUE one: it enforces that no two invoices share a number, which "
        "no plain index does. Drop the plain duplicate, invoices_number, instead.",
    "CREATE INDEX ON public.invoices USING btree (customer_id, created_at DESC)":
        "you dropped invoices_customer_created: (customer_id, created_at DESC) serves lookups by customer_id and "
        "their newest-first order; the single-column invoices_customer is the spare.",
    "CREATE INDEX ON public.invoices USING btree (created_at, customer_id)":
        "invoices_created_customer (created_at, customer_id) is not redundant: it starts with created_at, which "
        "no other index on the whole table does, so it serves ranges of dates.",
    "CREATE INDEX ON public.invoices USING btree (created_at) WHERE (status = 'open'::text)":
        "invoices_open is a partial index: it serves its own WHERE status = 'open' (open invoices by date), and "
        "no other index has that predicate, so nothing covers it.",
}
_SPARE = {
    "CREATE INDEX ON public.invoices USING btree (number)":
        "invoices_number is still there: it has the same key as the unique invoices_number_key, which serves every "
        "lookup it could.",
    "CREATE INDEX ON public.invoices USING btree (customer_id)":
        "invoices_customer is still there: (customer_id) is the leading part of invoices_customer_created, which "
        "serves the same lookups.",
    "CREATE INDEX ON public.invoices USING btree (id)":
        "invoices_id_dup is still there: it duplicates the primary key's index, invoices_pkey.",
}


def _definitions(trial: Trial, table: str) -> list[str]:
    return [row[0] for row in trial.rows_of(
        "SELECT regexp_replace(pg_get_indexdef(indexrelid), 'INDEX \\S+ ON ', 'INDEX ON ') FROM pg_index "
        f"WHERE indrelid = 'public.{table}'::regclass AND indisvalid ORDER BY 1")]


def _only_redundant_dropped(trial: Trial) -> str | None:
    have = _definitions(trial, "invoices")
    if not trial.value_of("SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.invoices'::regclass "
                          "AND contype = 'p'"):
        return _KEEP["CREATE UNIQUE INDEX ON public.invoices USING btree (id)"]
    for definition, why in _KEEP.items():
        if definition not in have:
            return why
    for definition, why in _SPARE.items():
        if definition in have:
            return why
    return None


drop_redundant = SchemaExercise(
    LESSON,
    "drop_redundant",
    task="""
The table `invoices` (the setup makes it: 20,000 rows) has these indexes:

| index | definition |
|---|---|
| invoices_pkey | PRIMARY KEY (id) |
| invoices_number_key | UNIQUE (number) |
| invoices_number | (number) |
| invoices_customer | (customer_id) |
| invoices_customer_created | (customer_id, created_at DESC) |
| invoices_created_customer | (created_at, customer_id) |
| invoices_open | (created_at) WHERE status = 'open' |
| invoices_id_dup | (id) |

Drop every index that another index on the table makes redundant (a duplicate, or the leading part of another),
and keep all the others. (The checker runs your answer in a transaction: write `DROP INDEX` without
`CONCURRENTLY`, which a live database would want.)
""",
    hints=[
        "An index is redundant when another one on the same table starts with the same columns, in the same order, "
        "with the same predicate (a B-tree serves lookups on any leading part of its key).",
        "Three are spare: the plain twin of a UNIQUE index, a single column that leads a composite, and a copy of "
        "the primary key's index. A UNIQUE index enforces something, and a partial index serves its own WHERE.",
    ],
    solution="DROP INDEX invoices_number, invoices_customer, invoices_id_dup",
    setup=INVOICES,
    requirements=[_only_redundant_dropped],
    explanation=(
        "The three you dropped cost a write on every insert and served nothing the others do not: invoices_number "
        "is the unique index's twin, invoices_customer the leading part of (customer_id, created_at DESC), and "
        "invoices_id_dup a copy of the primary key's index. The audit (section 4) finds the same three."
    ),
    mistakes=[
        Mistake("DROP INDEX invoices_number_key, invoices_customer, invoices_id_dup", "enforces"),
        Mistake("DROP INDEX invoices_number, invoices_customer_created, invoices_id_dup", "is the spare"),
        Mistake("DROP INDEX invoices_number, invoices_customer, invoices_id_dup, invoices_created_customer",
                "starts with created_at"),
        Mistake("DROP INDEX invoices_number, invoices_customer, invoices_id_dup, invoices_open", "partial index"),
        Mistake("DROP INDEX invoices_number, invoices_customer", "duplicates the primary key"),
        Mistake("ALTER TABLE invoices DROP CONSTRAINT invoices_pkey; DROP INDEX invoices_number, invoices_customer",
                "primary key must stay"),
        Mistake("DROP INDEX invoices_id_dup, invoices_customer", "same key as the unique"),
        Mistake("SELECT 1", "invoices_number is still there"),
    ],
    alternatives=[
        "DROP INDEX invoices_number; DROP INDEX invoices_customer; DROP INDEX invoices_id_dup;",
        "DROP INDEX IF EXISTS public.invoices_number, public.invoices_customer, public.invoices_id_dup",
        "DROP INDEX invoices_id_dup RESTRICT; DROP INDEX invoices_customer; DROP INDEX invoices_number",
        "DO $$ DECLARE n text; BEGIN FOREACH n IN ARRAY ARRAY['invoices_number', 'invoices_customer', "
        "'invoices_id_dup'] LOOP EXECUTE format('DROP INDEX %I', n); END LOOP; END $$",
        "drop index public.invoices_id_dup, public.invoices_number, public.invoices_customer",
        "BEGIN; DROP INDEX invoices_number, invoices_customer, invoices_id_dup; COMMIT;",
        "DROP INDEX invoices_number, invoices_customer, invoices_id_dup, invoices_customer_created; "
        "CREATE INDEX invoices_by_customer ON invoices (customer_id, created_at DESC)",
    ],
)

# ---------------------------------------------------------------- 2. make the updates HOT again

SESSIONS = """
DROP TABLE IF EXISTS sessions;
CREATE TABLE sessions (id int PRIMARY KEY, user_id uuid NOT NULL, token text NOT NULL, last_seen timestamptz NOT NULL,
  hits int NOT NULL) WITH (fillfactor = 90, autovacuum_enabled = off);
INSERT INTO sessions
SELECT i, md5('u' || (i % 20000))::uuid, md5('t' || i), timestamptz '2026-01-01' + i * interval '1 second', 0
FROM generate_series(1, 50000) AS i;
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE UNIQUE INDEX sessions_token ON sessions (token);
CREATE INDEX sessions_last_seen ON sessions (last_seen);
ANALYZE sessions;
"""
SESSION_UPDATE = "UPDATE sessions SET last_seen = last_seen + interval '1 minute', hits = hits + 1 WHERE id % 10 = 0"
_XACT = "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = 'public.sessions'::regclass"


def hot_share(trial: Trial) -> tuple[int, int]:
    """(updates, HOT updates) of the app's update on one row in ten, counted inside the checker's transaction (the
    difference of the transaction's own counters) and rolled back to a savepoint."""
    assert trial.conn is not None
    savepoint = trial.conn.begin_nested()
    try:
        before = trial.conn.exec_driver_sql(_XACT).one()
        trial.conn.exec_driver_sql(SESSION_UPDATE.replace("%", "%%"))
        after = trial.conn.exec_driver_sql(_XACT).one()
    finally:
        savepoint.rollback()
    return after[0] - before[0], after[1] - before[1]


def _indexed(trial: Trial) -> list[tuple[str, str, str]]:
    """(index, method, definition) of every index on sessions that uses last_seen or hits anywhere."""
    return [(r[0], r[1], r[2]) for r in trial.rows_of("""
SELECT c.relname, am.amname, pg_get_indexdef(i.indexrelid) FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_am AS am ON am.oid = c.relam
WHERE i.indrelid = 'public.sessions'::regclass
  AND pg_get_indexdef(i.indexrelid) ~ '\\m(last_seen|hits)\\M'
ORDER BY 1""")]


def _uses_index(trial: Trial, query: str) -> bool:
    plan = trial.conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {query}").scalar()  # type: ignore[union-attr]
    text = str(plan)
    return "Index" in text and "Seq Scan" not in text


def _updates_hot(trial: Trial) -> str | None:
    updates, hot = hot_share(trial)
    if updates and hot >= 0.9 * updates:
        return None
    share = f"{hot:,} of the {updates:,} updates were HOT"
    blocking = _indexed(trial)
    if not blocking:
        return f"{share}; every index leaves last_seen and hits alone, so look at the table's fillfactor."
    name, method, definition = blocking[0]
    if method == "brin" and trial.value_of("SHOW server_version_num") and int(
            trial.value_of("SHOW server_version_num")) < 160000:
        return (f"{share}: before PostgreSQL 16 even a BRIN index ({name}) on an updated column stops HOT; from 16 on "
                "a summarizing index does not. On this server, drop the index on last_seen.")
    if " INCLUDE " in definition and "last_seen" in definition.split(" INCLUDE ")[1]:
        return (f"{share}: {name} has last_seen as an INCLUDE column, and an INCLUDE column is in the index too: "
                "changing it means a new index entry, so the update cannot be HOT.")
    if " WHERE " in definition:
        return (f"{share}: {name} still uses last_seen or hits ({definition.split(' USING ')[1]}): a partial index's "
                "WHERE counts as well as its keys, so an update that changes those columns cannot be HOT.")
    return (f"{share}: every update changes last_seen, which {name} indexes, and no update that changes an indexed "
            "column can be HOT, whatever the fillfactor (the pages have room already: fillfactor 90).")


def _lookups_still_indexed(trial: Trial) -> str | None:
    if not _uses_index(trial, "SELECT * FROM sessions WHERE user_id = md5('u5')::uuid"):
        return "the app looks sessions up by user_id: that lookup now reads the whole table (keep an index on user_id)."
    if not _uses_index(trial, "SELECT * FROM sessions WHERE token = md5('t5')"):
        return "the app looks sessions up by token: that lookup now reads the whole table."
    unique = trial.value_of("""SELECT count(*) FROM pg_index AS i WHERE i.indrelid = 'public.sessions'::regclass
        AND i.indisunique AND i.indpred IS NULL AND i.indnkeyatts = 1
        AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = i.indrelid AND attname = 'token')""")
    if not unique:
        return "token must stay unique: keep a UNIQUE index (or constraint) on token alone."
    return None


keep_updates_hot = SchemaExercise(
    LESSON,
    "keep_updates_hot",
    task=f"""
The setup makes a table `sessions` (50,000 rows, `fillfactor = 90`) with three indexes: `sessions_user_id` on
`user_id`, the UNIQUE `sessions_token` on `token`, and `sessions_last_seen` on `last_seen`. The app runs this all
day, and none of these updates is HOT:

```sql
UPDATE sessions SET last_seen = last_seen + interval '1 minute', hits = hits + 1 WHERE id = $1
```

Change the indexes so that at least 90% of these updates are HOT, while lookups by `user_id` and by `token` still
use an index and `token` stays unique. The checker runs the update on one row in ten and counts the HOT ones
(`pg_stat_xact_user_tables`).
""",
    hints=[
        "An update is HOT only if it changes no column that any index uses (key, INCLUDE, expression or predicate), "
        "and the new row version fits on the same page. The pages have room already: fillfactor 90.",
        "Which index covers a column this update changes? Drop it (no query here needs it).",
    ],
    solution="DROP INDEX sessions_last_seen",
    setup=SESSIONS,
    requirements=[_lookups_still_indexed, _updates_hot],
    explanation=(
        "With no index on last_seen or hits, each update leaves every index alone and finds room on its own page: "
        "the new row version is chained from the old one there, and no index gets a new entry. On PostgreSQL 16 and "
        "later, a BRIN index on last_seen would not stop it either (a summarizing index), before 16 it does."
    ),
    mistakes=[
        Mistake("ALTER TABLE sessions SET (fillfactor = 50)", "whatever the fillfactor"),
        Mistake("DROP INDEX sessions_user_id, sessions_last_seen", "by user_id"),
        Mistake("DROP INDEX sessions_last_seen; CREATE INDEX ON sessions (user_id) INCLUDE (last_seen)",
                "INCLUDE column is in the index too"),
        Mistake("DROP INDEX sessions_last_seen; CREATE INDEX ON sessions (last_seen) WHERE hits > 100",
                "partial index's WHERE counts"),
        Mistake("DROP INDEX sessions_token, sessions_last_seen; CREATE INDEX ON sessions USING hash (token)",
                "token must stay unique"),
        Mistake("DROP INDEX sessions_last_seen; CREATE INDEX ON sessions (hits)", "sessions_hits_idx"),
        Mistake("DROP INDEX sessions_token, sessions_last_seen", "by token"),
        Mistake("DROP INDEX sessions_last_seen; CREATE INDEX ON sessions (user_id) WHERE last_seen > '2026-01-01'",
                "partial index's WHERE counts"),
        Mistake("DROP INDEX sessions_last_seen; DROP INDEX sessions_token; CREATE INDEX ON sessions (token)",
                "token must stay unique"),
    ],
    alternatives=[
        "DROP INDEX IF EXISTS public.sessions_last_seen",
        "DROP INDEX sessions_last_seen; ALTER TABLE sessions SET (fillfactor = 80)",
        "DROP INDEX sessions_last_seen; CREATE INDEX ON sessions (user_id, id)",
        "drop index sessions_last_seen restrict",
        "DROP INDEX sessions_user_id, sessions_last_seen; CREATE INDEX ON sessions (user_id, token)",
        "DROP INDEX sessions_token; DROP INDEX sessions_last_seen; "
        "ALTER TABLE sessions ADD CONSTRAINT sessions_token_key UNIQUE (token)",
        Since(160000, "DROP INDEX sessions_last_seen; CREATE INDEX ON sessions USING brin (last_seen)"),
    ],
)

# ---------------------------------------------------------------- 3. a small index that removes the Sort

ADMIN_DASHBOARD = ("SELECT email, created_at FROM users WHERE role = 'admin' AND deleted_at IS NULL "
                   "ORDER BY created_at DESC LIMIT 20")
_MAX_BYTES = 1024 * 1024


def _small_index(trial: Trial) -> str | None:
    assert trial.plan is not None and trial.conn is not None
    for name in trial.plan.indexes_used():
        size = trial.conn.exec_driver_sql("SELECT pg_relation_size(%s::regclass)", (name,)).scalar() or 0
        if size >= _MAX_BYTES:
            definition = trial.conn.exec_driver_sql("SELECT pg_get_indexdef(%s::regclass)", (name,)).scalar()
            partial = " WHERE " in str(definition)
            return (f"it works, and your index {name} is {size / 1024 ** 2:.1f} MB: it holds "
                    + ("most" if partial else "every one") + " of the 1,000,000 users to serve 1,017 admins. "
                    "Make it partial: (created_at) WHERE role = 'admin'.")
    return None


def _what_the_index_orders(trial: Trial) -> str | None:
    """For a plan that still sorts: say what the index it uses lacks."""
    from .. import catalog

    assert trial.plan is not None and trial.conn is not None
    if not trial.plan.has_node("Sort"):
        return None
    by_name = {ix.name: ix for ix in catalog.indexes(trial.conn, "users")}
    used = [by_name[name] for name in trial.plan.indexes_used() if name in by_name]
    if not used:
        return None
    ix = used[0]
    if "created_at" not in ix.columns:
        return (f"Your index {ix.name} finds the admins, but hands them over in the order of its key "
                f"({', '.join(ix.columns)}), not by created_at: make created_at the key, and role = 'admin' the "
                "index's WHERE.")
    before = ix.columns[:ix.columns.index("created_at")]
    return (f"Your index {ix.name} has {', '.join(before)} before created_at: PostgreSQL can use its order only when "
            "each column before created_at is fixed by an equality (=), and IS NULL does not count. Put role = "
            "'admin' in the index's WHERE and make created_at the first key.")


def _hash_build(trial: Trial) -> str | None:
    if "hash" in str(trial.answer).lower():
        return ("A hash index on a column with a handful of values takes very long to build (all the entries of one "
                "value land in one bucket), and it cannot hand rows over in any order.")
    return None


admin_dashboard = PlanExercise(
    LESSON,
    "admin_dashboard",
    task=f"""
An admin screen lists the 20 newest admins:

```sql
{ADMIN_DASHBOARD}
```

Add one index that removes the plan's Sort and is smaller than 1 MB (there are 1,017 admins among 1,000,000
users).
""",
    hints=[
        "An index whose key is created_at hands the rows over newest first (read backwards), so there is nothing "
        "left to sort.",
        "An index on (created_at) alone holds every user: give it a WHERE, so that it holds only the admins.",
    ],
    solution="CREATE INDEX users_admins_newest_idx ON users (created_at) WHERE role = 'admin'",
    setup=dataset_indexes_only("users"),
    target=ADMIN_DASHBOARD,
    plan_requirements=[no_seq_scan_on("users"), no_node("Sort"), _small_index],
    diagnoses=[_what_the_index_orders],
    error_hints=[ErrorHint(r"statement timeout", _hash_build)],
    explanation=(
        "The partial index holds only the admins' created_at (about 40 kB): the plan walks it backwards, checks "
        "deleted_at on each row and stops after 20. (role, created_at) would do the same at 30 MB."
    ),
    mistakes=[
        Mistake("CREATE INDEX ON users (role, created_at)", "Make it partial"),
        Mistake("CREATE INDEX ON users (created_at)", "every one of the 1,000,000 users"),
        Mistake("CREATE INDEX ON users (created_at, role)", "MB"),
        Mistake("CREATE INDEX ON users (role)", "in the order of its key (role)"),
        Mistake("CREATE INDEX ON users (role) WHERE role = 'admin'", "in the order of its key (role)"),
        Mistake("CREATE INDEX ON users (email) WHERE role = 'admin'", "in the order of its key (email)"),
        Mistake("CREATE INDEX ON users (role, deleted_at, created_at)", "IS NULL does not count"),
        Mistake("CREATE INDEX ON users (created_at) WHERE status = 'active'", "Seq Scan"),
    ],
    alternatives=[
        "CREATE INDEX ON users (created_at DESC) WHERE role = 'admin' AND deleted_at IS NULL",
        "CREATE INDEX ON users (created_at) INCLUDE (email) WHERE role = 'admin'",
        "CREATE INDEX admins_recent ON users (created_at DESC, id) WHERE role = 'admin'",
        "CREATE INDEX ON users (created_at) WHERE role::text = 'admin'::text",
        "create index on public.users using btree (created_at desc) where role = 'admin'",
        "CREATE INDEX ON users (created_at) WHERE role IN ('admin')",
        "CREATE INDEX ON users (created_at, email) WHERE role = 'admin'",
    ],
)

# ---------------------------------------------------------------- 4. the audit's first check, written by hand

SHOP = """
DROP TABLE IF EXISTS shop_shipments, shop_stock, shop_reviews, shop_order_lines, shop_orders, shop_warehouses,
  shop_products, shop_customers;
CREATE TABLE shop_customers (id int PRIMARY KEY);
CREATE TABLE shop_products (id int PRIMARY KEY);
CREATE TABLE shop_warehouses (id int, region int, PRIMARY KEY (id, region));
CREATE TABLE shop_orders (id int PRIMARY KEY, customer_id int REFERENCES shop_customers, created_at timestamptz);
CREATE TABLE shop_order_lines (order_id int REFERENCES shop_orders, product_id int REFERENCES shop_products,
  qty int, PRIMARY KEY (order_id, product_id));
CREATE TABLE shop_reviews (id int PRIMARY KEY, product_id int REFERENCES shop_products,
  customer_id int REFERENCES shop_customers);
CREATE TABLE shop_stock (warehouse_id int, region int, product_id int REFERENCES shop_products,
  FOREIGN KEY (warehouse_id, region) REFERENCES shop_warehouses);
CREATE TABLE shop_shipments (id int PRIMARY KEY, order_id int REFERENCES shop_orders, warehouse_id int, region int,
  FOREIGN KEY (warehouse_id, region) REFERENCES shop_warehouses);
CREATE INDEX ON shop_orders (created_at, customer_id);
CREATE INDEX ON shop_reviews (customer_id) WHERE id > 1000;
CREATE INDEX ON shop_reviews (product_id, customer_id);
CREATE INDEX ON shop_stock (region, warehouse_id);
CREATE INDEX ON shop_stock USING brin (product_id);
CREATE INDEX ON shop_shipments (warehouse_id);
"""

_MISSED = {
    "shop_orders_customer_id_fkey":
        "shop_orders_customer_id_fkey is missing: (created_at, customer_id) holds customer_id, but second; an index "
        "that holds the key's columns somewhere is not enough, they must lead.",
    "shop_order_lines_product_id_fkey":
        "shop_order_lines_product_id_fkey is missing: product_id is the second column of the primary key "
        "(order_id, product_id), so a lookup by product_id alone cannot use it.",
    "shop_shipments_warehouse_id_region_fkey":
        "shop_shipments_warehouse_id_region_fkey is missing: an index on warehouse_id alone covers only the first of "
        "the key's two columns; compare the whole key.",
    "shop_shipments_order_id_fkey": "shop_shipments_order_id_fkey is missing: shipments has no index on order_id.",
    "shop_reviews_customer_id_fkey":
        "shop_reviews_customer_id_fkey is missing: the only index on customer_id is partial (WHERE id > 1000), and the "
        "key's lookup, customer_id = $1, says nothing about id: a partial index cannot serve it.",
    "shop_stock_product_id_fkey":
        "shop_stock_product_id_fkey is missing: a BRIN index on product_id cannot find one key's rows (it only rules "
        "out ranges of pages): count B-tree indexes only.",
}
_EXTRA = {
    "shop_stock_warehouse_id_region_fkey":
        "shop_stock_warehouse_id_region_fkey is served: (region, warehouse_id) starts with both of the key's "
        "columns, and their order among themselves does not matter for an equality on both.",
    "shop_reviews_product_id_fkey":
        "shop_reviews_product_id_fkey is served: product_id leads (product_id, customer_id).",
    "shop_order_lines_order_id_fkey": "shop_order_lines_order_id_fkey is served: order_id leads the primary key.",
}


def _which_keys(trial: Trial) -> str | None:
    if trial.result is None or trial.expected is None:
        return None
    got = {str(value) for row in trial.result.rows for value in row}
    expected = {str(row[1]) for row in trial.expected.rows}
    said = [why for name, why in _MISSED.items() if name in expected and name not in got]
    said += [why for name, why in _EXTRA.items() if name in got]
    return " ".join(said[:3]) or None


fk_without_index = ResultExercise(
    LESSON,
    "fk_without_index",
    task="""
The setup makes eight tables whose names start with `shop_`, with foreign keys and some indexes. Write the query the
audit's first check runs: list the table and the name of every foreign key on a `shop_` table that **no plain B-tree
index** supports, where "supports" means that the key's columns are the index's leading key columns (in any order)
and the index has no `WHERE`. Two columns: the table's name as text (`conrelid::regclass::text`, or `relname`),
then the constraint's name.

`pg_constraint` (`contype = 'f'`, `conrelid`, `conkey`: the key's column numbers) and `pg_index` (`indrelid`,
`indkey`: the index's column numbers, `indnkeyatts`, `indpred`) hold all you need; `pg_class.relam` joined to
`pg_am.amname` gives an index's method.
""",
    hints=[
        "Start from pg_constraint WHERE contype = 'f' AND conrelid::regclass::text LIKE 'shop\\_%', and keep the keys "
        "for which NOT EXISTS a suitable index on the same table (i.indrelid = c.conrelid).",
        "indkey is an int2vector numbered from 0; string_to_array(indkey::text, ' ')::int2[] is an ordinary array "
        "numbered from 1. Its first cardinality(conkey) elements must hold exactly the key's columns: compare them with "
        "@> and <@ against conkey. Add am.amname = 'btree' and indpred IS NULL.",
    ],
    solution="""
SELECT c.conrelid::regclass::text AS table_name, c.conname AS foreign_key
FROM pg_constraint AS c
WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'shop\\_%'
  AND NOT EXISTS (
        SELECT 1
        FROM pg_index AS i
        JOIN pg_class AS ic ON ic.oid = i.indexrelid
        JOIN pg_am AS am ON am.oid = ic.relam
        WHERE i.indrelid = c.conrelid AND am.amname = 'btree' AND i.indpred IS NULL
          AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
          AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)
""",
    setup=SHOP,
    diagnoses=[_which_keys],
    explanation=(
        "Six keys lack their index: two whose columns come second, one covered only by a partial index, one by a BRIN "
        "index, one half covered and one not at all. pglab.audit runs this query (and also accepts a hash or GiST "
        "index, or a partial index WHERE col IS NOT NULL, which serve the key's lookups too)."
    ),
    mistakes=[
        Mistake("""SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint AS c
WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'shop\\_%' AND NOT EXISTS (
  SELECT 1 FROM pg_index AS i WHERE i.indrelid = c.conrelid AND i.indkey::int2[] @> c.conkey)""", "they must lead"),
        Mistake("""SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint AS c
WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'shop\\_%' AND NOT EXISTS (
  SELECT 1 FROM pg_index AS i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])""", "compare the whole key"),
        Mistake("""SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint AS c
WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'shop\\_%' AND NOT EXISTS (
  SELECT 1 FROM pg_index AS i JOIN pg_class AS ic ON ic.oid = i.indexrelid JOIN pg_am AS am ON am.oid = ic.relam
  WHERE i.indrelid = c.conrelid AND am.amname = 'btree'
    AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
    AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)""",
                "a partial index cannot serve it"),
        Mistake("""SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint AS c
WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'shop\\_%' AND NOT EXISTS (
  SELECT 1 FROM pg_index AS i WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
    AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
    AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)""", "BRIN"),
        Mistake("""SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint AS c
WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'shop\\_%' AND NOT EXISTS (
  SELECT 1 FROM pg_index AS i JOIN pg_class AS ic ON ic.oid = i.indexrelid JOIN pg_am AS am ON am.oid = ic.relam
  WHERE i.indrelid = c.conrelid AND am.amname = 'btree' AND i.indpred IS NULL
    AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] = c.conkey)""",
                "their order among themselves does not matter"),
        Mistake("""SELECT c.conrelid::regclass, c.conname FROM pg_constraint AS c
WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'shop\\_%' AND NOT EXISTS (
  SELECT 1 FROM pg_index AS i JOIN pg_class AS ic ON ic.oid = i.indexrelid JOIN pg_am AS am ON am.oid = ic.relam
  WHERE i.indrelid = c.conrelid AND am.amname = 'btree' AND i.indpred IS NULL
    AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
    AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)""", "regclass values"),
    ],
    alternatives=[
        """SELECT conrelid::regclass::text, conname FROM pg_constraint c
WHERE contype = 'f' AND conrelid::regclass::text LIKE 'shop\\_%' AND NOT EXISTS (
  SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
    AND (SELECT amname FROM pg_am JOIN pg_class ON pg_class.relam = pg_am.oid WHERE pg_class.oid = i.indexrelid) = 'btree'
    AND (SELECT bool_and(k = ANY (c.conkey)) FROM unnest((i.indkey::int2[])[0:cardinality(c.conkey) - 1]) AS k)
    AND cardinality(c.conkey) <= i.indnkeyatts)""",
        """SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c
WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'shop\\_%' AND NOT EXISTS (
  SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am a ON a.oid = ic.relam
  WHERE a.amname = 'btree' AND i.indrelid = c.conrelid AND i.indpred IS NULL
    AND (SELECT count(*) FROM unnest(i.indkey) WITH ORDINALITY AS k(att, pos)
         WHERE k.pos <= cardinality(c.conkey) AND k.att = ANY (c.conkey)) = cardinality(c.conkey))""",
        """SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c WHERE c.contype = 'f'
  AND c.conrelid::regclass::text LIKE 'shop%'
EXCEPT
SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c JOIN pg_index i ON i.indrelid = c.conrelid
  JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
WHERE c.contype = 'f' AND am.amname = 'btree' AND i.indpred IS NULL
  AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
  AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey""",
        """SELECT t.relname AS table_name, c.conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
WHERE c.contype = 'f' AND t.relname LIKE 'shop\\_%' AND NOT EXISTS (
  SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
  WHERE i.indrelid = c.conrelid AND am.amname = 'btree' AND i.indpred IS NULL
    AND (SELECT array_agg(x ORDER BY x) FROM unnest((i.indkey::int2[])[0:cardinality(c.conkey) - 1]) AS x)
      = (SELECT array_agg(y ORDER BY y) FROM unnest(c.conkey) AS y))
ORDER BY 1, 2""",
    ],
)

EXERCISES = [drop_redundant, keep_updates_hot, admin_dashboard, fk_without_index]
