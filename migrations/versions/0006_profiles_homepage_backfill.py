"""rename profiles.website to homepage, 2 of 3: copy the old values, in batches

Revision ID: 0006
Revises: 0005
"""
from pglab.migrations import backfill

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    backfill("profiles", "homepage = website", "homepage IS DISTINCT FROM website")


def downgrade() -> None:
    pass  # 0005's downgrade drops homepage
