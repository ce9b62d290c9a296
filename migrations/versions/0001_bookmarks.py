"""bookmarks: the guide's template, create the table, then its indexes

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bookmarks",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("post_id", sa.Uuid, sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    # A plain CREATE INDEX is fine here: no other session can see a table created in this transaction yet.
    op.create_index("idx_bookmarks_user_id", "bookmarks", ["user_id"])
    op.create_index("idx_bookmarks_post_id", "bookmarks", ["post_id"])


def downgrade() -> None:
    op.drop_table("bookmarks")  # its indexes go with it
