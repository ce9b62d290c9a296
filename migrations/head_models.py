"""The schema at head, for `alembic check`: the dataset's tables as pglab.models declares them, plus what the
revisions in versions/ add, with the names the database gives (the dataset names its foreign-key indexes
idx_<table>_<column>, and builds three that the models do not declare).

pglab.models itself cannot be the target: other lessons' ORM code selects its columns from databases that never
ran these migrations."""
from __future__ import annotations

import sqlalchemy as sa

from pglab import models

metadata = sa.MetaData()
for _table in models.Base.metadata.sorted_tables:
    _copy = _table.to_metadata(metadata)
    for _index in list(_copy.indexes):  # index=True names it ix_<table>_<column>; the dataset says idx_
        _copy.indexes.discard(_index)
for _table, _column in (("posts", "user_id"), ("comments", "post_id"), ("comments", "user_id"), ("post_tags", "tag_id")):
    sa.Index(f"idx_{_table}_{_column}", metadata.tables[_table].c[_column])

users = metadata.tables["users"]
# 0002, 0003: verified, backfilled for the users who signed up since September 2025; 0004: an index for the admin page
users.append_column(sa.Column("verified", sa.Boolean, server_default=sa.false(), nullable=False))
sa.Index("idx_users_verified_created_at", users.c.created_at, postgresql_where=users.c.verified)

# 0001: the guide's template
sa.Table(
    "bookmarks", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("post_id", sa.Uuid, sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Index("idx_bookmarks_user_id", "user_id"),
    sa.Index("idx_bookmarks_post_id", "post_id"),
)

# 0005-0007: profiles.website renamed to homepage, expand then contract
profiles = metadata.tables["profiles"]
profiles._columns.remove(profiles.c.website)
profiles.append_column(sa.Column("homepage", sa.String(500)))
