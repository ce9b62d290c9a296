"""Lesson 02: relationships. Foreign keys need their own index, what ON DELETE does, the junction
table, one-to-one."""
from __future__ import annotations

from sqlalchemy.engine import Connection

from ..errors import short_message
from ..explain import Plan
from .base import (
    Mistake, PlanExercise, ResultExercise, SchemaExercise, probe, run_script, accepts, has_column, rejects,
)

LESSON = "02_relationships"

# ---------------------------------------------------------------- a plan: make the cascade fast

_CASCADE_TARGET = "DELETE FROM comments WHERE user_id = '8f1c6a2e-3b4d-4e5f-9a0b-1c2d3e4f5a6b'"


def _index_searches_user_id(plan: Plan) -> str | None:
    """The delete must find the rows through an index whose condition is on user_id (not a full scan)."""
    for node in plan.nodes():
        if node.index and "user_id" in str(node.raw.get("Index Cond", "")):
            return None
    if plan.seq_scans_on("comments"):
        return (
            "the plan still reads all of comments with a Seq Scan, once for every deleted user. A foreign key "
            "does not create an index: create one whose first column is the foreign key column."
        )
    return (
        "the plan reads an index but does not search it by user_id: an index helps a lookup only if it "
        "starts with the column the lookup is on."
    )


cascade_index = PlanExercise(
    LESSON,
    "cascade_index",
    task=(
        "In this exercise comments has no index on user_id (the checker drops idx_comments_user_id first). "
        "Deleting a user makes PostgreSQL run, for the foreign key comments.user_id ... ON DELETE CASCADE:\n"
        "    DELETE FROM comments WHERE user_id = <the user's id>\n"
        "Make that statement find the user's comments without reading the whole table."
    ),
    hints=[
        "The cascade looks comments up by user_id. What lets PostgreSQL find rows by a column without reading them all?",
        "CREATE INDEX ... ON comments (user_id): the foreign key column must be the index's first column.",
    ],
    solution="CREATE INDEX idx_comments_user_id ON comments (user_id)",
    setup="DROP INDEX idx_comments_user_id",
    target=_CASCADE_TARGET,
    plan_requirements=[_index_searches_user_id],
    explanation=(
        "With an index on comments(user_id), each deleted user costs an index lookup instead of a scan of "
        "every comment. Any index whose first column is user_id works, e.g. (user_id, created_at)."
    ),
    mistakes=[
        Mistake(
            "ALTER TABLE comments ADD CONSTRAINT comments_author_fkey FOREIGN KEY (user_id) "
            "REFERENCES users (id) ON DELETE CASCADE",
            "does not create an index",
        ),
        Mistake("CREATE INDEX ON comments (post_id, user_id)", "Seq Scan"),
        Mistake("CREATE INDEX ON users (id, email)", "Seq Scan"),
    ],
)

# ---------------------------------------------------------------- a result: the junction table

co_tags = ResultExercise(
    LESSON,
    "co_tags",
    task=(
        "Posts tagged 'rust' usually carry other tags too. List the 5 other tags found most often on the "
        "same posts as 'rust': the tag's name and the number of 'rust' posts it is on, most first."
    ),
    hints=[
        "Go through the junction table twice: post_tags rows for 'rust' give the posts, and post_tags rows "
        "with the same post_id give those posts' tags.",
        "JOIN post_tags AS theirs ON theirs.post_id = mine.post_id, leave out 'rust' itself, then "
        "GROUP BY the other tag's name, ORDER BY the count DESC, LIMIT 5.",
    ],
    solution="""
SELECT other.name, count(*) AS posts
FROM tags AS rust
JOIN post_tags AS mine   ON mine.tag_id = rust.id
JOIN post_tags AS theirs ON theirs.post_id = mine.post_id AND theirs.tag_id <> rust.id
JOIN tags AS other       ON other.id = theirs.tag_id
WHERE rust.name = 'rust'
GROUP BY other.name
ORDER BY posts DESC
LIMIT 5
""",
    ordered=True,
    explanation="A many-to-many relationship is two one-to-many joins through the junction table; joining it to itself on post_id pairs the tags of each post.",
    mistakes=[
        Mistake(
            """SELECT other.name, count(*) FROM tags rust
               JOIN post_tags mine ON mine.tag_id = rust.id
               JOIN post_tags theirs ON theirs.post_id = mine.post_id
               JOIN tags other ON other.id = theirs.tag_id
               WHERE rust.name = 'rust' GROUP BY other.name ORDER BY count(*) DESC LIMIT 5""",
            "first unexpected row: (name='rust'",
        ),
        Mistake(
            """SELECT other.name, count(*) FROM tags rust
               JOIN post_tags mine ON mine.tag_id = rust.id
               JOIN post_tags theirs ON theirs.post_id = mine.post_id AND theirs.tag_id <> rust.id
               JOIN tags other ON other.id = theirs.tag_id
               WHERE rust.name = 'rust' GROUP BY other.name ORDER BY count(*) DESC""",
            "expected 5",
        ),
        Mistake(
            """SELECT t.name, count(*) FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
               WHERE t.name <> 'rust' GROUP BY t.name ORDER BY count(*) DESC LIMIT 5""",
            "first missing row",
        ),
    ],
)

# ---------------------------------------------------------------- a schema: one-to-one

_FIRST_USER = "(SELECT id FROM users ORDER BY email LIMIT 1)"

one_settings_row = SchemaExercise(
    LESSON,
    "one_settings_row",
    task=(
        "Create a table user_settings for a one-to-one relationship with users: a column user_id (uuid) "
        "that must be an existing user, a column theme (text), and never more than one row per user."
    ),
    hints=[
        "A plain foreign key allows any number of rows per user: something must make user_id unique.",
        "Either user_id uuid PRIMARY KEY REFERENCES users(id) (a shared primary key), or a separate id "
        "with user_id uuid NOT NULL UNIQUE REFERENCES users(id).",
    ],
    solution="""
CREATE TABLE user_settings (
  user_id uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  theme   text NOT NULL DEFAULT 'light'
)
""",
    requirements=[
        has_column("user_settings", "user_id", type_prefix="uuid"),
        has_column("user_settings", "theme"),
        accepts(
            "INSERT INTO user_settings (user_id, theme) SELECT id, 'dark' FROM users ORDER BY email LIMIT 2",
            why="each user may have one settings row",
        ),
        rejects(
            f"INSERT INTO user_settings (user_id, theme) SELECT {_FIRST_USER}, theme "
            "FROM (VALUES ('dark'), ('light')) AS v(theme)",
            why="a user must have at most one settings row (user_id must be unique)",
        ),
        rejects(
            "INSERT INTO user_settings (user_id, theme) VALUES ('00000000-0000-0000-0000-000000000000', 'dark')",
            why="user_id must reference an existing user (a foreign key)",
        ),
        rejects(
            "INSERT INTO user_settings (user_id, theme) VALUES (NULL, 'dark')",
            why="every settings row belongs to a user (user_id NOT NULL)",
        ),
    ],
    explanation=(
        "A UNIQUE foreign key and a shared primary key both allow one row per user; the shared primary key "
        "needs one index instead of two. Neither forces every user to have a row."
    ),
    mistakes=[
        Mistake(
            "CREATE TABLE user_settings (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "user_id uuid NOT NULL REFERENCES users(id), theme text)",
            "at most one settings row",
        ),
        Mistake(
            "CREATE TABLE user_settings (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "user_id uuid NOT NULL REFERENCES users(id), theme text, UNIQUE (user_id, theme))",
            "at most one settings row",
        ),
        Mistake(
            "CREATE TABLE user_settings (user_id uuid PRIMARY KEY, theme text)",
            "must reference an existing user",
        ),
    ],
)

# ---------------------------------------------------------------- a schema: ON DELETE SET NULL

_TASK_ROWS = f"""
DELETE FROM tasks;
INSERT INTO tasks (id, title, assignee_id)
SELECT n, 'task ' || n, {_FIRST_USER} FROM generate_series(1, 3) AS n;
INSERT INTO tasks (id, title, assignee_id)
SELECT 4, 'task 4', id FROM users ORDER BY email OFFSET 1 LIMIT 1;
"""
_TASKS_SETUP = """
CREATE TABLE tasks (
  id          int PRIMARY KEY,
  title       text NOT NULL,
  assignee_id uuid
);
""" + _TASK_ROWS


def _deleting_assignee_unassigns(conn: Connection) -> str | None:
    savepoint = conn.begin_nested()
    try:
        try:
            run_script(conn, _TASK_ROWS)  # the same four tasks, even if the answer recreated the table
        except Exception as error:
            return f"the checker could not insert tasks (id, title, assignee_id): {short_message(error)}"
        try:
            run_script(conn, f"DELETE FROM users WHERE id = {_FIRST_USER}")
        except Exception as error:
            return f"deleting a user who has tasks failed ({short_message(error)}); the tasks should stay, unassigned."
        left = conn.exec_driver_sql("SELECT count(*) FROM tasks").scalar_one()
        if left < 4:
            return (
                f"deleting the user deleted {4 - left} of their tasks; the tasks should stay, with no assignee "
                "(ON DELETE CASCADE deletes, ON DELETE SET NULL unassigns)."
            )
        unassigned = conn.exec_driver_sql("SELECT count(*) FROM tasks WHERE assignee_id IS NULL").scalar_one()
        if unassigned != 3:
            return f"after deleting the user, {unassigned} tasks have no assignee; expected their 3 tasks, and only those."
        return None
    finally:
        savepoint.rollback()


def _orphan_rejected(conn: Connection) -> str | None:
    sql = "INSERT INTO tasks (id, title, assignee_id) VALUES (11, 'ghost', '00000000-0000-0000-0000-000000000000')"
    if probe(conn, sql) is None:
        return f"assignee_id must reference an existing user (a foreign key): your schema accepted `{sql}`."
    return None


unassign_on_delete = SchemaExercise(
    LESSON,
    "unassign_on_delete",
    task=(
        "The checker creates a table tasks (id, title, assignee_id uuid) where some tasks are assigned to "
        "users. Add a foreign key so that assignee_id must be an existing user (or NULL: a task may be "
        "unassigned), and deleting a user keeps their tasks but unassigns them."
    ),
    hints=[
        "ALTER TABLE tasks ADD FOREIGN KEY (assignee_id) REFERENCES users(id) ON DELETE ...",
        "CASCADE would delete the tasks, NO ACTION or RESTRICT would refuse to delete the user: you want SET NULL.",
    ],
    solution="ALTER TABLE tasks ADD FOREIGN KEY (assignee_id) REFERENCES users(id) ON DELETE SET NULL",
    setup=_TASKS_SETUP,
    requirements=[
        _orphan_rejected,
        accepts("INSERT INTO tasks (id, title) VALUES (10, 'nobody yet')", why="a task may be unassigned"),
        _deleting_assignee_unassigns,
    ],
    explanation=(
        "ON DELETE SET NULL fits an optional reference. Deleting a user now also updates tasks: in a big "
        "table, index assignee_id too, or each deleted user scans every task."
    ),
    mistakes=[
        Mistake("ALTER TABLE tasks ADD FOREIGN KEY (assignee_id) REFERENCES users(id) ON DELETE CASCADE", "deleted 3 of their tasks"),
        Mistake("ALTER TABLE tasks ADD FOREIGN KEY (assignee_id) REFERENCES users(id)", "deleting a user who has tasks failed"),
        Mistake("ALTER TABLE tasks ADD FOREIGN KEY (assignee_id) REFERENCES users(id) ON DELETE RESTRICT", "tasks failed"),
        Mistake(
            "ALTER TABLE tasks ALTER COLUMN assignee_id SET NOT NULL, "
            "ADD FOREIGN KEY (assignee_id) REFERENCES users(id) ON DELETE SET NULL",
            "a task may be unassigned",
        ),
        Mistake("CREATE INDEX ON tasks (assignee_id)", "must reference an existing user"),
    ],
)

EXERCISES = [cascade_index, co_tags, one_settings_row, unassign_on_delete]
