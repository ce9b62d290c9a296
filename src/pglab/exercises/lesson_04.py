"""Lesson 04: the N+1 problem. Two statement-count exercises, a DataLoader batch function, one query
that replaces a loop (LATERAL)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from . import (
    BatchFunctionExercise, Exercise, Mistake, ResultExercise, StatementCountExercise, lists_in_any_order,
    soft_deleted_keys,
)

LESSON = "04_n_plus_one"


# ---------------------------------------------------------------- 1. users with their posts
# The 50 most recently created users: the 48th of the dataset's newest users is soft-deleted, so an answer
# that shows soft-deleted users (include_deleted, or SQL without deleted_at IS NULL) returns other keys.

_USERS_WITH_POSTS = """
import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from pglab.models import User

def answer(session):
    newest = sa.select(User).order_by(User.created_at.desc()).limit(50)
    users = session.scalars(newest.options(selectinload(User.posts))).all()
    return {user.email: [post.title for post in user.posts] for user in users}
"""

_USERS_WITH_POSTS_LAZY = """
import sqlalchemy as sa
from pglab.models import User

def answer(session):
    users = session.scalars(sa.select(User).order_by(User.created_at.desc()).limit(50)).all()
    return {user.email: [post.title for post in user.posts] for user in users}  # one query per user
"""

_USERS_WITH_POSTS_JOIN_LIMIT = """
import sqlalchemy as sa
from pglab.models import Post, User

def answer(session):
    rows = session.execute(
        sa.select(User.email, Post.title).join(Post, Post.user_id == User.id)
        .order_by(User.created_at.desc()).limit(50)
    )
    result = {}
    for email, title in rows:  # LIMIT counts joined rows, not users
        result.setdefault(email, []).append(title)
    return result
"""

_USERS_WITH_POSTS_INCLUDING_DELETED = """
import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from pglab.models import User

def answer(session):
    newest = sa.select(User).order_by(User.created_at.desc()).limit(50)
    users = session.scalars(
        newest.options(selectinload(User.posts)).execution_options(include_deleted=True)
    ).all()
    return {user.email: [post.title for post in user.posts] for user in users}
"""

users_with_posts = StatementCountExercise(
    LESSON,
    "users_with_posts",
    task="""
Write `answer(session)` returning `{email: [titles of that user's posts]}` for the 50 most recently
created users (latest `created_at` first; as the ORM loads them, so soft-deleted users are hidden), users
without posts with `[]`,
sending **at most 2** statements.
""",
    hints=[
        "Touching user.posts in a loop sends one query per user: that is the N+1 pattern.",
        "sa.select(User).order_by(User.created_at.desc()).limit(50).options(selectinload(User.posts)) loads the "
        "posts of all 50 users in one more statement.",
    ],
    solution=_USERS_WITH_POSTS,
    max_statements=2,
    normalise=lists_in_any_order,
    diagnoses=[soft_deleted_keys],
    explanation=(
        "selectinload sends the users' query, then SELECT ... WHERE user_id IN (...) for up to 500 users at a "
        "time: two statements here, one more per further 500 users. One statement works too, if a subquery picks "
        "the 50 users before a LEFT JOIN adds their posts (a LIMIT after the join would count joined rows)."
    ),
    mistakes=[
        Mistake(_USERS_WITH_POSTS_LAZY, "51 statements"),
        Mistake(_USERS_WITH_POSTS_JOIN_LIMIT, "different result"),
        Mistake(_USERS_WITH_POSTS_INCLUDING_DELETED, "a soft-deleted user"),
    ],
    alternatives=["""
import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from pglab.models import User

def answer(session):
    users = session.scalars(
        sa.select(User).options(joinedload(User.posts)).order_by(User.created_at.desc()).limit(50)
    ).unique().all()
    return {user.email: [post.title for post in user.posts] for user in users}
"""],
)


# ---------------------------------------------------------------- 2. tags of recent posts

_POST_TAG_NAMES = """
import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from pglab.models import Post

def answer(session):
    posts = session.scalars(
        sa.select(Post).order_by(Post.created_at.desc()).limit(20).options(selectinload(Post.tags))
    ).all()
    return {str(post.id): [tag.name for tag in post.tags] for post in posts}
"""

_POST_TAG_NAMES_LAZY = """
import sqlalchemy as sa
from pglab.models import Post

def answer(session):
    posts = session.scalars(sa.select(Post).order_by(Post.created_at.desc()).limit(20)).all()
    return {str(post.id): [tag.name for tag in post.tags] for post in posts}
"""

_POST_TAG_NAMES_INNER_JOIN = """
import sqlalchemy as sa
from pglab.models import Post, Tag, post_tags

def answer(session):
    recent = sa.select(Post.id).order_by(Post.created_at.desc()).limit(20).subquery()
    rows = session.execute(
        sa.select(recent.c.id, Tag.name)
        .join(post_tags, post_tags.c.post_id == recent.c.id)
        .join(Tag, Tag.id == post_tags.c.tag_id)
    )
    result = {}
    for post_id, name in rows:  # an inner join drops the posts without tags
        result.setdefault(str(post_id), []).append(name)
    return result
"""

post_tag_names = StatementCountExercise(
    LESSON,
    "post_tag_names",
    task="""
Write `answer(session)` returning `{post id: [names of its tags]}` for the 20 most recent posts (latest
`created_at` first), posts without tags with `[]`, sending **at most 2** statements. `Post.tags` is a
many-to-many relationship.
""",
    hints=[
        "Post.tags is a many-to-many relationship (through post_tags); touching it per post is N+1.",
        "options(selectinload(Post.tags)) loads the tags of all 20 posts in one statement that joins post_tags "
        "and tags. In plain SQL, a LEFT JOIN keeps the posts without tags.",
    ],
    solution=_POST_TAG_NAMES,
    max_statements=2,
    normalise=lists_in_any_order,
    explanation=(
        "With selectinload, the second statement joins post_tags and tags for all 20 posts at once (up to 500 "
        "posts per statement); a LEFT JOIN from the 20 posts in one statement works too."
    ),
    mistakes=[
        Mistake(_POST_TAG_NAMES_LAZY, "21 statements"),
        Mistake(_POST_TAG_NAMES_INNER_JOIN, "Missing key"),
    ],
    alternatives=["""
import sqlalchemy as sa
from pglab.models import Post, Tag, post_tags

def answer(session):
    recent = sa.select(Post.id).order_by(Post.created_at.desc()).limit(20).subquery()
    rows = session.execute(
        sa.select(recent.c.id, Tag.name)
        .outerjoin(post_tags, post_tags.c.post_id == recent.c.id)
        .outerjoin(Tag, Tag.id == post_tags.c.tag_id)
    )
    result = {}
    for post_id, name in rows:
        result.setdefault(str(post_id), [])
        if name is not None:
            result[str(post_id)].append(name)
    return result
"""],
)


# ---------------------------------------------------------------- 3. a DataLoader batch function

# The authors of the 20 most recent posts, then an id no user has: a loader returns None for it.
_KEYS_SQL = """
SELECT user_id FROM (SELECT user_id, created_at FROM posts ORDER BY created_at DESC LIMIT 20) AS recent
UNION ALL SELECT '00000000-0000-0000-0000-000000000000'::uuid
"""


def _emails_by_id(conn: Connection, keys: list[Any]) -> list[Any]:
    rows = conn.exec_driver_sql("SELECT id, email FROM users WHERE id = ANY(%(ids)s)", {"ids": keys})
    emails = {key: email for key, email in rows}
    return [emails.get(key) for key in keys]


_EMAILS_BATCH = """
import sqlalchemy as sa

async def batch(user_ids, conn):
    rows = conn.execute(sa.text("SELECT id, email FROM users WHERE id = ANY(:ids)"), {"ids": list(user_ids)})
    emails = {user_id: email for user_id, email in rows}  # a dictionary: one pass, then one lookup per key
    return [emails.get(user_id) for user_id in user_ids]
"""

_EMAILS_BATCH_PER_KEY = """
import sqlalchemy as sa

async def batch(user_ids, conn):
    return [
        conn.execute(sa.text("SELECT email FROM users WHERE id = :id"), {"id": user_id}).scalar()
        for user_id in user_ids
    ]
"""

_EMAILS_BATCH_ROW_ORDER = """
import sqlalchemy as sa

async def batch(user_ids, conn):
    rows = conn.execute(sa.text("SELECT email FROM users WHERE id = ANY(:ids)"), {"ids": list(user_ids)})
    return list(rows.scalars())  # the rows' order, and nothing for an unknown id
"""

_EMAILS_BATCH_DICT = """
import sqlalchemy as sa

async def batch(user_ids, conn):
    rows = conn.execute(sa.text("SELECT id, email FROM users WHERE id = ANY(:ids)"), {"ids": list(user_ids)})
    return {user_id: email for user_id, email in rows}
"""

_EMAILS_BATCH_SYNC = """
import sqlalchemy as sa

def batch(user_ids, conn):
    rows = conn.execute(sa.text("SELECT id, email FROM users WHERE id = ANY(:ids)"), {"ids": list(user_ids)})
    emails = {user_id: email for user_id, email in rows}
    return [emails.get(user_id) for user_id in user_ids]
"""

emails_batch = BatchFunctionExercise(
    LESSON,
    "emails_batch",
    task="""
Write `async def batch(user_ids, conn)`, the batch function of a user-email DataLoader: it gets a list
of user ids and a SQLAlchemy connection (`conn.execute(sa.text(...), {...})`), and returns a list with
each id's email **in the order of the ids** (`None` for an id no user has), with **one** statement for all ids.
The checker calls it directly, then through a `DataLoader` with gathered loads.
""",
    hints=[
        "One query for all keys: conn.execute(sa.text('SELECT id, email FROM users WHERE id = ANY(:ids)'), "
        "{'ids': list(user_ids)}).",
        "The rows come back in the server's order, not the keys': put them in a dictionary {id: email}, then "
        "return [emails.get(user_id) for user_id in user_ids].",
    ],
    solution=_EMAILS_BATCH,
    keys_sql=_KEYS_SQL,
    expected=_emails_by_id,
    explanation=(
        "The checker called your function once directly, then through a DataLoader with all the loads gathered in "
        "one tick: they became one statement."
    ),
    mistakes=[
        Mistake("""
import sqlalchemy as sa

async def batch(user_ids, conn):
    found = dict(conn.execute(sa.text(
        "SELECT id, email FROM users WHERE id IN (SELECT user_id FROM posts ORDER BY created_at DESC LIMIT 20)")).all())
    return [found.get(key) for key in user_ids]
""", "called again with other keys"),
        Mistake(_EMAILS_BATCH_PER_KEY, "sent 20 statements"),
        Mistake(_EMAILS_BATCH_ROW_ORDER, "values for 21 keys"),
        Mistake(_EMAILS_BATCH_DICT, "returned a dict"),
        Mistake(_EMAILS_BATCH_SYNC, "async def"),
    ],
    alternatives=["""
import sqlalchemy as sa
from pglab.models import User

async def batch(user_ids, conn):
    found = dict(conn.execute(sa.select(User.id, User.email).where(User.id.in_(list(user_ids)))).all())
    return [found.get(key) for key in user_ids]
"""],
)


# ---------------------------------------------------------------- 4. one query instead of a loop


latest_posts = ResultExercise(
    LESSON,
    "latest_posts",
    task="""
The loop "for each user, fetch their 3 latest posts" can run inside the database instead. In **one** query,
return each of the 10 earliest-created users' `email` with the `title` of each of their 3 most recent
posts: one row per post (30 rows).
""",
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
    alternatives=[
        """SELECT email, title FROM (
             SELECT u.email, p.title, row_number() OVER (PARTITION BY u.id ORDER BY p.created_at DESC) AS n
             FROM (SELECT id, email FROM users ORDER BY created_at LIMIT 10) u JOIN posts p ON p.user_id = u.id
           ) ranked WHERE n <= 3""",
        """SELECT u.email, p.title FROM (SELECT id, email FROM users ORDER BY created_at FETCH FIRST 10 ROWS ONLY) u,
           LATERAL (SELECT title FROM posts WHERE user_id = u.id ORDER BY created_at DESC LIMIT 3) p
           ORDER BY u.email""",
    ],
    variations=[("the earliest user writes a new post", "INSERT INTO posts (user_id, title, created_at) SELECT id, 'Brand new', now() FROM users "
                 "ORDER BY created_at LIMIT 1")],
)

EXERCISES: list[Exercise] = [users_with_posts, post_tag_names, emails_batch, latest_posts]
