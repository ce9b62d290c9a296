"""Lesson 02: relationships. Foreign keys need their own index, what ON DELETE does, the junction
table, one-to-one."""
from __future__ import annotations

from .. import catalog
from ..errors import short_message
from . import (
    Mistake, PlanExercise, ResultExercise, SchemaExercise, Trial, accepts, dataset_indexes_only, has_column, rejects,
)
from .learner_sql import run_script

LESSON = "02_relationships"

# ---------------------------------------------------------------- a plan: make the cascade fast

# Planned as the cascade runs it: a prepared statement whose $1 is unknown when it is planned (a partial index whose
# WHERE one literal id happens to satisfy cannot serve it).
_CASCADE_TARGET = "DELETE FROM comments WHERE user_id = :user_id"


def _cascade_problem(trial: Trial) -> str | None:
    """The delete must find the rows by searching an index that starts with user_id (not by a full scan).

    comments' indexes after the answer explain why the plan ignores one."""
    plan, conn = trial.plan, trial.conn
    assert plan is not None and conn is not None
    indexes = catalog.indexes(conn, "comments")
    by_name = {ix.name: ix for ix in indexes}
    searched = [by_name[node.index] for node in plan.nodes()
                if node.index in by_name and "user_id" in str(node.raw.get("Index Cond", ""))]
    if any(ix.columns[:1] == ("user_id",) and ix.method != "brin" for ix in searched):
        return None
    behind = [ix for ix in searched if ix.columns[:1] != ("user_id",)]
    if behind:
        ix = behind[0]
        return (
            f"the plan reaches user_id only through your index {ix.name} ({', '.join(ix.columns)}), where "
            f"user_id is not its first column. Before PostgreSQL 18 that reads the whole index; 18 can skip "
            f"between values of {ix.columns[0]}, one search per distinct value, which is cheap only while there "
            "are few. Make user_id the first column."
        )
    for ix in indexes:
        if ix.columns[:1] != ("user_id",):
            continue
        if ix.predicate is not None:
            return (
                f"the plan still reads all of comments with a Seq Scan. Your index {ix.name} is partial "
                f"(WHERE {ix.predicate}): the cascade's lookup is only WHERE user_id = $1, which says nothing "
                "about your condition, so it cannot use that index. Leave out the WHERE."
            )
        if ix.method == "brin":
            return (
                f"the plan still reads all of comments with a Seq Scan. Your index {ix.name} is a BRIN index: "
                "it keeps only the smallest and largest user_id of each block range, and user ids are random "
                "uuids spread over the whole table, so every range may hold any user and the index narrows "
                "nothing. Use a B-tree (CREATE INDEX ... ON comments (user_id))."
            )
        return (
            f"the plan still reads all of comments with a Seq Scan: it cannot search your {ix.method} index "
            f"{ix.name} for user_id = $1. Use a B-tree (CREATE INDEX ... ON comments (user_id))."
        )
    for ix in indexes:
        if "user_id" in ix.columns[1:]:
            return (
                f"the plan still reads all of comments with a Seq Scan. Your index {ix.name} "
                f"({', '.join(ix.columns)}) has user_id, but user_id is not its first column: the index is "
                "sorted by its first column, so one user's entries are spread all over it. Make user_id the "
                "first column."
            )
        if "(expression)" in ix.columns and "user_id" in ix.definition:
            return (
                f"the plan still reads all of comments with a Seq Scan. Your index {ix.name} is on an "
                "expression, and the cascade compares the column user_id itself: index the column."
            )
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
    task="""
The checker drops `idx_comments_user_id`. Deleting a user then makes PostgreSQL run, for the foreign key
`comments.user_id ... ON DELETE CASCADE`, a statement like
`DELETE FROM comments WHERE user_id = $1` (the user's id as its parameter). Make that statement find the user's comments
without reading the whole table.
""",
    hints=[
        "The cascade looks comments up by user_id. What lets PostgreSQL find rows by a column without reading them all?",
        "CREATE INDEX ... ON comments (user_id): the foreign key column must be the index's first column.",
    ],
    solution="CREATE INDEX idx_comments_user_id ON comments (user_id)",
    setup=dataset_indexes_only("comments") + "DROP INDEX idx_comments_user_id",
    target=_CASCADE_TARGET,
    generic_plan=True,
    target_params={"user_id": "8f1c6a2e-3b4d-4e5f-9a0b-1c2d3e4f5a6b"},
    plan_requirements=[_cascade_problem],
    explanation=(
        "With an index on comments(user_id), each deleted user costs an index lookup instead of a scan of "
        "every comment. Any B-tree whose first column is user_id works (not partial, or partial only on user_id IS "
        "NOT NULL), e.g. (user_id, created_at); so does a hash index on user_id."
    ),
    mistakes=[
        Mistake(
            "ALTER TABLE comments ADD CONSTRAINT comments_author_fkey FOREIGN KEY (user_id) "
            "REFERENCES users (id) ON DELETE CASCADE",
            "does not create an index",
        ),
        Mistake("CREATE INDEX ON comments (post_id, user_id)", "user_id is not its first column"),
        Mistake("CREATE INDEX ON comments (created_at, user_id)", "user_id is not its first column"),
        Mistake("CREATE INDEX ON comments (user_id) WHERE created_at > '2024-01-01'", "is partial"),
        Mistake("CREATE INDEX ON comments USING brin (user_id)", "BRIN"),
        Mistake("CREATE INDEX ON comments ((user_id::text))", "on an expression"),
        Mistake("CREATE INDEX ON users (id, email)", "Seq Scan"),
        Mistake("CREATE INDEX ON comments (user_id) WHERE user_id >= '80000000-0000-0000-0000-000000000000'",
                "is partial"),
        Mistake("DROP TABLE comments CASCADE; CREATE TABLE comments (id uuid, user_id uuid); "
                "CREATE INDEX ON comments (user_id)", "replaced the table comments"),
    ],
    alternatives=[
        "CREATE INDEX ON comments (user_id, created_at)",
        "CREATE INDEX ON comments USING hash (user_id)",
        "CREATE INDEX ON comments (user_id) WHERE user_id IS NOT NULL",
        "CREATE INDEX comments_author ON comments (user_id) INCLUDE (post_id)",
        "create index idx_comments_user_id on public.comments using btree (user_id desc nulls last)",
    ],
)

# ---------------------------------------------------------------- a result: the junction table

co_tags = ResultExercise(
    LESSON,
    "co_tags",
    task="""
Posts tagged `rust` usually carry other tags too. List the 5 **other** tags found most often on the same
posts as `rust`: the tag's name and the number of `rust` posts it is on, most first.
""",
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
        Mistake("SELECT * FROM (VALUES ('postgresql', 1389), ('python', 853), ('javascript', 598), ('typescript', 486), "
                "('sql', 374)) AS v (name, posts) ORDER BY posts DESC", "not after a new tag"),
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
    alternatives=[
        """SELECT t.name, count(*) FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
           WHERE pt.post_id IN (SELECT post_id FROM post_tags WHERE tag_id = (SELECT id FROM tags WHERE name = 'rust'))
             AND t.name <> 'rust'
           GROUP BY t.name ORDER BY 2 DESC LIMIT 5""",
        """WITH rust_posts AS (SELECT pt.post_id FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE t.name = 'rust')
           SELECT t.name AS tag, count(DISTINCT pt.post_id) AS n FROM rust_posts r
           JOIN post_tags pt USING (post_id) JOIN tags t ON t.id = pt.tag_id
           WHERE t.name != 'rust' GROUP BY t.name ORDER BY n DESC FETCH FIRST 5 ROWS ONLY""",
    ],
    variations=[("a new tag, zig, is put on every rust post", "INSERT INTO tags (name) VALUES ('zig'); INSERT INTO post_tags (post_id, tag_id) "
                 "SELECT pt.post_id, zig.id FROM post_tags AS pt JOIN tags AS rust ON rust.id = pt.tag_id AND rust.name = 'rust' "
                 "CROSS JOIN tags AS zig WHERE zig.name = 'zig'")],
)

# ---------------------------------------------------------------- a schema: one-to-one

_GHOST = "'00000000-0000-0000-0000-000000000000'"


_FIRST_USER = "(SELECT id FROM users ORDER BY email LIMIT 1)"

one_settings_row = SchemaExercise(
    LESSON,
    "one_settings_row",
    task="""
Create a table `user_settings` in a one-to-one relationship with `users`: a column `user_id` (uuid) and
a column `theme` (text). Every row belongs to an existing user, and no user has more than one row.
""",
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
        has_column("user_settings", "user_id", type="uuid"),
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
            f"INSERT INTO user_settings (user_id, theme) VALUES ({_GHOST}, 'dark')",
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
        Mistake("CREATE TABLE user_settings (user_id uuid UNIQUE REFERENCES users(id), theme text)", "NOT NULL"),
    ],
    alternatives=[
        "CREATE TABLE user_settings (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "user_id uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE, theme text)",
        "CREATE TABLE user_settings (user_id uuid NOT NULL, theme text, "
        "CONSTRAINT one_per_user UNIQUE (user_id) DEFERRABLE INITIALLY DEFERRED, "
        "FOREIGN KEY (user_id) REFERENCES users DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TABLE user_settings (user_id uuid PRIMARY KEY, theme varchar(20) DEFAULT 'light'); "
        "ALTER TABLE user_settings ADD FOREIGN KEY (user_id) REFERENCES users (id)",
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


def _deleting_assignee_unassigns(trial: Trial) -> str | None:
    conn = trial.conn
    assert conn is not None
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


_orphan_rejected = rejects(
    f"INSERT INTO tasks (id, title, assignee_id) VALUES (11, 'ghost', {_GHOST})",
    why="assignee_id must reference an existing user (a foreign key)",
)


unassign_on_delete = SchemaExercise(
    LESSON,
    "unassign_on_delete",
    task="""
The checker creates a table `tasks (id int, title text, assignee_id uuid)` in which some tasks are
assigned to users. Add a foreign key so that `assignee_id` must be an existing user (or NULL: a task may
be unassigned), and deleting a user keeps their tasks but unassigns them.
""",
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
    alternatives=[
        "ALTER TABLE tasks ADD CONSTRAINT tasks_assignee_fkey FOREIGN KEY (assignee_id) REFERENCES users "
        "ON DELETE SET NULL (assignee_id)",
        "ALTER TABLE tasks ADD FOREIGN KEY (assignee_id) REFERENCES users(id) ON DELETE SET NULL NOT VALID",
        "ALTER TABLE tasks ADD FOREIGN KEY (assignee_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE SET NULL "
        "DEFERRABLE INITIALLY DEFERRED; CREATE INDEX ON tasks (assignee_id)",
    ],
)

EXERCISES = [cascade_index, co_tags, one_settings_row, unassign_on_delete]
