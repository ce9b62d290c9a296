"""users.verified: boolean NOT NULL DEFAULT false (no rewrite since PostgreSQL 11)

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default is stored once in the catalog: existing rows read it from there, nothing is rewritten.
    op.add_column("users", sa.Column("verified", sa.Boolean, server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column("users", "verified")
