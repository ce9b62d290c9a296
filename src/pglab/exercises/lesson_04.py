"""Lesson 04: the N+1 problem. Two statement-count exercises, a DataLoader batch function, one query
that replaces a loop (LATERAL).

The DataLoader exercise is its own small kind (BatchFunctionExercise): the learner writes
`async def batch(user_ids, conn)`; the checker calls it once directly (shape and order of the result),
then through an aiodataloader DataLoader with gathered loads (it must send one statement)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..querycount import count_statements
from .base import (
    Exercise, Mistake, NotAttempted, ResultExercise, StatementCountExercise, is_blank_sql, lists_in_any_order,
)

LESSON = "04_n_plus_one"


# ---------------------------------------------------------------- 1. users with their posts
# The 50 most recently created users: the 48th of the dataset's newest users is soft-deleted, so an answer
# that shows soft-deleted users (include_deleted, or SQL without deleted_at IS NULL) returns other keys.


def _newest_users() -> Any:
    from ..models import User

    return sa.select(User).order_by(User.created_at.desc()).limit(50)


def _users_with_posts(session: Any) -> dict[str, list[str]]:
    from sqlalchemy.orm import selectinload

    from ..models import User

    users = session.scalars(_newest_users().options(selectinload(User.posts))).all()
    return {user.email: [post.title for post in user.posts] for user in users}


def _users_with_posts_lazy(session: Any) -> dict[str, list[str]]:
    users = session.scalars(_newest_users()).all()
    return {user.email: [post.title for post in user.posts] for user in users}  # one query per user


def _users_with_posts_join_limit(session: Any) -> dict[str, list[str]]:
    from ..models import Post, User

    rows = session.execute(
        sa.select(User.email, Post.title).join(Post, Post.user_id == User.id)
        .order_by(User.created_at.desc()).limit(50)
    )
    result: dict[str, list[str]] = {}
    for email, title in rows:  # LIMIT counts joined rows, not users
        result.setdefault(email, []).append(title)
    return result


def _users_with_posts_including_deleted(session: Any) -> dict[str, list[str]]:
    from sqlalchemy.orm import selectinload

    from ..models import User

    users = session.scalars(
        _newest_users().options(selectinload(User.posts)).execution_options(include_deleted=True)
    ).all()
    return {user.email: [post.title for post in user.posts] for user in users}


class VisibleUsersExercise(StatementCountExercise):
    """A StatementCountExercise whose answer returns {email: ...}: a wrong result that has a key of a
    soft-deleted user gets told so."""

    def _problem(self, engine: Engine, answer: Any) -> str | None:
        if not callable(answer):
            return super()._problem(engine, answer)
        returned: list[Any] = []

        def recorded(session: Any) -> Any:
            returned.append(answer(session))
            return returned[-1]

        problem = super()._problem(engine, recorded)
        if problem is None or not returned or not isinstance(returned[-1], dict):
            return problem
        with engine.connect() as conn:
            hidden = conn.execute(
                sa.text("SELECT email FROM users WHERE deleted_at IS NOT NULL AND email = ANY(:emails) ORDER BY email"),
                {"emails": [str(key) for key in returned[-1]]},
            ).scalars().all()
        if hidden:
            problem += (
                f"\nYour result has {hidden[0]!r}, a soft-deleted user (deleted_at is set): the ORM hides such users, "
                "so leave out include_deleted (in hand-written SQL: WHERE deleted_at IS NULL)."
            )
        return problem


users_with_posts = VisibleUsersExercise(
    LESSON,
    "users_with_posts",
    task=(
        "Write answer(session) returning {email: [titles of that user's posts]} for the 50 most recently created "
        "users (latest created_at first, as the ORM loads them: soft-deleted users are hidden), users without posts "
        "included with [], sending at most 2 SQL statements."
    ),
    hints=[
        "Touching user.posts in a loop sends one query per user: that is the N+1 pattern.",
        "sa.select(User).order_by(User.created_at.desc()).limit(50).options(selectinload(User.posts)) loads the "
        "posts of all 50 users in one more statement.",
    ],
    solution=_users_with_posts,
    max_statements=2,
    normalise=lists_in_any_order,
    explanation=(
        "Two statements whatever the number of users: selectinload sends the users' query, then one "
        "SELECT ... WHERE user_id IN (...) for all of them (a LEFT JOIN in one statement works too)."
    ),
    mistakes=[
        Mistake(_users_with_posts_lazy, "51 statements"),
        Mistake(_users_with_posts_join_limit, "different result"),
        Mistake(_users_with_posts_including_deleted, "a soft-deleted user"),
    ],
)


# ---------------------------------------------------------------- 2. tags of recent posts


def _post_tag_names(session: Any) -> dict[str, list[str]]:
    from sqlalchemy.orm import selectinload

    from ..models import Post

    posts = session.scalars(
        sa.select(Post).order_by(Post.created_at.desc()).limit(20).options(selectinload(Post.tags))
    ).all()
    return {str(post.id): [tag.name for tag in post.tags] for post in posts}


def _post_tag_names_lazy(session: Any) -> dict[str, list[str]]:
    from ..models import Post

    posts = session.scalars(sa.select(Post).order_by(Post.created_at.desc()).limit(20)).all()
    return {str(post.id): [tag.name for tag in post.tags] for post in posts}


def _post_tag_names_inner_join(session: Any) -> dict[str, list[str]]:
    from ..models import Post, Tag, post_tags

    recent = sa.select(Post.id).order_by(Post.created_at.desc()).limit(20).subquery()
    rows = session.execute(
        sa.select(recent.c.id, Tag.name)
        .join(post_tags, post_tags.c.post_id == recent.c.id)
        .join(Tag, Tag.id == post_tags.c.tag_id)
    )
    result: dict[str, list[str]] = {}
    for post_id, name in rows:  # an inner join drops the posts without tags
        result.setdefault(str(post_id), []).append(name)
    return result


post_tag_names = StatementCountExercise(
    LESSON,
    "post_tag_names",
    task=(
        "Write answer(session) returning {post id: [names of its tags]} for the 20 most recent posts "
        "(latest created_at first), posts without tags included with [], sending at most 2 SQL statements."
    ),
    hints=[
        "Post.tags is a many-to-many relationship (through post_tags); touching it per post is N+1.",
        "options(selectinload(Post.tags)) loads the tags of all 20 posts in one statement that joins post_tags "
        "and tags. In plain SQL, a LEFT JOIN keeps the posts without tags.",
    ],
    solution=_post_tag_names,
    max_statements=2,
    normalise=lists_in_any_order,
    explanation=(
        "With selectinload, the second statement joins post_tags and tags for all 20 posts at once; "
        "a LEFT JOIN in one statement works too."
    ),
    mistakes=[
        Mistake(_post_tag_names_lazy, "21 statements"),
        Mistake(_post_tag_names_inner_join, "Missing key"),
    ],
)


# ---------------------------------------------------------------- 3. a DataLoader batch function

BatchFunction = Callable[[Sequence[uuid.UUID], Connection], Any]

# The authors of the 20 most recent posts, then an id no user has: a loader returns None for it.
_KEYS_SQL = """
SELECT user_id FROM (SELECT user_id, created_at FROM posts ORDER BY created_at DESC LIMIT 20) AS recent
UNION ALL SELECT '00000000-0000-0000-0000-000000000000'::uuid
"""
_EXPECTED_SQL = "SELECT id, email FROM users WHERE id = ANY(%(ids)s)"


async def _unwritten_batch(keys: list[Any], conn: Connection) -> list[Any]:
    raise NotImplementedError  # your code here


class BatchFunctionExercise(Exercise):
    """The answer is `async def batch(keys, conn)`, the batch function of a DataLoader.

    It must return one value per key, in the keys' order, and a DataLoader using it must turn the
    gathered loads of all keys into a single statement."""

    kind = "dataloader"
    blank_answer = staticmethod(_unwritten_batch)

    def __init__(self, lesson: str, name: str, *, keys_sql: str,
                 expected: Callable[[Connection, list[Any]], list[Any]],
                 normalise: Callable[[Any], Any] = lambda value: value, **kwargs: Any) -> None:
        super().__init__(lesson, name, **kwargs)
        self.keys_sql = keys_sql
        self.expected = expected
        self.normalise = normalise

    def _blank(self, answer: Any) -> bool:
        return answer is None or answer is ... or (isinstance(answer, str) and is_blank_sql(answer))

    def _problem(self, engine: Engine, answer: Any) -> str | None:
        if not callable(answer):
            return "pass your batch function itself (its name, without calling it)."
        if not inspect.iscoroutinefunction(answer):
            return "a DataLoader awaits its batch function: define it with `async def`."
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # the notebook's loop is already running
            return pool.submit(lambda: asyncio.run(self._check(engine, answer))).result()

    async def _check(self, engine: Engine, batch: BatchFunction) -> str | None:
        from aiodataloader import DataLoader

        with engine.connect() as conn:
            try:
                keys = [row[0] for row in conn.exec_driver_sql(self.keys_sql)]
                expected = [self.normalise(value) for value in self.expected(conn, keys)]
                try:
                    direct = await batch(keys, conn)
                except NotImplementedError as error:
                    raise NotAttempted from error
                if not isinstance(direct, (list, tuple)):
                    return (
                        f"your batch function returned a {type(direct).__name__}; a DataLoader needs a list "
                        "with one value per key, in the keys' order (build a dictionary, then [found.get(k) for k in keys])."
                    )
                if len(direct) != len(keys):
                    return (
                        f"your batch function returned {len(direct)} values for {len(keys)} keys: it must return one "
                        "value per key, in the keys' order (None, or an empty list, where a key has nothing)."
                    )
                got = [self.normalise(value) for value in direct]
                for position, (mine, theirs) in enumerate(zip(got, expected), start=1):
                    if mine != theirs:
                        return (
                            f"the value for key {position} (user {keys[position - 1]}) is {_short(mine)}, expected "
                            f"{_short(theirs)}. Values must come in the order of the keys, not the rows'."
                        )

                async def loader_run() -> list[Any]:
                    async def load_batch(batch_keys: list[Any]) -> Any:
                        return await batch(list(batch_keys), conn)

                    loader = DataLoader(load_batch)
                    return list(await asyncio.gather(*(loader.load(key) for key in keys)))

                with count_statements(engine) as log:
                    through_loader = await loader_run()
                if [self.normalise(value) for value in through_loader] != expected:
                    return "called through a DataLoader, your function gave other values than when called directly."
                if log.count > 1:
                    return (
                        f"a DataLoader with your batch function sent {log.count} statements for {len(keys)} gathered "
                        f"loads ({len(set(keys))} different keys); one is enough (WHERE id = ANY(...) or IN (...)):\n{log.summary()}"
                    )
                return None
            finally:
                conn.rollback()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _emails_by_id(conn: Connection, keys: list[Any]) -> list[Any]:
    emails = {key: email for key, email in conn.exec_driver_sql(_EXPECTED_SQL, {"ids": keys})}
    return [emails.get(key) for key in keys]


async def _emails_batch(user_ids: Sequence[uuid.UUID], conn: Connection) -> list[str | None]:
    rows = conn.execute(sa.text("SELECT id, email FROM users WHERE id = ANY(:ids)"), {"ids": list(user_ids)})
    emails = {user_id: email for user_id, email in rows}  # a dictionary: one pass, then one lookup per key
    return [emails.get(user_id) for user_id in user_ids]


async def _emails_batch_per_key(user_ids: Sequence[uuid.UUID], conn: Connection) -> list[str | None]:
    return [
        conn.execute(sa.text("SELECT email FROM users WHERE id = :id"), {"id": user_id}).scalar()
        for user_id in user_ids
    ]


async def _emails_batch_row_order(user_ids: Sequence[uuid.UUID], conn: Connection) -> list[str | None]:
    rows = conn.execute(sa.text("SELECT email FROM users WHERE id = ANY(:ids)"), {"ids": list(user_ids)})
    return list(rows.scalars())  # the rows' order, and nothing for an unknown id


async def _emails_batch_dict(user_ids: Sequence[uuid.UUID], conn: Connection) -> dict[uuid.UUID, str]:
    rows = conn.execute(sa.text("SELECT id, email FROM users WHERE id = ANY(:ids)"), {"ids": list(user_ids)})
    return {user_id: email for user_id, email in rows}


def _emails_batch_sync(user_ids: Sequence[uuid.UUID], conn: Connection) -> list[str | None]:
    rows = conn.execute(sa.text("SELECT id, email FROM users WHERE id = ANY(:ids)"), {"ids": list(user_ids)})
    emails = {user_id: email for user_id, email in rows}
    return [emails.get(user_id) for user_id in user_ids]


emails_batch = BatchFunctionExercise(
    LESSON,
    "emails_batch",
    task=(
        "Write `async def batch(user_ids, conn)`, the batch function of a user-email DataLoader: it gets a list "
        "of user ids and a SQLAlchemy connection, and returns a list with each id's email, in the order of the "
        "ids (None for an id no user has), sending ONE statement for all the ids."
    ),
    hints=[
        "One query for all keys: conn.execute(sa.text('SELECT id, email FROM users WHERE id = ANY(:ids)'), "
        "{'ids': list(user_ids)}).",
        "The rows come back in the server's order, not the keys': put them in a dictionary {id: email}, then "
        "return [emails.get(user_id) for user_id in user_ids].",
    ],
    solution=_emails_batch,
    keys_sql=_KEYS_SQL,
    expected=_emails_by_id,
    explanation=(
        "The checker called your function once directly, then through a DataLoader with all the loads gathered in "
        "one tick: they became one statement."
    ),
    mistakes=[
        Mistake(_emails_batch_per_key, "sent 20 statements"),
        Mistake(_emails_batch_row_order, "values for 21 keys"),
        Mistake(_emails_batch_dict, "returned a dict"),
        Mistake(_emails_batch_sync, "async def"),
    ],
)


# ---------------------------------------------------------------- 4. one query instead of a loop


latest_posts = ResultExercise(
    LESSON,
    "latest_posts",
    task=(
        "In ONE query (no loop), return each of the 10 earliest-created users' email with the titles of their "
        "3 most recent posts: columns email, title; one row per post (30 rows)."
    ),
    hints=[
        "'The 3 latest posts per user' is a LIMIT per user: a LIMIT at the end of the query counts all rows together.",
        "FROM (SELECT id, email FROM users ORDER BY created_at LIMIT 10) AS u CROSS JOIN LATERAL "
        "(SELECT title FROM posts WHERE user_id = u.id ORDER BY created_at DESC LIMIT 3) AS p",
    ],
    solution="""
SELECT u.email, p.title
FROM (SELECT id, email FROM users ORDER BY created_at LIMIT 10) AS u
CROSS JOIN LATERAL (
    SELECT title FROM posts WHERE posts.user_id = u.id ORDER BY created_at DESC LIMIT 3
) AS p
""",
    explanation=(
        "LATERAL runs the inner query once per user inside the server, each time through the index on "
        "posts.user_id: the loop still happens, but with no round trips."
    ),
    mistakes=[
        Mistake(
            "SELECT u.email, p.title FROM (SELECT id, email FROM users ORDER BY created_at LIMIT 10) u "
            "JOIN posts p ON p.user_id = u.id ORDER BY p.created_at DESC LIMIT 30",
            "first missing row",
        ),
        Mistake(
            "SELECT u.email, p.title FROM (SELECT id, email FROM users ORDER BY created_at LIMIT 10) u "
            "CROSS JOIN LATERAL (SELECT title FROM posts WHERE user_id = u.id ORDER BY created_at LIMIT 3) p",
            "first missing row",
        ),
        Mistake(
            "SELECT u.email, p.title FROM (SELECT id, email FROM users ORDER BY created_at LIMIT 10) u "
            "CROSS JOIN LATERAL (SELECT title FROM posts WHERE user_id = u.id ORDER BY created_at DESC LIMIT 1) p",
            "expected 30",
        ),
    ],
)

EXERCISES: list[Exercise] = [users_with_posts, post_tag_names, emails_batch, latest_posts]
