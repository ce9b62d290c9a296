"""Lesson 07: index types. An expression index for a case-insensitive login, the composite that removes a Sort, a
query the GIN index on an array serves, and an exclusion constraint that a UNIQUE cannot express."""
from __future__ import annotations

import re

from . import (
    ErrorHint, Exercise, Mistake, PlanExercise, SchemaExercise, Trial, accepts, dataset_indexes_only, has_column,
    rejects, uses_index_named,
)

LESSON = "07_index_types"


def _new_indexes(trial: Trial, table: str) -> list[tuple[str, str, str, str | None, str]]:
    """The indexes on `table` that neither the dataset nor a constraint made: (name, method, first key as
    PostgreSQL prints it, predicate, definition)."""
    from ..dataset import INDEXES

    assert trial.conn is not None
    rows = trial.conn.exec_driver_sql(
        """SELECT c.relname, am.amname, pg_get_indexdef(i.indexrelid, 1, true),
                  pg_get_expr(i.indpred, i.indrelid), pg_get_indexdef(i.indexrelid)
           FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_am AS am ON am.oid = c.relam
           WHERE i.indrelid = to_regclass(%(table)s)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid)
           ORDER BY c.relname""", {"table": table}).all()
    return [tuple(r) for r in rows if r[0] not in INDEXES]  # type: ignore[misc]


def _first_key(trial: Trial, index: str) -> str:
    """The index's first key as PostgreSQL prints it, without an operator class or a collation."""
    assert trial.conn is not None
    key = str(trial.conn.exec_driver_sql("SELECT pg_get_indexdef(to_regclass(%(i)s), 1, true)", {"i": index}).scalar())
    return _bare(key)


def _bare(key: str) -> str:
    key = re.sub(r'\s+COLLATE\s+("[^"]+"|\S+)', "", key)
    return re.sub(r"\s+\w+_ops$", "", key.strip())


def _is_lower_email(key: str) -> bool:
    """lower(email) however it is spelled: lower((email)::text), lower(email::character varying::text), ..."""
    compact = re.sub(r"::(text|charactervarying(\(\d+\))?|varchar(\(\d+\))?)", "", key.replace(" ", "").lower())
    return compact in ("lower(email)", "lower((email))")


def _key_count(trial: Trial, index: str) -> int:
    assert trial.conn is not None
    found = trial.conn.exec_driver_sql("SELECT indnkeyatts FROM pg_index WHERE indexrelid = to_regclass(%(i)s)",
                                       {"i": index}).scalar()
    return int(found or 0)


# ---------------------------------------------------------------- 1. an expression index, unique

LOGIN = "SELECT id FROM users WHERE lower(email) = lower('Ada.Backus233963@Example.COM')"
_NEW_USER = "INSERT INTO users (email, password_hash) VALUES ('{email}', 'x')"


def _new_emails_keep_their_case(trial: Trial) -> str | None:
    from .probes import probe_value

    assert trial.conn is not None
    error, stored = probe_value(trial.conn, _NEW_USER.format(email="Grace.Newcomer@Example.COM"),
                                "SELECT email FROM users WHERE lower(email) = 'grace.newcomer@example.com'")
    if error is None and stored != "Grace.Newcomer@Example.COM":
        return (f"a new email must keep the case its user typed: 'Grace.Newcomer@Example.COM' was stored as {stored!r} "
                "(a trigger that lowercases emails changes what the user wrote; compare in lower case instead).")
    return None


def _login_uses_lower_email(trial: Trial) -> str | None:
    from ..explain import explain

    assert trial.conn is not None
    plan = explain(trial.conn, LOGIN, analyze=False)
    used = [node.index for node in plan.nodes() if node.index]
    if any(_is_lower_email(_first_key(trial, index)) for index in used):
        return None
    if used:
        return (f"the login query uses {', '.join(used)}, whose first key is not lower(email): PostgreSQL 18 can skip "
                "over a leading column, at a search per value of it, and before 18 such an index cannot be searched "
                "for lower(email) at all.")
    return "the login query still reads all of users with a Seq Scan."


def _why_not_lower(trial: Trial) -> str | None:
    assert trial.conn is not None
    checks = trial.conn.exec_driver_sql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'c' "
        "AND pg_get_constraintdef(oid) ILIKE %(lower)s", {"lower": "%lower(%"}).scalars().all()
    if checks:
        return (f"Your constraint {checks[0]} forbids capitals altogether, while the app keeps each email as it was "
                "typed: what must be unique is the lowered email.")
    for name, method, first, predicate, definition in _new_indexes(trial, "users"):
        first = _bare(first)
        compact = first.replace(" ", "").lower()
        lower_first = _is_lower_email(first)
        unique = definition.upper().startswith("CREATE UNIQUE")
        if method == "brin":
            return (f"Your index {name} is a BRIN index: it keeps the smallest and largest value per range of pages, "
                    "which finds nothing when the emails are in no order on disk, and it cannot be unique.")
        if method not in ("btree", "hash"):
            return f"Your index {name} is a {method.upper()} index, which cannot be unique: only a B-tree can."
        if predicate and lower_first:
            return (f"Your index {name} is partial (WHERE {predicate}): the login query says nothing about that, so "
                    "PostgreSQL cannot prove that the user it looks for is in the index (and users outside it could "
                    "share an email).")
        if "upper(" in compact:
            return (f"Your index {name} is on {first}, and the login query compares lower(email): an index serves only "
                    "the expression it indexes.")
        if compact in ("email", "(email)::text", "(email::text)", "email::text"):
            return (f"Your index {name} is on email itself, like users_email_key: it compares emails as typed, so "
                    "'ADA...' and 'ada...' are different values to it, and it cannot serve lower(email) = ....")
        if lower_first and not unique:
            return (f"Your index {name} finds a user by lower(email), but nothing stops a second account with the same "
                    "lowered email: make the index UNIQUE.")
        if lower_first and _key_count(trial, name) > 1:
            return (f"Your index {name} is unique over several columns: two users with the same lowered email differ "
                    "in the others, so it lets both in. lower(email) alone must be unique.")
        if "lower(" in compact:
            return (f"Your index {name} is on {first}, and the login query compares lower(email): an index serves only "
                    "the expression it indexes.")
        if "lower(" in definition.lower() and not lower_first:
            return (f"In your index {name}, lower(email) is not the first column ({first} is), and the index is sorted "
                    "by that first.")
    return None


case_insensitive_email = SchemaExercise(
    LESSON,
    "case_insensitive_email",
    task=f"""
The app stores each email as its user typed it, and logs in whatever the case:

```sql
{LOGIN}
```
Change the schema so that nobody can sign up again with an email that exists in another case
(`ADA.BACKUS233963@EXAMPLE.COM` when `ada.backus233963@example.com` exists), new emails still keep their case, and
the login query finds the user through an index.
""",
    hints=[
        "users_email_key compares emails as typed. What value is the same for 'Ada@X.com' and 'ADA@X.COM'?",
        "One index does both jobs: unique on the expression the login query compares, "
        "CREATE UNIQUE INDEX ... ON users (lower(email)).",
    ],
    solution="CREATE UNIQUE INDEX users_lower_email_key ON users (lower(email))",
    setup=dataset_indexes_only("users"),
    kind_label="a schema: the checker signs users up, then plans the login query",
    requirements=[
        accepts(_NEW_USER.format(email="Grace.Newcomer@Example.COM"),
                why="a new email, in the case its user typed, must be accepted"),
        rejects(_NEW_USER.format(email="ADA.BACKUS233963@EXAMPLE.COM"),
                why="a second account for ada.backus233963@example.com, in capitals, must be rejected"),
        rejects("INSERT INTO users (email, password_hash, role, status) "
                "VALUES ('Ada.Backus233963@Example.com', 'x', 'admin', 'banned')",
                why="a second account for ada.backus233963@example.com must be rejected whatever its role or status "
                    "(an index unique on lower(email) together with another column allows one per value of it)"),
        _new_emails_keep_their_case,
        _login_uses_lower_email,
    ],
    diagnoses=[_why_not_lower],
    error_hints=[
        ErrorHint(r'syntax error at or near "\("',
                  lambda trial: "A UNIQUE constraint lists columns only; for an expression, write CREATE UNIQUE INDEX "
                                "... ON users (lower(email))."
                  if re.search(r"unique\s*\(\s*lower", str(trial.answer), re.IGNORECASE) else None),
        ErrorHint(r"does not support unique indexes", "Only a B-tree index can be unique (the default method)."),
    ],
    explanation=(
        "The unique index stores lower(email) for every user, sorted: a sign-up whose lowered email exists is "
        "rejected, and the login query's lower(email) = '...' is one search in the same index. A UNIQUE constraint "
        "cannot name an expression; a unique index can."
    ),
    mistakes=[
        Mistake("CREATE UNIQUE INDEX ON users (lower(email), status)", "whatever its role or status"),
        Mistake("CREATE INDEX ON users (lower(email))", "make the index UNIQUE"),
        Mistake("CREATE UNIQUE INDEX ON users (email)", "compares emails as typed"),
        Mistake("CREATE UNIQUE INDEX ON users (upper(email))", "only the expression it indexes"),
        Mistake("CREATE UNIQUE INDEX ON users (lower(email)) WHERE status = 'active'", "is partial"),
        Mistake("ALTER TABLE users ADD CONSTRAINT users_email_lower CHECK (email = lower(email))",
                "forbids capitals altogether"),
        Mistake("ALTER TABLE users ADD UNIQUE (lower(email))", "CREATE UNIQUE INDEX"),
        Mistake("CREATE UNIQUE INDEX ON users USING hash (lower(email))", "Only a B-tree index can be unique"),
        Mistake("CREATE UNIQUE INDEX ON users (status, lower(email))", "not the first column"),
        Mistake("CREATE UNIQUE INDEX ON users (lower(email), id)", "unique over several columns"),
        Mistake("CREATE UNIQUE INDEX ON users (lower(trim(email)))", "serves only the expression it indexes"),
    ],
    alternatives=[
        "CREATE UNIQUE INDEX ON users (lower(email))",
        "create unique index users_email_ci on public.users using btree (LOWER(email::text))",
        "CREATE UNIQUE INDEX ON users (lower(email)) INCLUDE (id)",
        "create unique index on users(lower(email::varchar))",
        "CREATE UNIQUE INDEX email_ci_idx ON users (lower(email) text_pattern_ops)",
        "ALTER TABLE users DROP CONSTRAINT users_email_key; CREATE UNIQUE INDEX ON users (lower(email))",
    ],
)

# ---------------------------------------------------------------- 2. the profile page from the index alone

TYPICAL_USER = "001fd039-7272-6e18-e324-26122f82c8fc"  # 25 posts: the prolific author would hide a wrong index
LATEST_POSTS = (f"SELECT id, title, created_at FROM posts WHERE user_id = '{TYPICAL_USER}' "
                "ORDER BY created_at DESC LIMIT 10")


def _sorted_from_the_index_alone(trial: Trial) -> str | None:
    assert trial.plan is not None
    sorts = [t for t in ("Sort", "Incremental Sort") if trial.plan.has_node(t)]
    if sorts:
        return (f"the plan still has a {sorts[0]} node: the index it reads does not give this user's posts in "
                "created_at order.")
    scan = trial.plan.scan("posts")
    if not scan.index or not _first_key(trial, scan.index).startswith("user_id"):
        return ("the plan has no Sort, but it reads posts without an index that starts with user_id: "
                f"{scan.node_type}{' using ' + scan.index if scan.index else ''}.")
    if scan.node_type != "Index Only Scan":
        return (f"the plan reads {scan.index} in order (no Sort), but it is an {scan.node_type}: it visits the table "
                "for every post, for the columns the index does not hold.")
    return None


def _why_not_covered(trial: Trial) -> str | None:
    assert trial.conn is not None
    for name, method, first, predicate, definition in _new_indexes(trial, "posts"):
        inside = definition.split(" USING ", 1)[1]
        keys_text = inside.split("(", 1)[1].split(")", 1)[0]
        keys = [k.strip() for k in keys_text.split(",")]
        included = []
        if " INCLUDE (" in inside:
            included = [k.strip() for k in inside.split(" INCLUDE (", 1)[1].split(")", 1)[0].split(",")]
        if method != "btree":
            return f"Your index {name} uses {method}, which keeps no order (and holds no other columns): use a B-tree."
        if predicate:
            return (f"Your index {name} is partial (WHERE {predicate}): the query asks for all of the user's posts, "
                    "so PostgreSQL cannot prove they are all in it.")
        if keys[0].startswith("created_at"):
            return (f"In your index {name} created_at comes first, so one user's posts are spread all over the index: "
                    "put user_id first, then created_at.")
        if not keys[0].startswith("user_id"):
            return (f"Your index {name} starts with {keys[0].split()[0]}: an index is searched by its first column, "
                    "and the query searches by user_id.")
        if keys[0].startswith("user_id"):
            if "created_at" in included:
                return (f"Your index {name} has created_at as an INCLUDE column: included columns are stored in the "
                        "entries but are not part of the order. Make created_at the second key.")
            if len(keys) == 1:
                return (f"Your index {name} holds user_id alone as its key, like idx_posts_user_id: the user's posts "
                        "come out in no particular order. Add created_at after it.")
            if not keys[1].startswith("created_at"):
                second = keys[1].split()[0]
                return (f"In your index {name}, {second} sits between user_id and created_at, so inside each user the "
                        f"entries are ordered by {second}: the order you need is created_at.")
            if "NULLS LAST" in keys[1] and "DESC" in keys[1]:
                return (f"Your index {name} orders created_at DESC NULLS LAST, and ORDER BY created_at DESC means "
                        "NULLS FIRST: the orders differ, so PostgreSQL sorts. Leave NULLS out (or write NULLS FIRST).")
            held = {k.split()[0] for k in keys + included}
            missing = [c for c in ("id", "title") if c not in held]
            if missing:
                return (f"Your index {name} gives the order, but the query also returns {' and '.join(missing)}, which "
                        "it does not hold: INCLUDE them.")
    return None


latest_posts_covered = PlanExercise(
    LESSON,
    "latest_posts_covered",
    task=f"""
A profile page shows a user's 10 newest posts, and it is the busiest page of the app:

```sql
{LATEST_POSTS}
```
Create an index from which PostgreSQL answers it **without a Sort and without reading the posts table** (an Index
Only Scan).
""",
    hints=[
        "No Sort: the index must give one user's posts in created_at order. No table: every column the query "
        "returns must be in the index.",
        "Keys (user_id, created_at DESC) for the search and the order, and the other returned columns as "
        "INCLUDE (id, title).",
    ],
    solution="CREATE INDEX idx_posts_user_latest ON posts (user_id, created_at DESC) INCLUDE (id, title)",
    setup=dataset_indexes_only("posts"),
    target=LATEST_POSTS,
    plan_requirements=[_sorted_from_the_index_alone],
    diagnoses=[_why_not_covered],
    explanation=(
        "Inside one user_id the entries are in created_at order, and each carries id and title: the plan reads the "
        "first 10 entries and stops, and the visibility map spares it the table (after a VACUUM; on a busy table, "
        "check its Heap Fetches)."
    ),
    mistakes=[
        Mistake("CREATE INDEX ON posts (user_id, created_at DESC)", "for the columns the index does not hold"),
        Mistake("CREATE INDEX ON posts (user_id, created_at DESC) INCLUDE (title)", "also returns id"),
        Mistake("CREATE INDEX ON posts (user_id) INCLUDE (created_at, id, title)", "not part of the order"),
        Mistake("CREATE INDEX ON posts (created_at DESC, user_id) INCLUDE (id, title)", "put user_id first"),
        Mistake("CREATE INDEX ON posts (user_id, id, created_at, title)", "sits between user_id and created_at"),
        Mistake("CREATE INDEX ON posts (user_id, created_at DESC) INCLUDE (id, title) WHERE created_at > '2025-01-01'",
                "is partial"),
        Mistake("CREATE INDEX ON posts USING hash (user_id)", "keeps no order"),
        Mistake("CREATE INDEX ON posts (user_id, created_at DESC NULLS LAST) INCLUDE (id, title)", "NULLS FIRST"),
        Mistake("CREATE INDEX ON posts (title, user_id, created_at)", "starts with title"),
    ],
    alternatives=[
        "CREATE INDEX ON posts (user_id, created_at) INCLUDE (id, title)",
        "CREATE INDEX ON posts (user_id, created_at DESC, id, title)",
        "CREATE INDEX ON posts (user_id, created_at DESC, id) INCLUDE (title)",
        "create index idx_latest on public.posts using btree (user_id asc, created_at desc nulls first) "
        "include (title, id)",
    ],
)
# The lab's generic INCLUDE diagnosis reads any column the query names; here title and id are returned, not
# searched, so its advice (make them keys) would mislead: this exercise's own diagnosis covers INCLUDE.
latest_posts_covered.diagnoses = [d for d in latest_posts_covered.diagnoses if d.__name__ != "include_column_as_key"]

# ---------------------------------------------------------------- 3. a query the GIN index serves

# A quarter-sized posts_tagged (the posts whose id starts with 0 or 1), so that the check is quick.
TAGGED_SETUP = """
DROP TABLE IF EXISTS posts_tagged;
CREATE TABLE posts_tagged AS
SELECT p.id, p.title, p.created_at, coalesce(t.tags, '{}') AS tags
FROM posts AS p
LEFT JOIN (SELECT pt.post_id, array_agg(tg.name::text ORDER BY tg.name) AS tags
           FROM post_tags AS pt JOIN tags AS tg ON tg.id = pt.tag_id
           WHERE pt.post_id < '20000000-0000-0000-0000-000000000000'
           GROUP BY pt.post_id) AS t ON t.post_id = p.id
WHERE p.id < '20000000-0000-0000-0000-000000000000';
CREATE INDEX idx_posts_tags ON posts_tagged USING gin (tags);
ANALYZE posts_tagged;
"""


def _array_operators(trial: Trial) -> str | None:
    text = " ".join(str(trial.answer).split()).lower()
    if "post_tags" in text:
        return ("This answers from the junction table post_tags; the exercise is about the tags array of posts_tagged "
                "and its GIN index.")
    if "like" in text or "array_to_string" in text:
        return ("Matching the tags as a string cannot use the GIN index (and '%go%' also matches a tag such as "
                "'django'): compare arrays, tags @> ARRAY[...].")
    if re.search(r"\btags\s*<@", text):
        return ("tags <@ ARRAY[...] means every tag of the post is in your list, so a post tagged only 'go', or with "
                "no tag at all, matches: the post's tags must contain both, tags @> ARRAY[...].")
    if "@>" not in text and "<@" not in text:
        if "any" in text:
            return ("= ANY (tags) is not an operator the GIN index serves: write the condition with @> (contains) "
                    "or <@ on the whole array.")
        if "&&" in text:
            return "&& means the arrays overlap: a post with either tag. Both tags is @> (contains)."
        if re.search(r"tags\s*=\s*(array|')", text):
            return ("= compares the whole array: posts that carry a third tag are left out. Ask whether it contains "
                    "both: @>.")
    if "postgresql" not in text:
        return "The task also leaves out the posts tagged 'postgresql'."
    if not re.search(r"\bnot\b|<>|!=|except|is null", text):
        return ("Putting 'postgresql' in the array asks for posts that carry it too; the task leaves them out: "
                "AND NOT tags && ARRAY['postgresql'].")
    return None


both_tags = PlanExercise(
    LESSON,
    "both_tags",
    task="""
The checker builds a smaller `posts_tagged` (about 124,000 posts, with the `tags text[]` column of section 4 and
its GIN index `idx_posts_tags`). List `id` and `title` of the posts that carry **both** 'rust' and 'go', but not
'postgresql'. The plan must use the GIN index.
""",
    hints=[
        "GIN on an array serves @> (contains), <@ (is contained by), && (overlaps) and =. NOT of a condition "
        "can be a filter on the rows the index found.",
        "tags @> ARRAY['rust', 'go'] finds the posts with both; AND NOT tags && ARRAY['postgresql'] leaves out the "
        "others.",
    ],
    solution="SELECT id, title FROM posts_tagged WHERE tags @> ARRAY['rust', 'go'] AND NOT tags && ARRAY['postgresql']",
    setup=TAGGED_SETUP,
    answer_is="query",
    variations=[("three more posts carry rust and go",
                 "INSERT INTO posts_tagged (id, title, created_at, tags) SELECT gen_random_uuid(), 'New ' || n, now(), "
                 "ARRAY['go', 'rust'] FROM generate_series(1, 3) AS n")],
    plan_requirements=[uses_index_named("idx_posts_tags", "write the condition with an array operator the GIN index "
                                                          "serves.")],
    diagnoses=[_array_operators],
    error_hints=[ErrorHint(r"character varying\[\]", "tags is a text[]: compare it with a text[] (ARRAY['rust', 'go'] "
                                                     "or '{rust,go}'), not a varchar[].")],
    explanation=(
        "The GIN index maps each tag to the posts that carry it; @> with two tags intersects the two lists in the "
        "index (a Bitmap Index Scan), and the NOT is checked on the few rows it found."
    ),
    mistakes=[
        Mistake("SELECT id, title FROM posts_tagged WHERE tags @> ARRAY['rust', 'go'] AND NOT tags && ARRAY['postgresql'] "
                "LIMIT 8", "not after three more posts"),
        Mistake("SELECT id, title FROM posts_tagged WHERE 'rust' = ANY (tags) AND 'go' = ANY (tags) "
                "AND NOT 'postgresql' = ANY (tags)", "= ANY"),
        Mistake("SELECT id, title FROM posts_tagged WHERE tags && ARRAY['rust', 'go'] AND NOT tags && ARRAY['postgresql']",
                "either tag"),
        Mistake("SELECT id, title FROM posts_tagged WHERE tags = ARRAY['go', 'rust']", "third tag"),
        Mistake("SELECT id, title FROM posts_tagged WHERE tags @> ARRAY['rust', 'go']", "tagged 'postgresql'"),
        Mistake("SELECT id, title FROM posts_tagged WHERE array_to_string(tags, ',') LIKE '%rust%' "
                "AND array_to_string(tags, ',') LIKE '%go%' AND array_to_string(tags, ',') NOT LIKE '%postgresql%'",
                "django"),
        Mistake("SELECT p.id, p.title FROM posts_tagged AS p JOIN post_tags AS x ON x.post_id = p.id "
                "JOIN tags AS t ON t.id = x.tag_id WHERE t.name IN ('rust', 'go') GROUP BY p.id, p.title "
                "HAVING count(*) = 2", "junction table"),
        Mistake("SELECT id, title FROM posts_tagged WHERE tags @> ARRAY['rust', 'go']::varchar[]", "not a varchar[]"),
        Mistake("SELECT id, title FROM posts_tagged WHERE tags <@ ARRAY['rust', 'go']", "every tag of the post"),
        Mistake("SELECT id, title FROM posts_tagged WHERE tags @> ARRAY['rust', 'go', 'postgresql']", "carry it too"),
    ],
    alternatives=[
        "SELECT id, title FROM posts_tagged WHERE tags @> '{go,rust}' AND NOT tags @> '{postgresql}'",
        "SELECT id, title FROM posts_tagged WHERE tags @> ARRAY['rust'] AND tags @> ARRAY['go'] "
        "AND NOT ('postgresql' = ANY (tags))",
        "SELECT id, title FROM posts_tagged WHERE ARRAY['rust', 'go']::text[] <@ tags "
        "AND NOT ARRAY['postgresql']::text[] <@ tags",
        "SELECT p.id, p.title FROM posts_tagged AS p WHERE p.tags @> CAST(ARRAY['go', 'rust'] AS text[]) "
        "AND NOT p.tags && '{postgresql}'",
        "SELECT id, title FROM posts_tagged WHERE tags @> '{rust,go}' "
        "EXCEPT SELECT id, title FROM posts_tagged WHERE tags @> '{postgresql}'",
        "SELECT id, title FROM posts_tagged WHERE tags @> ARRAY['rust','go'] AND 'postgresql' <> ALL (tags)",
    ],
)

# ---------------------------------------------------------------- 4. an exclusion constraint with a WHERE


def _booking(room: int, start: str, end: str, cancelled: bool = False) -> str:
    return f"({room}, '[2026-03-02 {start}+00, 2026-03-02 {end}+00)', {str(cancelled).lower()})"


_INSERT = "INSERT INTO bookings (room_id, during, cancelled) VALUES "
NINE_TO_TEN = _booking(1, "09:00", "10:00")


def _what_compares_rows(trial: Trial) -> str | None:
    assert trial.conn is not None
    rows = trial.conn.exec_driver_sql(
        "SELECT contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass('bookings')").all()
    exclusions = [d for t, d in rows if t == "x"]
    periods = [d for t, d in rows if "WITHOUT OVERLAPS" in d]
    if periods:
        return (f"Your {periods[0].split(' (')[0]} ... WITHOUT OVERLAPS takes no WHERE, so a cancelled booking still "
                "holds its time: write EXCLUDE USING gist (room_id WITH =, during WITH &&) WHERE (NOT cancelled).")
    unique_index = trial.conn.exec_driver_sql(
        "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass('bookings') AND indisunique AND NOT indisprimary"
    ).scalar()
    if not exclusions:
        if any(t == "u" for t, _ in rows) or unique_index:
            return ("UNIQUE compares whole ranges with =: two different ranges that overlap are not equal. Overlap is "
                    "&&, which an exclusion constraint can check: EXCLUDE USING gist (...).")
        if any(t == "c" for t, _ in rows):
            return "A CHECK constraint sees one row at a time; an overlap is between two rows: EXCLUDE USING gist (...)."
        return "Nothing in your schema compares two bookings with each other: that is what EXCLUDE USING gist (...) does."
    definition = exclusions[0]
    if "&&" not in definition:
        return (f"Your constraint ({definition}) does not compare the times with && (overlaps): two bookings that "
                "overlap without being equal pass it. Overlap is the && operator.")
    if "room_id" not in definition:
        return f"Your constraint ({definition}) forbids overlaps across all rooms: add room_id WITH =."
    if "cancelled WITH" in definition:
        return (f"Your constraint ({definition}) compares cancelled too, so two cancelled bookings still may not "
                "overlap: leave the cancelled ones out of the constraint with WHERE (NOT cancelled).")
    if "WHERE" not in definition:
        return (f"Your constraint ({definition}) counts cancelled bookings too. An exclusion constraint can have a "
                "WHERE, like a partial index: ... WHERE (NOT cancelled).")
    if "NOT" not in definition.split("WHERE", 1)[1]:
        return f"Your constraint ({definition}) applies to the cancelled bookings only: WHERE (NOT cancelled)."
    return None


no_double_booking = SchemaExercise(
    LESSON,
    "no_double_booking",
    task="""
Create the table `bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false)` so that two
bookings of the same room that are not cancelled can never overlap. A cancelled booking frees its time; back-to-back
bookings (one ends at 10:00, the next starts at 10:00) and the same hour in two rooms are fine. (`btree_gist` is
installed.)
""",
    hints=[
        "Section 6's exclusion constraint forbids overlaps in a room. What must it leave out?",
        "An exclusion constraint takes a WHERE, as a partial index does: "
        "EXCLUDE USING gist (room_id WITH =, during WITH &&) WHERE (NOT cancelled).",
    ],
    solution="""
CREATE TABLE bookings (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  room_id   int NOT NULL,
  during    tstzrange NOT NULL,
  cancelled boolean NOT NULL DEFAULT false,
  EXCLUDE USING gist (room_id WITH =, during WITH &&) WHERE (NOT cancelled)
)""",
    setup="DROP TABLE IF EXISTS bookings",
    requirements=[
        has_column("bookings", "room_id"),
        has_column("bookings", "during", type="tstzrange"),
        has_column("bookings", "cancelled", type="boolean", not_null=True),
        accepts(_INSERT + NINE_TO_TEN + ", " + _booking(1, "10:00", "11:00"),
                why="back-to-back bookings of one room must be accepted"),
        accepts(_INSERT + NINE_TO_TEN + ", " + _booking(2, "09:30", "10:30"),
                why="the same time in another room must be accepted"),
        accepts(_INSERT + _booking(1, "09:00", "10:00", cancelled=True) + ", " + _booking(1, "09:30", "10:30"),
                why="a booking over a cancelled one must be accepted"),
        accepts(_INSERT + _booking(1, "09:00", "10:00", cancelled=True) + ", "
                + _booking(1, "09:30", "10:30", cancelled=True),
                why="two cancelled bookings may overlap"),
        rejects(_INSERT + NINE_TO_TEN + ", " + _booking(1, "09:30", "10:30"),
                why="two overlapping bookings of room 1 must be rejected"),
    ],
    diagnoses=[_what_compares_rows],
    error_hints=[
        ErrorHint(r"is not a member of operator family", "EXCLUDE without USING uses a B-tree, which has no overlap "
                                                          "operator: write EXCLUDE USING gist (...)."),
        ErrorHint(r'syntax error at or near "(WITHOUT|OVERLAPS)"',
                  lambda trial: "WITHOUT OVERLAPS needs PostgreSQL 18, and it takes no WHERE: write EXCLUDE USING "
                                "gist (...) WHERE (NOT cancelled)."
                  if re.search(r"without\s+overlaps", str(trial.answer), re.IGNORECASE) else None),
        ErrorHint(r"is not commutative", "An exclusion constraint compares each pair of rows both ways, so its "
                                         "operators must be commutative (=, &&), not contains (@>)."),
        ErrorHint(r'no default operator class for access method "gist"', "GiST compares plain integers only with the "
                                                                          "btree_gist extension."),
    ],
    explanation=(
        "The exclusion constraint rejects a new row when an existing row matches it on every operator listed: the "
        "same room (=) and overlapping times (&&); its WHERE, as a partial index's, leaves the cancelled bookings "
        "out. Ranges are half-open by default ([09:00, 10:00) ends just before 10:00), so back-to-back bookings pass."
    ),
    mistakes=[
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false, "
                "EXCLUDE USING gist (room_id WITH =, during WITH &&))", "WHERE (NOT cancelled)"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false, "
                "UNIQUE (room_id, during))", "UNIQUE compares"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false, "
                "EXCLUDE USING gist (during WITH &&) WHERE (NOT cancelled))", "across all rooms"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false, "
                "EXCLUDE USING gist (room_id WITH =, during WITH =) WHERE (NOT cancelled))", "Overlap is the && operator"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false, "
                "EXCLUDE (room_id WITH =, during WITH &&) WHERE (NOT cancelled))", "USING gist"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false, "
                "EXCLUDE USING gist (room_id WITH =, during WITH &&, cancelled WITH =))", "two cancelled bookings"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false, "
                "EXCLUDE USING gist (room_id WITH =, during WITH &&) WHERE (cancelled))", "cancelled bookings only"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange CHECK (NOT isempty(during)), "
                "cancelled boolean NOT NULL DEFAULT false)", "one row at a time"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean, "
                "EXCLUDE USING gist (room_id WITH =, during WITH &&) WHERE (NOT cancelled))", "should be NOT NULL"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false, "
                "EXCLUDE USING gist (room_id WITH =, during WITH @>) WHERE (NOT cancelled))", "commutative"),
        Mistake("CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false, "
                "PRIMARY KEY (room_id, during WITHOUT OVERLAPS))", "takes no WHERE"),
    ],
    alternatives=[
        "CREATE TABLE bookings (id serial PRIMARY KEY, room_id integer, during tstzrange, cancelled bool NOT NULL "
        "DEFAULT false, CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&, room_id WITH =) WHERE (cancelled = false))",
        "CREATE TABLE bookings (room_id int, during tstzrange, cancelled boolean NOT NULL DEFAULT false); "
        "ALTER TABLE bookings ADD EXCLUDE USING gist (room_id WITH =, during WITH &&) WHERE (NOT cancelled)",
        "CREATE TABLE bookings (room_id bigint NOT NULL, during tstzrange NOT NULL, cancelled boolean DEFAULT false "
        "NOT NULL, EXCLUDE USING GIST (room_id WITH =, during WITH &&) WHERE (cancelled IS NOT TRUE))",
    ],
)

EXERCISES: list[Exercise] = [case_insensitive_email, latest_posts_covered, both_tags, no_double_booking]
