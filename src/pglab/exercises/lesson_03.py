"""Lesson 03: ORM models. Associations within a statement budget, soft delete, and the database
constraint that backs an ORM validation."""
from __future__ import annotations

from ..models import EMAIL
from . import (
    Mistake, ResultExercise, SchemaExercise, StatementCountExercise, Trial, accepted_values, accepts,
    as_list, lists_in_any_order, rejects,
)

LESSON = "03_orm_models"
AUTHOR = "ada.allen31095@example.com"  # 4 posts, one of them without tags, and a profile


# ---------------------------------------------------------------- 1. associations in 3 statements


_TAGS_BY_POST = f"""
import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from pglab.models import Post, User

def answer(session):
    user = session.scalars(
        sa.select(User)
        .where(User.email == "{AUTHOR}")
        .options(selectinload(User.posts).selectinload(Post.tags))
    ).one()
    return {{post.title: sorted(tag.name for tag in post.tags) for post in user.posts}}
"""

_TAGS_LAZY = f"""
import sqlalchemy as sa
from pglab.models import User

def answer(session):
    user = session.scalars(sa.select(User).where(User.email == "{AUTHOR}")).one()
    return {{post.title: sorted(tag.name for tag in post.tags) for post in user.posts}}  # one query per post
"""

_TAGS_INNER_JOIN = f"""
import sqlalchemy as sa
from pglab.models import Post, Tag, User

def answer(session):
    rows = session.execute(
        sa.select(Post.title, Tag.name).join(Post.author).join(Post.tags).where(User.email == "{AUTHOR}")
    )
    found = {{}}
    for title, name in rows:
        found.setdefault(title, []).append(name)
    return found
"""


tags_by_post = StatementCountExercise(
    LESSON,
    "tags_by_post",
    task="""
Write `answer(session)` returning `{post title: list of its tag names}` for **every** post of the user
`ada.allen31095@example.com` (a post without tags maps to `[]`), sending **at most 3** SQL statements.
""",
    hints=[
        "Touching post.tags inside a loop over user.posts sends one SELECT per post.",
        "Load the user with .options(selectinload(User.posts).selectinload(Post.tags)): one statement per level "
        "(for up to 500 parents at a time).",
        "An inner JOIN from posts to tags drops the posts that have no tags.",
    ],
    solution=_TAGS_BY_POST,
    max_statements=3,
    normalise=lists_in_any_order,
    explanation=(
        "Eager loading keeps the number of statements from growing with the posts: selectinload sends one statement "
        "per level of relationship (each IN list holds up to 500 parents), joinedload one JOINed statement."
    ),
    mistakes=[
        Mistake(_TAGS_LAZY, "6 statements"),
        Mistake(_TAGS_INNER_JOIN, "Missing key"),
    ],
    alternatives=[
        f"""
import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from pglab.models import Post, User

def answer(session):
    user = session.scalars(sa.select(User).where(User.email == "{AUTHOR}")
                           .options(joinedload(User.posts).joinedload(Post.tags))).unique().one()
    return {{post.title: [tag.name for tag in post.tags] for post in user.posts}}
""",
        f"""
import sqlalchemy as sa

def answer(session):
    rows = session.execute(sa.text(
        "SELECT p.title, t.name FROM users u JOIN posts p ON p.user_id = u.id "
        "LEFT JOIN post_tags pt ON pt.post_id = p.id LEFT JOIN tags t ON t.id = pt.tag_id "
        "WHERE u.email = :email"), {{"email": "{AUTHOR}"}})
    result = {{}}
    for title, tag in rows:
        result.setdefault(title, [])
        if tag is not None:
            result[title].append(tag)
    return result
""",
    ],
)


# ---------------------------------------------------------------- 2. soft delete: include the hidden rows


_DELETED_ADMINS = """
import sqlalchemy as sa
from pglab.models import User

def answer(session):
    statement = (
        sa.select(User.email)
        .where(User.role == "admin", User.deleted_at.is_not(None))
        .execution_options(include_deleted=True)
    )
    return sorted(session.scalars(statement))
"""

_DELETED_ADMINS_HIDDEN = """
import sqlalchemy as sa
from pglab.models import User

def answer(session):
    statement = sa.select(User.email).where(User.role == "admin", User.deleted_at.is_not(None))
    return sorted(session.scalars(statement))  # the soft-delete filter hides exactly these rows
"""

_ALL_ADMINS = """
import sqlalchemy as sa
from pglab.models import User

def answer(session):
    statement = sa.select(User.email).where(User.role == "admin").execution_options(include_deleted=True)
    return sorted(session.scalars(statement))
"""


deleted_admins = StatementCountExercise(
    LESSON,
    "deleted_admins",
    task="""
Write `answer(session)` returning the **sorted list of emails of the admins who are soft-deleted**, with an
ORM query (`select(User...)`) in one statement.
""",
    hints=[
        "An ordinary ORM query never returns soft-deleted rows: the do_orm_execute hook adds deleted_at IS NULL.",
        "Ask for the hidden rows with .execution_options(include_deleted=True), then filter deleted_at IS NOT NULL.",
    ],
    solution=_DELETED_ADMINS,
    max_statements=1,
    normalise=as_list,
    explanation="include_deleted=True switches the hook off for one statement; your WHERE clause does the rest.",
    mistakes=[
        Mistake(_DELETED_ADMINS_HIDDEN, "You returned 0 items, expected 7"),
        Mistake(_ALL_ADMINS, "You returned 1017 items, expected 7"),
        Mistake(_DELETED_ADMINS.replace("sorted(session.scalars(statement))",
                                        "sorted(session.scalars(statement), reverse=True)"), "another order"),
    ],
    alternatives=["""
from sqlalchemy import select
from pglab.models import User

def answer(session):
    admins = session.scalars(
        select(User).where(User.role == "admin").where(User.deleted_at != None)  # noqa: E711
        .order_by(User.email).execution_options(include_deleted=True))
    return [admin.email for admin in admins]
"""],
)


# ---------------------------------------------------------------- 3. SQL: what the hook writes


visible_per_role = ResultExercise(
    LESSON,
    "visible_per_role",
    task="""
In SQL: the query that `session.execute(select(User.role, func.count()).group_by(User.role))` really sends
through the lab's session: two columns, each role and then its number of users that are **not** soft-deleted.
""",
    hints=[
        "The hook adds one condition on users.deleted_at to the WHERE clause.",
        "A missing value is tested with IS NULL; = NULL is never true.",
    ],
    solution="SELECT role, count(*) AS users FROM users WHERE deleted_at IS NULL GROUP BY role",
    explanation="This is what Sequelize's paranoid mode and the lab's hook add to every query on users.",
    mistakes=[
        Mistake("VALUES ('admin', 1010), ('user', 988996)", "not after three admins"),
        Mistake("SELECT role, count(*) FROM users GROUP BY role", "first missing row"),
        Mistake("SELECT role, count(*) FROM users WHERE deleted_at = NULL GROUP BY role", "your result has 0 rows"),
        Mistake("SELECT role, count(*) FROM users WHERE deleted_at IS NOT NULL GROUP BY role", "first missing row"),
    ],
    alternatives=[
        "SELECT role, count(*) FILTER (WHERE deleted_at IS NULL) FROM users GROUP BY role",
        "SELECT users.role, count(users.id) FROM users WHERE users.deleted_at IS NULL GROUP BY users.role ORDER BY 1",
    ],
    variations=[("three admins are soft-deleted", "UPDATE users SET deleted_at = now() WHERE id IN (SELECT id FROM users WHERE role = 'admin' "
                 "AND deleted_at IS NULL ORDER BY email LIMIT 3)")],
)


# ---------------------------------------------------------------- 4. the constraint behind @validates


def _literal(email: str) -> str:
    """A SQL literal for the address; a tab or a newline is written E'...\\t...' so the probe stays readable."""
    if "\t" in email or "\n" in email:
        return "E'" + email.replace("\t", "\\t").replace("\n", "\\n") + "'"
    return f"'{email}'"


def _insert(email: str) -> str:
    return f"INSERT INTO users (email, password_hash) VALUES ({_literal(email)}, 'x')"


# The addresses email_check probes. The model's own EMAIL pattern (pglab.models) must reject every one of
# REJECTED_EMAILS and accept ACCEPTED_EMAIL: the notebook claims it on every run.
REJECTED_EMAILS: dict[str, str] = {
    "not-an-email": "an address without @ must be rejected",
    "ada lovelace@example.com": "an address with a space must be rejected",
    "ada@localhost": "an address whose domain has no dot must be rejected",
    "ada@@example.com": "an address with two @ must be rejected",
    "ada@example.": "an address that ends with the dot (nothing after it) must be rejected",
    "ada@.com": "an address with nothing between the @ and the dot must be rejected",
    "ada\tlovelace@example.com": "an address with a tab (\\s is any white space, not only a space) must be rejected",
    "ada@example.com\n": "an address with a newline at its end must be rejected (PostgreSQL's $ is the end of the value)",
}
ACCEPTED_EMAIL = "ada.lovelace@example.com"

# Beyond the classes above: every combination of these parts, and characters a local part may hold. The model's
# pattern (with re.ASCII) decides which must be rejected; a CHECK must agree on every one. Control characters and
# non-breaking spaces are not white space to either (\x1c-\x1f, U+0085, U+00A0, U+2007). Left out: spaces beyond
# ASCII such as U+2003, which PostgreSQL's \s matches under the server's locale (C.UTF-8 here) and re.ASCII does not.
_LOCALS = ["", "ada", "a.b", "a-b+c", "a b", "a\tb", "a\nb", "a@b", "ada_l", "ada42", "o'brien", "ada!", "a+tag",
           "a\x1cb", "a\x1fb", "a\x85b", "a\xa0b", "a\u2007b"]
_DOMAINS = ["", "example", "example.", ".com", "example.com", "a.b.c", "x.y", "exa mple.com", "ex\tample.com",
            "example..com", "example.com ", "@example.com", "example.c0m", "-.-"]
EMAIL_CORPUS = sorted({f"{local}@{domain}" for local in _LOCALS for domain in _DOMAINS}
                      | {"no-at-sign", "", " ", "ada@@example.com", "ada.example.com", "@", "a@b@c.d",
                         "ada@example.com\n", "\nada@example.com", "ada@example.com\r", "ada\x0bx@example.com",
                         "ada\x0cx@example.com"})


def _not_valid_problem(trial: Trial) -> str | None:
    """A NOT VALID constraint skips the rows already there; the task says they must pass: validate it here."""
    assert trial.conn is not None
    names = trial.conn.exec_driver_sql(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'c' "
        "AND NOT convalidated").scalars().all()
    for name in names:
        savepoint = trial.conn.begin_nested()
        try:
            trial.conn.exec_driver_sql(f'ALTER TABLE users VALIDATE CONSTRAINT "{name}"')
        except Exception:
            savepoint.rollback()
            return (f"your constraint {name} is NOT VALID, and emails already in the table break it (VALIDATE "
                    "CONSTRAINT fails): every email already there must stay accepted.")
        savepoint.rollback()
    return None


def _agrees_with_the_model(trial: Trial) -> str | None:
    assert trial.conn is not None
    accepted = accepted_values(trial.conn, "INSERT INTO users (email, password_hash) VALUES ($1, 'x')", EMAIL_CORPUS)
    for email in EMAIL_CORPUS:
        model_accepts = EMAIL.fullmatch(email) is not None
        if accepted[email] != model_accepts:
            verdict, model = ("accepts", "rejects") if accepted[email] else ("rejects", "accepts")
            return (f"your constraint {verdict} {email!r}, which the model's pattern {model}: the two must agree on "
                    "every address, or a row the ORM refuses still gets in (or one it allows is refused).")
    return None


email_check = SchemaExercise(
    LESSON,
    "email_check",
    task='''
Add a constraint to `users` so that the **database** rejects the addresses the model's `EMAIL` pattern rejects
(no `@`, two `@`, a space, a tab or a newline, no dot in the domain, nothing before or after that dot), while
`'ada.lovelace@example.com'` and every email already in the table are still accepted. The answer cell is a raw string
(`r"""..."""`), so a backslash such as `\\s` reaches PostgreSQL as you typed it. The check tries these
addresses; the model's own pattern agrees with each verdict:
''',
    hints=[
        "ALTER TABLE users ADD CONSTRAINT users_email_format CHECK (...)",
        "PostgreSQL's ~ operator matches a POSIX regular expression; anchor it with ^ and $ so the whole value must match.",
        "Each part needs at least one character: + (one or more), not * (zero or more); \\s is any white space.",
        "The ORM's pattern is ^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
    ],
    solution=(
        "ALTER TABLE users ADD CONSTRAINT users_email_format\n"
        "  CHECK (email ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$')"
    ),
    requirements=[
        *(rejects(_insert(email), why=why) for email, why in REJECTED_EMAILS.items()),
        accepts(_insert(ACCEPTED_EMAIL), why="a well-formed address must still be accepted"),
        _agrees_with_the_model,
        _not_valid_problem,
    ],
    explanation=(
        "Now the rule holds whatever path the data takes: ORM, bulk statement, psql or another service. "
        "Keep @validates too: it fails earlier, with a friendlier message."
    ),
    mistakes=[
        Mistake("ALTER TABLE users ADD CHECK (email <> '')", "without @"),
        Mistake("ALTER TABLE users ADD CHECK (email LIKE '%@%')", "with a space"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')", "with a space"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '^[^@\\s]+@[^@\\s]+$')", "no dot"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]*$')", "nothing after it"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '^[^@\\s]+@[^@\\s]*\\.[^@\\s]+$')",
                "nothing between the @ and the dot"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '^[^@ ]+@[^@ ]+\\.[^@ ]+$')", "with a tab"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+')",
                "newline at its end"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '^\\S+@\\S+\\.\\S+$')", "two @"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '^[^@\\s_]+@[^@\\s]+\\.[^@\\s]+$')", "ada_l@"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$' AND created_at > '2026-06-01') "
                "NOT VALID", "NOT VALID"),
        Mistake("ALTER TABLE users ADD CHECK (email ~ '^[a-z0-9.+-]+@[^@\\s]+\\.[^@\\s]+$')", "rejects 'a\\x1cb@"),
    ],
    alternatives=[
        "ALTER TABLE users ADD CONSTRAINT email_shape CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+[.][^@[:space:]]+$')",
        "ALTER TABLE users ADD CHECK (email ~ '\\A[^@\\s]+@[^@\\s]+\\.[^@\\s]+\\Z')",
        "ALTER TABLE users ADD CHECK (email ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$') NOT VALID",
        "CREATE DOMAIN email_address AS varchar(255) CHECK (VALUE ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'); "
        "ALTER TABLE users ALTER COLUMN email TYPE email_address",
    ],
)

EXERCISES = [tags_by_post, deleted_admins, visible_per_role, email_check]
