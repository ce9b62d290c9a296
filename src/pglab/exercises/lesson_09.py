"""Lesson 09: migrations that are safe on a large, busy table. Each exercise is an Alembic revision, run for real on
a scratch copy of users and posts: judged on the catalog afterwards, the locks each statement held while it scanned
or rewrote a table, squawk's verdict, and a downgrade that gives the schema back."""
from __future__ import annotations

import sqlalchemy as sa

from .. import locks
from . import Mistake, ResultExercise, Since
from .migration import MigrationExercise, MigrationRun, describe

LESSON = "09_migrations"
AB = "with op.get_context().autocommit_block():"


def _name(mode: str) -> str:
    return locks.mode_name(mode)


# ---------------------------------------------------------------- 1. an index without blocking writes


def _no_write_blocking_lock(run: MigrationRun, conn: sa.Connection) -> str | None:
    hit = run.took("users", "ShareLock")
    if hit:
        step, mode = hit
        return (f"{describe(step)} took {_name(mode)} on users: every INSERT, UPDATE and DELETE waits until the index "
                "is built (and SELECTs too, if it is ACCESS EXCLUSIVE). Build it CONCURRENTLY, in an autocommit block "
                "(`with op.get_context().autocommit_block():`), which takes SHARE UPDATE EXCLUSIVE: writes go on.")
    return None


def _index_on_created_at(run: MigrationRun, conn: sa.Connection) -> str | None:
    rows = conn.exec_driver_sql(
        "SELECT i.indisvalid, a.attname, i.indexrelid::regclass::text, am.amname, i.indpred IS NOT NULL "
        "FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_am AS am ON am.oid = c.relam "
        "LEFT JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE i.indrelid = 'users'::regclass").fetchall()
    leading = [(valid, name, method, partial) for valid, column, name, method, partial in rows if column == "created_at"]
    if not leading:
        return ("there is no index on users whose first column is created_at: "
                "`WHERE created_at >= ...` needs created_at first.")
    if not any(valid for valid, *_ in leading):
        return f"the index {leading[0][1]} is INVALID (a CONCURRENTLY build that failed): PostgreSQL does not use it."
    usable = [name for valid, name, method, partial in leading if valid and method == "btree" and not partial]
    if not usable:
        _, name, method, partial = leading[0]
        if method != "btree":
            return (f"the index {name} is a {method} index: the task's `WHERE created_at >= ...` is a range, which a "
                    "B-tree serves and a hash index cannot.")
        return (f"the index {name} is partial: it serves only queries whose WHERE implies its own, and the task asks "
                "for every user's created_at.")
    return None


def _drop_without_access_exclusive(run: MigrationRun, conn: sa.Connection) -> str | None:
    hit = run.took("users", "AccessExclusiveLock")
    if hit:
        step, mode = hit
        return (f"{describe(step)} took ACCESS EXCLUSIVE on users: reads and writes wait, and queue behind it. Drop it "
                "with postgresql_concurrently=True (DROP INDEX CONCURRENTLY) in an autocommit block.")
    return None


index_concurrently = MigrationExercise(
    LESSON,
    "index_concurrently",
    task="""
The admin page lists new sign-ups: `SELECT ... FROM users WHERE created_at >= :since`. Write a revision whose
`upgrade()` adds an index for it **without blocking the application's writes** to users while it is built, and
whose `downgrade()` removes it the same way.
""",
    hints=[
        "A plain CREATE INDEX takes SHARE on the table for the whole build: every INSERT, UPDATE and DELETE waits.",
        "op.create_index(..., postgresql_concurrently=True) cannot run inside the revision's transaction: put it in "
        "`with op.get_context().autocommit_block():`, and the same for op.drop_index in downgrade().",
    ],
    solution=f'''
def upgrade():
    {AB}
        op.create_index("idx_users_created_at", "users", ["created_at"], postgresql_concurrently=True)


def downgrade():
    {AB}
        op.drop_index("idx_users_created_at", "users", postgresql_concurrently=True)
''',
    requirements=[_no_write_blocking_lock, _index_on_created_at],
    down_requirements=[_drop_without_access_exclusive],
    explanation=("CREATE INDEX CONCURRENTLY took SHARE UPDATE EXCLUSIVE, which lets reads and writes go on while it "
                 "builds, and the autocommit block ran it outside the revision's transaction, where it must run."),
    mistakes=[
        Mistake('import sqlalchemy as sa\nfrom alembic import op\n\n'
                f'def upgrade():\n    {AB}\n        op.create_index("live_users_by_created", "users", ["created_at"], '
                'postgresql_concurrently=True, postgresql_where=sa.text("deleted_at IS NULL"))\n'
                f'def downgrade():\n    {AB}\n        op.drop_index("live_users_by_created", "users", '
                'postgresql_concurrently=True)', "is partial"),
        Mistake(f'def upgrade():\n    {AB}\n        op.execute("CREATE INDEX CONCURRENTLY h ON users USING hash (created_at)")\n'
                f'def downgrade():\n    {AB}\n        op.execute("DROP INDEX CONCURRENTLY h")', "hash index"),
        Mistake('def upgrade():\n    op.create_index("idx_users_created_at", "users", ["created_at"])\n\n'
                'def downgrade():\n    op.drop_index("idx_users_created_at", "users")',
                "took SHARE on users"),
        Mistake('def upgrade():\n    op.create_index("idx_users_created_at", "users", ["created_at"], '
                'postgresql_concurrently=True)\n\ndef downgrade():\n    op.drop_index("idx_users_created_at", "users")',
                "autocommit_block"),
        Mistake('def upgrade():\n    op.execute("CREATE INDEX idx_users_created_at ON users (created_at)")\n\n'
                'def downgrade():\n    op.execute("DROP INDEX idx_users_created_at")',
                "require-concurrent-index-creation"),
        Mistake(f'def upgrade():\n    {AB}\n        op.create_index("idx_users_created_at", "users", ["created_at"])\n\n'
                f'def downgrade():\n    {AB}\n        op.drop_index("idx_users_created_at", "users")',
                "took SHARE on users"),
        Mistake(f'def upgrade():\n    {AB}\n        op.create_index("idx_users_updated_at", "users", ["updated_at"], '
                f'postgresql_concurrently=True)\n\ndef downgrade():\n    {AB}\n        op.drop_index('
                '"idx_users_updated_at", "users", postgresql_concurrently=True)',
                "whose first column is created_at"),
        Mistake(f'def upgrade():\n    {AB}\n        op.create_index("idx_users_created_at", "users", ["created_at"], '
                'postgresql_concurrently=True)\n\ndef downgrade():\n    op.drop_index("idx_users_created_at", "users")',
                "downgrade(): `DROP INDEX idx_users_created_at` took ACCESS EXCLUSIVE"),
        Mistake(f'def upgrade():\n    {AB}\n        op.create_index("idx_users_created_at", "users", ["created_at"], '
                'postgresql_concurrently=True)\n',
                "define downgrade() too"),
        Mistake(f'def upgrade():\n    {AB}\n        op.create_index("idx_users_created_at", "users", ["created_at"], '
                'postgresql_concurrently=True)\n\ndef downgrade():\n    pass\n',
                "define downgrade() too"),
    ],
    alternatives=[
        f'def upgrade():\n    {AB}\n        op.execute("CREATE INDEX CONCURRENTLY users_created_at_idx ON users (created_at)")\n'
        f'def downgrade():\n    {AB}\n        op.execute("DROP INDEX CONCURRENTLY users_created_at_idx")',
        f'def upgrade():\n    {AB}\n        op.execute("create index concurrently if not exists ix_created on users using btree '
        f'(created_at desc)")\ndef downgrade():\n    {AB}\n        op.execute("drop index concurrently if exists ix_created")',
        f'def upgrade():\n    {AB}\n        op.create_index("ix_users_created_at_id", "users", ["created_at", "id"], '
        f'postgresql_concurrently=True, if_not_exists=True)\ndef downgrade():\n    {AB}\n        op.drop_index('
        '"ix_users_created_at_id", "users", postgresql_concurrently=True, if_exists=True)',
        'from alembic import op\nimport sqlalchemy as sa\n\ndef upgrade():\n    ctx = op.get_context()\n    with '
        'ctx.autocommit_block():\n        op.drop_index("i1", "users", postgresql_concurrently=True, if_exists=True)\n'
        '        op.create_index("i1", "users", [sa.text("created_at")], postgresql_concurrently=True)\n\n'
        f'def downgrade():\n    {AB}\n        op.drop_index("i1", table_name="users", postgresql_concurrently=True)',
        f'def upgrade():\n    {AB}\n        op.execute("CREATE INDEX CONCURRENTLY i ON users (created_at) INCLUDE (email)")\n'
        f'def downgrade():\n    {AB}\n        op.execute("DROP INDEX CONCURRENTLY i")',
    ],
)

# ---------------------------------------------------------------- 2. the guide's add-with-default, done right


def _no_rewrite_nor_update(run: MigrationRun, conn: sa.Connection) -> str | None:
    step = run.first(lambda s: "users" in s.rewritten)
    if step:
        return (f"{describe(step)} rewrote users (a new file for the whole table) while holding ACCESS EXCLUSIVE: "
                "reads and writes waited for all of it. A volatile DEFAULT is computed for every row, and a type "
                "change whose storage changes rewrites every row too; a constant DEFAULT is stored once in the "
                "catalog and needs no rewrite.")
    step = run.first(lambda s: s.sql.lstrip().upper().startswith("UPDATE")
                     and locks.strength(s.locks.get("users", "")) >= locks.strength("ShareLock"))
    if step:
        return (f"{describe(step, 60)} updated every row while the transaction held "
                f"{_name(step.locks['users'])} on users (from the ALTER TABLE): reads and writes wait for the whole "
                "UPDATE. The DEFAULT in ADD COLUMN fills the existing rows by itself.")
    hit = run.scan_under("users", "ShareLock")
    if hit:
        scan, mode = hit
        return (f"{describe(scan)} scanned all of users while holding {_name(mode)}: ADD COLUMN ... NOT NULL "
                "DEFAULT 'legacy' needs no scan at all.")
    return None


def _signup_source_column(run: MigrationRun, conn: sa.Connection) -> str | None:
    column = conn.exec_driver_sql(
        "SELECT data_type, is_nullable, column_default FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'users' AND column_name = 'signup_source'").first()
    if column is None:
        return "users has no column signup_source."
    if column.data_type != "text":
        return f"signup_source should be text, not {column.data_type}."
    if column.is_nullable == "YES":
        return "signup_source should be NOT NULL."
    counts = conn.exec_driver_sql(
        "SELECT count(*) FILTER (WHERE signup_source = 'legacy'), count(*) FROM users").one()
    if counts[0] != counts[1]:
        return (f"existing users should have signup_source = 'legacy' ({counts[1] - counts[0]:,} of {counts[1]:,} "
                "have something else).")
    probe = conn.exec_driver_sql(
        "WITH new AS (INSERT INTO users (email, password_hash) VALUES ('probe@example.com', 'x') "
        "RETURNING signup_source) SELECT signup_source FROM new").scalar()
    conn.rollback()
    if probe != "web":
        return f"a new user should get 'web' by default, but gets {probe!r}."
    return None


signup_source = MigrationExercise(
    LESSON,
    "signup_source",
    task="""
Add `users.signup_source`, `text NOT NULL`: every existing user gets `'legacy'`, and a user who signs up later
gets `'web'` unless the application says otherwise. On a table of a million rows that is being written to: no
table rewrite, no scan, no UPDATE while the table is locked.
""",
    hints=[
        "ADD COLUMN ... NOT NULL DEFAULT 'legacy' (a constant) gives every existing row 'legacy' without touching "
        "them: the value is kept once in the catalog.",
        "The default for new rows can change afterwards without touching any row: ALTER COLUMN ... SET DEFAULT "
        "'web' (op.alter_column(..., server_default='web')).",
    ],
    solution='''
def upgrade():
    op.add_column("users", sa.Column("signup_source", sa.Text, nullable=False, server_default="legacy"))
    op.alter_column("users", "signup_source", server_default="web")


def downgrade():
    op.drop_column("users", "signup_source")
''',
    requirements=[_no_rewrite_nor_update, _signup_source_column],
    explanation=("Both statements changed only the catalog: existing rows read 'legacy' from the column's stored "
                 "default (pg_attribute.attmissingval), new rows get 'web'. ACCESS EXCLUSIVE was held for "
                 "milliseconds."),
    mistakes=[
        Mistake('def upgrade():\n    op.add_column("users", sa.Column("signup_source", sa.Text, nullable=True))\n'
                '    op.execute("UPDATE users SET signup_source = \'legacy\'")\n'
                '    op.alter_column("users", "signup_source", nullable=False, server_default="web")\n\n'
                'def downgrade():\n    op.drop_column("users", "signup_source")',
                "updated every row while the transaction held ACCESS EXCLUSIVE"),
        Mistake('def upgrade():\n    op.add_column("users", sa.Column("signup_source", sa.Text, nullable=False, '
                'server_default="web"))\n\ndef downgrade():\n    op.drop_column("users", "signup_source")',
                "existing users should have signup_source = 'legacy'"),
        Mistake('def upgrade():\n    op.add_column("users", sa.Column("signup_source", sa.Text, nullable=False))\n\n'
                'def downgrade():\n    op.drop_column("users", "signup_source")',
                "contains null values"),
        Mistake('def upgrade():\n    op.add_column("users", sa.Column("signup_source", sa.Text, nullable=False, '
                'server_default=sa.text("CASE WHEN clock_timestamp() < \'2000-01-01\' THEN \'web\' ELSE \'legacy\' '
                'END")))\n    op.alter_column("users", "signup_source", server_default="web")\n\n'
                'def downgrade():\n    op.drop_column("users", "signup_source")',
                "rewrote users"),
        Mistake('def upgrade():\n    op.add_column("users", sa.Column("signup_source", sa.String(20), nullable=False, '
                'server_default="legacy"))\n    op.alter_column("users", "signup_source", server_default="web")\n\n'
                'def downgrade():\n    op.drop_column("users", "signup_source")',
                "should be text, not character varying"),
        Mistake('def upgrade():\n    op.add_column("users", sa.Column("signup_source", sa.Text, server_default="legacy"))\n'
                '    op.alter_column("users", "signup_source", server_default="web")\n\n'
                'def downgrade():\n    op.drop_column("users", "signup_source")',
                "should be NOT NULL"),
        Mistake('def upgrade():\n    op.add_column("users", sa.Column("signup_source", sa.Text, nullable=False, '
                'server_default="legacy"))\n    op.alter_column("users", "signup_source", server_default="web")\n\n'
                'def downgrade():\n    op.alter_column("users", "signup_source", server_default=None)',
                "downgrade() does not give back the schema"),
    ],
    alternatives=[
        'def upgrade():\n    op.execute("ALTER TABLE users ADD COLUMN signup_source text NOT NULL DEFAULT \'legacy\'")\n'
        '    op.execute("ALTER TABLE users ALTER COLUMN signup_source SET DEFAULT \'web\'")\n'
        'def downgrade():\n    op.execute("ALTER TABLE users DROP COLUMN signup_source")',
        'def upgrade():\n    op.execute("ALTER TABLE users ADD COLUMN signup_source text DEFAULT \'legacy\' NOT NULL, '
        'ALTER COLUMN signup_source SET DEFAULT \'web\'")\ndef downgrade():\n    op.drop_column("users", "signup_source")',
        'def upgrade():\n    op.add_column("users", sa.Column("signup_source", sa.Text(), server_default=sa.text("\'legacy\'"), '
        'nullable=False))\n    with op.batch_alter_table("users") as b:\n        b.alter_column("signup_source", '
        'server_default=sa.text("\'web\'"))\ndef downgrade():\n    op.drop_column("users", "signup_source")',
        'def upgrade():\n    op.add_column("users", sa.Column("signup_source", sa.Text, nullable=False, server_default="legacy"))\n'
        f'    {AB}\n        op.alter_column("users", "signup_source", server_default="web")\n'
        'def downgrade():\n    op.drop_column("users", "signup_source")',
        'def upgrade():\n    op.execute("alter table users add column signup_source text not null default \'leg\' || \'acy\'")\n'
        '    op.execute("alter table users alter signup_source set default \'web\'::text")\n'
        'def downgrade():\n    op.execute("alter table users drop signup_source")',
    ],
)

# ---------------------------------------------------------------- 3. NOT NULL without a long lock

_HANDLE = ["ALTER TABLE users ADD COLUMN handle text", "UPDATE users SET handle = split_part(email, '@', 1)"]


def _no_scan_under_access_exclusive(run: MigrationRun, conn: sa.Connection) -> str | None:
    hit = run.scan_under("users", "ShareLock")
    if not hit:
        return None
    step, mode = hit
    sql = step.sql.upper()
    where = f"{describe(step)} scanned all of users while holding {_name(mode)}: reads and writes waited for it."
    if "SET NOT NULL" in sql:
        checks = [s for s in run.steps if "CHECK" in s.sql.upper()]
        if any("IS NOT NULL" not in s.sql.upper() and "IS NULL" not in s.sql.upper() for s in checks):
            return where + (" Your CHECK is not one PostgreSQL can use to skip the scan: it must say "
                            "CHECK (handle IS NOT NULL).")
        if checks or any("VALID" in s.sql.upper() for s in run.steps):
            return where + (" No valid CHECK (handle IS NOT NULL) proved the column has no NULLs: VALIDATE the "
                            "constraint first, in a transaction of its own.")
        return where + (" SET NOT NULL must scan unless a valid CHECK (handle IS NOT NULL) proves it: add the CHECK "
                        "NOT VALID, VALIDATE it in a transaction of its own, then SET NOT NULL.")
    if "VALIDATE" in sql:
        return where + (" VALIDATE ran in the transaction that added the constraint, which still held ACCESS "
                        "EXCLUSIVE: commit in between (`with op.get_context().autocommit_block():`), so that VALIDATE "
                        "holds only SHARE UPDATE EXCLUSIVE.")
    if "CHECK" in sql or "CONSTRAINT" in sql:
        return where + " Add the CHECK as NOT VALID, then VALIDATE it in a transaction of its own."
    return where


def _handle_not_null(run: MigrationRun, conn: sa.Connection) -> str | None:
    not_null = conn.exec_driver_sql(
        "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'handle'").scalar()
    if not not_null:
        return ("users.handle is still nullable: finish with SET NOT NULL (a valid CHECK is not the column's NOT "
                "NULL: the planner, the ORM and \\d do not read it as one).")
    invalid = conn.exec_driver_sql(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'users'::regclass AND NOT convalidated").scalar()
    if invalid:
        return f"the constraint {invalid} is still NOT VALID: VALIDATE it (in its own transaction)."
    return None


handle_not_null = MigrationExercise(
    LESSON,
    "handle_not_null",
    task="""
On the scratch copy, `users.handle` (text) has been added and filled in for every user, and the application writes
it for new ones. Make it `NOT NULL` **without scanning users while reads and writes are blocked**. (On PostgreSQL
15-17 the way is a CHECK; PostgreSQL 18 also has NOT NULL ... NOT VALID.)
""",
    hints=[
        "SET NOT NULL holds ACCESS EXCLUSIVE and scans every row, unless a valid CHECK (handle IS NOT NULL) already "
        "proves there are no NULLs (PostgreSQL 12+).",
        "ADD CONSTRAINT ... CHECK (handle IS NOT NULL) NOT VALID (instant), then in an autocommit block: VALIDATE "
        "CONSTRAINT (scans under SHARE UPDATE EXCLUSIVE: writes go on), SET NOT NULL (no scan), DROP the CHECK.",
    ],
    solution=f'''
def upgrade():
    op.execute("ALTER TABLE users ADD CONSTRAINT users_handle_present CHECK (handle IS NOT NULL) NOT VALID")
    {AB}  # commits the ADD: VALIDATE runs in a transaction of its own
        op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_handle_present")
        op.alter_column("users", "handle", nullable=False)  # no scan: the valid CHECK proves it
        op.drop_constraint("users_handle_present", "users", type_="check")


def downgrade():
    op.alter_column("users", "handle", nullable=True)
''',
    scratch_setup=_HANDLE,
    requirements=[_no_scan_under_access_exclusive, _handle_not_null],
    explanation=("The only scan ran under SHARE UPDATE EXCLUSIVE (VALIDATE), which lets reads and writes go on; SET "
                 "NOT NULL found the valid CHECK and skipped its scan (DEBUG1: 'existing constraints on column ... are "
                 "sufficient to prove that it does not contain nulls')."),
    mistakes=[
        Mistake('def upgrade():\n    op.alter_column("users", "handle", nullable=False)\n\n'
                'def downgrade():\n    op.alter_column("users", "handle", nullable=True)',
                "SET NOT NULL` scanned all of users while holding ACCESS EXCLUSIVE"),
        Mistake('def upgrade():\n    op.execute("ALTER TABLE users ADD CONSTRAINT ck CHECK (handle IS NOT NULL) NOT VALID")\n'
                '    op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck")\n'
                '    op.alter_column("users", "handle", nullable=False)\n\n'
                'def downgrade():\n    op.alter_column("users", "handle", nullable=True)\n    op.drop_constraint("ck", "users")',
                "VALIDATE ran in the transaction that added the constraint"),
        Mistake(f'def upgrade():\n    {AB}\n        op.execute("ALTER TABLE users ADD CONSTRAINT ck CHECK (handle IS NOT NULL)")\n'
                '        op.alter_column("users", "handle", nullable=False)\n\n'
                'def downgrade():\n    op.alter_column("users", "handle", nullable=True)\n    op.drop_constraint("ck", "users")',
                "Add the CHECK as NOT VALID"),
        Mistake(f'def upgrade():\n    {AB}\n        op.execute("ALTER TABLE users ADD CONSTRAINT ck CHECK (handle IS NOT NULL) NOT VALID")\n'
                '        op.alter_column("users", "handle", nullable=False)\n\n'
                'def downgrade():\n    op.alter_column("users", "handle", nullable=True)\n    op.drop_constraint("ck", "users")',
                "No valid CHECK (handle IS NOT NULL) proved"),
        Mistake(f'def upgrade():\n    {AB}\n        op.execute("ALTER TABLE users ADD CONSTRAINT ck CHECK (coalesce(handle, \'\') <> \'\') NOT VALID")\n'
                '        op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck")\n'
                '        op.alter_column("users", "handle", nullable=False)\n\n'
                'def downgrade():\n    op.alter_column("users", "handle", nullable=True)\n    op.drop_constraint("ck", "users")',
                "Your CHECK is not one PostgreSQL can use"),
        Mistake(f'def upgrade():\n    {AB}\n        op.execute("ALTER TABLE users ADD CONSTRAINT ck CHECK (handle IS NOT NULL) NOT VALID")\n'
                '        op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck")\n\n'
                'def downgrade():\n    op.drop_constraint("ck", "users")',
                "users.handle is still nullable"),
    ],
    alternatives=[
        f'def upgrade():\n    {AB}\n        op.create_check_constraint("ck_handle", "users", "handle IS NOT NULL", '
        'postgresql_not_valid=True)\n        op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_handle")\n'
        '        op.execute("ALTER TABLE users ALTER COLUMN handle SET NOT NULL")\n'
        '        op.execute("ALTER TABLE users DROP CONSTRAINT ck_handle")\n'
        'def downgrade():\n    op.execute("ALTER TABLE users ALTER COLUMN handle DROP NOT NULL")',
        f'def upgrade():\n    {AB}\n        op.execute("alter table users add constraint h_nn check (not (handle is null)) not valid")\n'
        '        op.execute("alter table users validate constraint h_nn")\n'
        '        op.execute("alter table users alter handle set not null")\n'
        'def downgrade():\n    op.execute("alter table users alter handle drop not null")\n'
        '    op.execute("alter table users drop constraint h_nn")',
        f'def upgrade():\n    {AB}\n        op.execute("ALTER TABLE users ADD CONSTRAINT c1 CHECK (handle IS NOT NULL AND '
        'length(handle) > 0) NOT VALID")\n        op.execute("ALTER TABLE users VALIDATE CONSTRAINT c1")\n'
        '        op.alter_column("users", "handle", existing_type=sa.Text, nullable=False)\n'
        'def downgrade():\n    op.alter_column("users", "handle", nullable=True)\n    op.drop_constraint("c1", "users")',
        'def upgrade():\n    op.create_check_constraint("handle_nn", "users", sa.column("handle").isnot(None), '
        f'postgresql_not_valid=True)\n    {AB}\n        op.execute("ALTER TABLE users VALIDATE CONSTRAINT handle_nn")\n'
        '    op.alter_column("users", "handle", nullable=False)\n    op.drop_constraint("handle_nn", "users")\n'
        'def downgrade():\n    op.alter_column("users", "handle", nullable=True)',
        Since(180000, f'def upgrade():\n    {AB}\n        op.execute("ALTER TABLE users ADD CONSTRAINT users_handle_nn '
                      'NOT NULL handle NOT VALID")\n        op.execute("ALTER TABLE users VALIDATE CONSTRAINT '
                      'users_handle_nn")\ndef downgrade():\n    op.execute("ALTER TABLE users DROP CONSTRAINT users_handle_nn")'),
    ],
)

# ---------------------------------------------------------------- 4. a foreign key without blocking writes


def _fk_scan_under_share_row_exclusive(run: MigrationRun, conn: sa.Connection) -> str | None:
    hit = run.scan_under("posts", "ShareRowExclusiveLock")
    if not hit:
        return None
    step, mode = hit
    users_mode = step.locks.get("users")
    both = f" on posts and {_name(users_mode)} on users" if users_mode else " on posts"
    why = (" VALIDATE ran in the transaction that added the key, which still held SHARE ROW EXCLUSIVE: commit in "
           "between (`with op.get_context().autocommit_block():`)." if "VALIDATE" in step.sql.upper()
           else " Add it NOT VALID (postgresql_not_valid=True), then VALIDATE CONSTRAINT in a transaction of its own.")
    return (f"{describe(step)} checked every post while holding {_name(mode)}{both}: INSERT, UPDATE and DELETE on "
            f"both tables waited for the whole check.{why}")


def _fk_in_place(run: MigrationRun, conn: sa.Connection) -> str | None:
    key = conn.exec_driver_sql(
        "SELECT convalidated, pg_get_constraintdef(oid), confrelid::regclass::text FROM pg_constraint "
        "WHERE conrelid = 'posts'::regclass AND contype = 'f'").first()
    if key is None:
        return "posts has no foreign key."
    if key[2] != "users":
        return f"the foreign key should reference users (id), not {key[2]}."
    if not key[0]:
        return ("the foreign key is still NOT VALID: existing posts are not checked. VALIDATE CONSTRAINT it, in a "
                "transaction of its own.")
    if "ON DELETE CASCADE" not in key[1]:
        return ("the dataset's key deletes a user's posts with the user: ON DELETE CASCADE "
                f"(yours: {key[1]}).")
    return None


posts_foreign_key = MigrationExercise(
    LESSON,
    "posts_foreign_key",
    task="""
On the scratch copy, `posts.user_id` has lost its foreign key. Add it back (`REFERENCES users (id) ON DELETE
CASCADE`) **without blocking writes to posts and users while every existing post is checked**.
""",
    hints=[
        "ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on both tables and checks every row while holding it.",
        "Add it NOT VALID (op.create_foreign_key(..., postgresql_not_valid=True): instant), then VALIDATE CONSTRAINT in "
        "an autocommit block: it checks the rows under SHARE UPDATE EXCLUSIVE on posts and ROW SHARE on users.",
    ],
    solution=f'''
def upgrade():
    op.create_foreign_key("posts_user_id_fkey", "posts", "users", ["user_id"], ["id"],
                          ondelete="CASCADE", postgresql_not_valid=True)
    {AB}
        op.execute("ALTER TABLE posts VALIDATE CONSTRAINT posts_user_id_fkey")


def downgrade():
    op.drop_constraint("posts_user_id_fkey", "posts", type_="foreignkey")
''',
    scratch_setup=["ALTER TABLE posts DROP CONSTRAINT posts_user_id_fkey"],
    requirements=[_fk_scan_under_share_row_exclusive, _fk_in_place],
    explanation=("The NOT VALID key took SHARE ROW EXCLUSIVE for a moment and checked nothing (new rows are checked "
                 "from then on); VALIDATE checked the existing posts holding only SHARE UPDATE EXCLUSIVE on posts and "
                 "ROW SHARE on users, which block no INSERT, UPDATE or DELETE."),
    mistakes=[
        Mistake('def upgrade():\n    op.create_foreign_key("posts_user_id_fkey", "posts", "users", ["user_id"], ["id"], '
                'ondelete="CASCADE")\n\ndef downgrade():\n    op.drop_constraint("posts_user_id_fkey", "posts", '
                'type_="foreignkey")',
                "while holding SHARE ROW EXCLUSIVE on posts"),
        Mistake('def upgrade():\n    op.create_foreign_key("posts_user_id_fkey", "posts", "users", ["user_id"], ["id"], '
                'ondelete="CASCADE", postgresql_not_valid=True)\n'
                '    op.execute("ALTER TABLE posts VALIDATE CONSTRAINT posts_user_id_fkey")\n\n'
                'def downgrade():\n    op.drop_constraint("posts_user_id_fkey", "posts", type_="foreignkey")',
                "VALIDATE ran in the transaction that added the key"),
        Mistake('def upgrade():\n    op.create_foreign_key("posts_user_id_fkey", "posts", "users", ["user_id"], ["id"], '
                'ondelete="CASCADE", postgresql_not_valid=True)\n\ndef downgrade():\n    op.drop_constraint('
                '"posts_user_id_fkey", "posts", type_="foreignkey")',
                "still NOT VALID"),
        Mistake('def upgrade():\n    op.create_foreign_key("posts_user_id_fkey", "posts", "users", ["user_id"], ["id"], '
                f'postgresql_not_valid=True)\n    {AB}\n        op.execute("ALTER TABLE posts VALIDATE CONSTRAINT '
                'posts_user_id_fkey")\n\ndef downgrade():\n    op.drop_constraint("posts_user_id_fkey", "posts", '
                'type_="foreignkey")',
                "ON DELETE CASCADE"),
        Mistake('def upgrade():\n    op.execute("ALTER TABLE posts ADD FOREIGN KEY (user_id) REFERENCES users (id) '
                'ON DELETE CASCADE")\n\ndef downgrade():\n    op.execute("ALTER TABLE posts DROP CONSTRAINT '
                'posts_user_id_fkey")',
                "adding-foreign-key-constraint"),
        Mistake('def upgrade():\n    op.create_foreign_key("posts_user_id_fkey", "posts", "users", ["user_id"], ["id"], '
                f'ondelete="CASCADE", postgresql_not_valid=True)\n    {AB}\n        op.execute("ALTER TABLE posts '
                'VALIDATE CONSTRAINT posts_user_id_fkey")\n',
                "define downgrade() too"),
        Mistake('def upgrade():\n    op.create_foreign_key("fk", "posts", "users", ["user_id"], ["id"], ondelete="CASCADE", '
                'postgresql_not_valid=True)\n    op.execute("COMMIT")\n    op.execute("ALTER TABLE posts VALIDATE '
                'CONSTRAINT fk")\n\ndef downgrade():\n    op.drop_constraint("fk", "posts")',
                "use `with op.get_context().autocommit_block():`"),
    ],
    alternatives=[
        f'def upgrade():\n    {AB}\n        op.execute("ALTER TABLE posts ADD CONSTRAINT fk_posts_users FOREIGN KEY (user_id) '
        'REFERENCES users (id) ON DELETE CASCADE NOT VALID")\n        op.execute("ALTER TABLE posts VALIDATE CONSTRAINT '
        'fk_posts_users")\ndef downgrade():\n    op.execute("ALTER TABLE posts DROP CONSTRAINT fk_posts_users")',
        'def upgrade():\n    op.execute("alter table posts add foreign key (user_id) references users on delete cascade '
        f'not valid")\n    {AB}\n        op.execute("alter table posts validate constraint posts_user_id_fkey")\n'
        'def downgrade():\n    op.execute("alter table posts drop constraint posts_user_id_fkey")',
        'def upgrade():\n    op.create_foreign_key("k", "posts", "users", ["user_id"], ["id"], ondelete="cascade", '
        f'postgresql_not_valid=True)\n    {AB}\n        op.execute("ALTER TABLE posts VALIDATE CONSTRAINT k")\n'
        'def downgrade():\n    op.drop_constraint("k", "posts")',
    ],
)

# ---------------------------------------------------------------- 5. what a migration that stopped halfway leaves

not_valid_leftovers = ResultExercise(
    LESSON,
    "not_valid_leftovers",
    task="""
A migration that stopped between its `NOT VALID` and its `VALIDATE CONSTRAINT` (a deploy rolled back, a revision
split in two and only half run) leaves constraints that new rows obey but old rows were never checked against. The
checker adds two such constraints (in its transaction, rolled back afterwards) before it runs your query. Write a query that lists every constraint of the database that is NOT
VALID: the name of the table it is on, as text (`table_name`), and the constraint's name (`constraint_name`).
""",
    hints=[
        "information_schema does not say whether a constraint is validated: pg_constraint does, in convalidated.",
        "SELECT conrelid::regclass, conname FROM pg_constraint WHERE NOT convalidated",
    ],
    solution="""
SELECT conrelid::regclass::text AS table_name, conname AS constraint_name
FROM pg_constraint
WHERE NOT convalidated
""",
    setup=("ALTER TABLE users ADD CONSTRAINT users_email_lower CHECK (email = lower(email)) NOT VALID;\n"
           "ALTER TABLE comments ADD CONSTRAINT comments_user_id_fkey2 FOREIGN KEY (user_id) REFERENCES users (id) "
           "NOT VALID;"),
    explanation=("Both are enforced for every new or updated row; only VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE: "
                 "reads and writes go on) checks the old ones and makes convalidated true."),
    mistakes=[
        Mistake("SELECT conrelid::regclass::text AS table_name, conname AS constraint_name FROM pg_constraint "
                "WHERE contype IN ('c', 'f')", "rows"),
        Mistake("SELECT conrelid::regclass::text AS table_name, conname AS constraint_name FROM pg_constraint "
                "WHERE convalidated", "rows"),
        Mistake("SELECT table_name, constraint_name FROM information_schema.table_constraints "
                "WHERE constraint_type = 'CHECK'", "rows"),
    ],
    alternatives=[
        "SELECT conrelid::regclass::text AS table_name, conname AS constraint_name FROM pg_constraint WHERE convalidated = false",
        "SELECT c.relname AS table_name, k.conname AS constraint_name FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid WHERE NOT k.convalidated ORDER BY 1, 2",
        "select conrelid::regclass::text, conname from pg_catalog.pg_constraint where convalidated is false",
    ],
)

EXERCISES = [index_concurrently, signup_source, handle_not_null, posts_foreign_key, not_valid_leftovers]
