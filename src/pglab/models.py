"""SQLAlchemy 2 models of the dataset: the guide's Sequelize models, in typed declarative mapping.

Lesson 03 walks through this file; lesson 04 uses it to show N+1 and its cures.

Sequelize                          SQLAlchemy here
User.init({...}, {underscored})    class User(Base): column names are already snake_case
passwordHash: {field: ...}         password_hash attribute (Python's own style is snake_case too)
paranoid: true                     SoftDelete mixin + the do_orm_execute hook below
hasMany / belongsTo                relationship(back_populates=...) on both sides
belongsToMany through post_tags    relationship(secondary=post_tags)
hasOne                             relationship(uselist=False) on the side without the key
"""
from __future__ import annotations

import datetime as dt
import re
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import (
    DeclarativeBase, LoaderCriteriaOption, Mapped, ORMExecuteState, Session, mapped_column, relationship, validates,
    with_loader_criteria,
)

# re.ASCII: \s is the six ASCII white-space characters, as PostgreSQL's \s is for them (without it, Python's \s also
# matches \x1c-\x1f, U+0085 and U+00A0, which PostgreSQL's does not, and a CHECK written with \s would disagree).
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", re.ASCII)
ROLES = ("user", "admin")
STATUSES = ("active", "inactive", "banned")


class Base(DeclarativeBase):
    pass


class Timestamps:
    """created_at/updated_at kept by the ORM (the database's DEFAULT now() alone never updates)."""

    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )


class SoftDelete:
    """Sequelize's paranoid: delete() sets deleted_at; ordinary queries skip deleted rows."""

    deleted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    def soft_delete(self) -> None:
        self.deleted_at = sa.func.now()  # type: ignore[assignment]

    def restore(self) -> None:
        self.deleted_at = None


post_tags = sa.Table(
    "post_tags",
    Base.metadata,
    sa.Column("post_id", sa.Uuid, sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.Uuid, sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
)


class User(Timestamps, SoftDelete, Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, server_default=sa.func.gen_random_uuid())
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20), default="user", server_default="user")
    status: Mapped[str] = mapped_column(sa.String(20), default="active", server_default="active")
    bio: Mapped[str | None] = mapped_column(sa.Text)
    avatar_url: Mapped[str | None] = mapped_column(sa.String(500))

    posts: Mapped[list[Post]] = relationship(back_populates="author", order_by="Post.created_at")
    comments: Mapped[list[Comment]] = relationship(back_populates="author")
    profile: Mapped[Profile | None] = relationship(back_populates="user", uselist=False)

    @validates("email")
    def _check_email(self, _key: str, value: str) -> str:
        if not EMAIL.fullmatch(value or ""):  # match() would let "a@b.c\n" through: in Python, $ matches before a final newline
            raise ValueError(f"{value!r} is not an email address")
        return value.lower()

    @validates("role")
    def _check_role(self, _key: str, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {value!r}")
        return value

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class Profile(Timestamps, Base):
    __tablename__ = "profiles"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    location: Mapped[str | None] = mapped_column(sa.String(100))
    website: Mapped[str | None] = mapped_column(sa.String(500))

    user: Mapped[User] = relationship(back_populates="profile")

    def __repr__(self) -> str:
        return f"<Profile {self.display_name}>"


class Post(Timestamps, Base):
    __tablename__ = "posts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(255))
    content: Mapped[str | None] = mapped_column(sa.Text)

    author: Mapped[User] = relationship(back_populates="posts")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, back_populates="posts")
    comments: Mapped[list[Comment]] = relationship(back_populates="post")

    def __repr__(self) -> str:
        return f"<Post {self.title!r}>"


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    posts: Mapped[list[Post]] = relationship(secondary=post_tags, back_populates="tags")

    def __repr__(self) -> str:
        return f"<Tag {self.name}>"


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    post_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    post: Mapped[Post] = relationship(back_populates="comments")
    author: Mapped[User] = relationship(back_populates="comments")


def live_rows_only() -> LoaderCriteriaOption:
    """The criteria the session hook adds to an ORM SELECT: deleted_at IS NULL on every SoftDelete model."""
    return with_loader_criteria(SoftDelete, lambda cls: cls.deleted_at.is_(None), include_aliases=True)


@sa.event.listens_for(Session, "do_orm_execute")
def _hide_soft_deleted(state: ORMExecuteState) -> None:
    """Every ORM SELECT (and relationship load) skips soft-deleted rows, unless the statement is run
    with execution_options(include_deleted=True). Relationship loads inherit the criteria from the
    query that loaded their parent, so they are not given it a second time."""
    if (
        state.is_select
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get("include_deleted", False)
    ):
        state.statement = state.statement.options(live_rows_only())
