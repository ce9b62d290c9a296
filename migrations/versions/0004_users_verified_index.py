"""users: index for the admin page's newest verified users, built CONCURRENTLY

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # CONCURRENTLY cannot run in a transaction: the autocommit block commits what came before and runs it alone.
    with op.get_context().autocommit_block():
        # a failed earlier attempt leaves an INVALID index of this name: drop it (IF NOT EXISTS would keep it)
        op.drop_index("idx_users_verified_created_at", "users", postgresql_concurrently=True, if_exists=True)
        op.execute("-- IF NOT EXISTS would accept an INVALID index left by a failed attempt: it is dropped above\n"
                   "-- squawk-ignore prefer-robust-stmts\n"
                   "CREATE INDEX CONCURRENTLY idx_users_verified_created_at ON users (created_at) WHERE verified")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("idx_users_verified_created_at", "users", postgresql_concurrently=True, if_exists=True)
