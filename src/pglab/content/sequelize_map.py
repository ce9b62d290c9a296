"""Lesson 03's map: every concept of the guide's Sequelize models, its SQLAlchemy 2 spelling, and the SQL it
compiles to (compiled when the lesson runs, from pglab.models, so the map cannot drift from the models)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..orm_tour import SideBySide, sql_of


def paranoid_filter() -> Any:
    """What the lab's do_orm_execute hook adds to an ORM SELECT (models.live_rows_only)."""
    from ..models import live_rows_only

    return live_rows_only()


def admins_query() -> sa.Select[Any]:
    """select(User).where(User.role == 'admin'), the query the map's paranoid rows use."""
    from ..models import User

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

    from ..models import Base, Post, Profile, Tag, User

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
              "(session.delete(user) needs a delete cascade, e.g. cascade='all, delete-orphan', with passive_deletes=True)",
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


__all__ = ["admins_query", "paranoid_filter", "sequelize_map"]
