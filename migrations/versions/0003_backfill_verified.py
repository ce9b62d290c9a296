"""users.verified: backfill in batches (sign-ups since September 2025 were verified)

Revision ID: 0003
Revises: 0002
"""
from pglab.migrations import backfill

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # keyset over the primary key, one commit per batch; NOT verified makes a rerun skip what is done
    backfill("users", "verified = true", "NOT verified AND created_at >= '2025-09-01'")


def downgrade() -> None:
    pass  # nothing to undo on its own: 0002's downgrade drops the column
