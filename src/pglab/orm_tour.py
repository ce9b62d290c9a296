"""Showing an ORM's code next to the SQL it produces (lesson 03).

- `source(obj, start=..., stop=...)`: a chunk of a class's or function's source, shown highlighted.
- `sql_of(statement)`: a SQLAlchemy statement compiled for PostgreSQL, as text.
- `statements(log)`: the statements a block sent (from `lab.count_statements()`), numbered.
- `SideBySide`: a table of Sequelize -> SQLAlchemy -> SQL rows, as HTML and as plain text.
- `sequelize_map()`: lesson 03's map of the guide's Sequelize models, their SQLAlchemy spelling and the SQL
  each compiles to (compiled now, from `pglab.models`); `paranoid_filter()` is the criteria the lab's
  session hook adds to every ORM SELECT.

Every object has a plain-text form that is the same on every run, so nbval can compare it.
"""
from __future__ import annotations

import html
import inspect
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from .querycount import StatementLog


@dataclass
class Code:
    """Source text shown as a highlighted block (Markdown) in a notebook, plain text elsewhere."""

    text: str
    language: str = "python"
    caption: str = ""

    def __repr__(self) -> str:
        return (f"# {self.caption}\n" if self.caption else "") + self.text

    def _repr_markdown_(self) -> str:
        head = f"*{self.caption}*\n\n" if self.caption else ""
        return f"{head}```{self.language}\n{self.text}\n```"


def source(obj: Any, start: str | None = None, stop: str | None = None, *, caption: str = "") -> Code:
    """The source of obj from the first line containing `start` up to (not including) the first later
    line containing `stop`; blank lines at the ends are dropped and the block is dedented."""
    lines = inspect.getsource(obj).splitlines()
    first = 0
    if start is not None:
        first = next(i for i, line in enumerate(lines) if start in line)
    last = len(lines)
    if stop is not None:
        last = next(i for i in range(first + 1, len(lines)) if stop in lines[i])
    chunk = lines[first:last]
    while chunk and not chunk[-1].strip():
        chunk.pop()
    return Code(textwrap.dedent("\n".join(chunk)), caption=caption)


def sql_of(statement: ClauseElement | Any) -> str:
    """A statement (select, insert, CreateTable...) compiled as the lab sends it: PostgreSQL through psycopg 3,
    with bind placeholders (and the casts that dialect adds to them, such as %(role_1)s::VARCHAR)."""
    return line_rstrip(str(statement.compile(dialect=postgresql.psycopg.dialect())))


def one_line(sql: str) -> str:
    return " ".join(sql.split())


@dataclass
class Statements:
    """The statements of a StatementLog, numbered, each on its own lines."""

    texts: list[str]

    def __repr__(self) -> str:
        if not self.texts:
            return "(no SQL sent)"
        return "\n".join(f"[{i}] " + "\n    ".join(s.strip().splitlines()) for i, s in enumerate(self.texts, start=1))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def statements(log: StatementLog) -> Statements:
    return Statements([line_rstrip(s) for s in log.statements])


def line_rstrip(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


@dataclass
class SideBySide:
    """Rows of (Sequelize, SQLAlchemy, SQL): an HTML table in a notebook, text cards elsewhere."""

    headers: Sequence[str] = ("Sequelize", "SQLAlchemy 2", "SQL it produces")
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, sequelize: str, sqlalchemy: str, sql: str) -> SideBySide:
        self.rows.append((sequelize.strip(), sqlalchemy.strip(), sql.strip()))
        return self

    def __repr__(self) -> str:
        cards = []
        for row in self.rows:
            cards.append("\n".join(
                f"{head}:\n" + textwrap.indent(cell, "    ") for head, cell in zip(self.headers, row)
            ))
        return ("\n" + "-" * 60 + "\n").join(cards)

    def _repr_html_(self) -> str:
        cell = 'style="text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid #ddd"'
        head = "".join(f"<th {cell}>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(
                f'<td {cell}><pre style="margin:0;white-space:pre-wrap;font-size:11px">{html.escape(c)}</pre></td>'
                for c in row
            ) + "</tr>"
            for row in self.rows
        )
        return f'<table style="border-collapse:collapse;width:100%"><tr>{head}</tr>{body}</table>'


def paranoid_filter() -> Any:
    """What the lab's do_orm_execute hook adds to an ORM SELECT (models.live_rows_only)."""
    from .models import live_rows_only

    return live_rows_only()


def admins_query() -> sa.Select[Any]:
    """select(User).where(User.role == 'admin'), the query the map's paranoid rows use."""
    from .models import User

    return sa.select(User).where(User.role == "admin")


def _role_enum_table() -> sa.Table:
    return sa.Table(
        "scratch_roles", sa.MetaData(),
        sa.Column("role", sa.Enum("user", "admin", name="user_role", native_enum=False, create_constraint=True),
                  nullable=False, server_default="user"),
    )


def sequelize_map(role_table: sa.Table | None = None) -> SideBySide:
    """Every concept of the guide's Sequelize models, its SQLAlchemy 2 spelling and the SQL it compiles to.

    Where the session writes the SQL itself (a flush), the row holds the equivalent statement; lesson 03
    checks those rows against what the session really sent. `role_table` is the scratch table with
    sa.Enum(native_enum=False, create_constraint=True) (one is built if not given)."""
    from sqlalchemy.orm import joinedload
    from sqlalchemy.schema import CreateTable

    from .models import Base, Post, Profile, Tag, User

    sql = sql_of
    by_id = User.id == sa.bindparam("users_id")
    admins = admins_query()
    table = SideBySide()
    table.add("User.init({ id, email, ... }, { tableName: 'users' })",
              "class User(Timestamps, SoftDelete, Base):\n    __tablename__ = 'users'",
              sql(CreateTable(Base.metadata.tables["users"])))
    table.add("passwordHash: { field: 'password_hash' }\nunderscored: true",
              "password_hash: Mapped[str] = mapped_column(sa.String(255))",
              sql(sa.select(User.password_hash)))
    table.add("role: { type: ENUM('user', 'admin'), defaultValue: 'user' }",
              "sa.Enum('user', 'admin', native_enum=False, create_constraint=True)",
              sql(CreateTable(role_table if role_table is not None else _role_enum_table())))
    table.add("email: { validate: { isEmail: true } }",
              "@validates('email')",
              "(none: checked in Python when an object's attribute is set; add a CHECK for a guarantee)")
    table.add("paranoid: true  +  User.findAll({ where: { role: 'admin' } })",
              "SoftDelete mixin + do_orm_execute hook\nsession.scalars(select(User).where(User.role == 'admin'))",
              sql(admins.options(paranoid_filter())))
    table.add("User.findAll({ where: ..., paranoid: false })",
              "select(User).where(...).execution_options(include_deleted=True)",
              sql(admins))
    table.add("user.destroy()  (paranoid)", "user.soft_delete(); session.commit()",
              sql(sa.update(User).where(by_id).values(deleted_at=sa.func.now(), updated_at=sa.func.now())))
    table.add("user.restore()", "user.restore(); session.commit()",
              sql(sa.update(User).where(by_id).values(deleted_at=None, updated_at=sa.func.now())))
    table.add("user.destroy({ force: true })",
              "session.execute(delete(User).where(User.id == ...))\n"
              "(session.delete(user) needs cascade='all, delete-orphan', passive_deletes=True)",
              sql(sa.delete(User).where(by_id)))
    table.add("timestamps: true  (createdAt, updatedAt)",
              "Timestamps mixin: server_default=now(), onupdate=now()\n"
              "(onupdate: in every UPDATE SQLAlchemy builds, flush or update(User))",
              sql(sa.update(User).where(by_id).values(bio=sa.bindparam("bio"), updated_at=sa.func.now())))
    table.add("User.hasMany(Post, { as: 'posts' })\nPost.belongsTo(User, { as: 'author' })",
              "User.posts = relationship(back_populates='author')\nPost.author = relationship(back_populates='posts')",
              sql(sa.select(User.email, Post.title).join(User.posts)))
    table.add("Post.belongsToMany(Tag, { through: 'post_tags', as: 'tags' })",
              "Post.tags = relationship(secondary=post_tags, back_populates='posts')",
              sql(sa.select(Post.title, Tag.name).join(Post.tags)))
    table.add("User.hasOne(Profile, { as: 'profile' })",
              "User.profile = relationship(back_populates='user', uselist=False)",
              sql(sa.select(User.email, Profile.display_name).join(User.profile)))
    table.add("User.findAll({ include: [{ model: Post, as: 'posts' }] })",
              "select(User).options(joinedload(User.posts))\n"
              "(or selectinload: a second SELECT ... WHERE user_id IN (...))",
              sql(sa.select(User).options(joinedload(User.posts))))
    by_user = Post.user_id == sa.bindparam("user_id")
    table.add("Post.findAndCountAll({ where: { userId }, limit: 20, offset: 40 })",
              "two statements: a count and a page",
              sql(sa.select(sa.func.count()).select_from(Post).where(by_user))
              + ";\n" + sql(sa.select(Post).where(by_user).order_by(Post.created_at).limit(20).offset(40)))
    return table


__all__ = ["Code", "SideBySide", "Statements", "admins_query", "one_line", "paranoid_filter", "sequelize_map",
           "source", "sql_of", "statements"]
