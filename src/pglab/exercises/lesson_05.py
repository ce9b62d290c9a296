"""Lesson 05: pagination. A keyset page checked at five cursors (a tie boundary among them), the index that lets
a user's feed read only its page, and "is there a next page?" without counting."""
from __future__ import annotations

import re

import datetime as dt
import uuid

from . import (
    Case, Exercise, Mistake, PlanExercise, StatementCountExercise, Trial, dataset_indexes_only, no_node, reads_at_most,
    uses_index_on,
)

LESSON = "05_pagination"

# ---------------------------------------------------------------- 1. the page after a comment

# The notebook creates this index in section 3; the check creates it too if it is not there (dropping any other the
# learner made first). Kept when it exists: dropping it would lock comments against the notebook's readers.
_COMMENTS_ORDER_INDEX = dataset_indexes_only("comments", keep_also=["comments_created_at_id_idx"]) + """
CREATE INDEX IF NOT EXISTS comments_created_at_id_idx ON comments (created_at, id);
"""

_ORDER = "ORDER BY created_at DESC, id DESC"
_CURSOR = "SELECT created_at AS after_created_at, id AS after_id FROM comments "

KEYSET_CASES = [
    Case("after the last comment of page 1, in the middle of the 1,026 comments of 2026-01-01",
         _CURSOR + f"{_ORDER} OFFSET 19 LIMIT 1"),
    Case("after the last comment of 2026-01-01 (the next page starts on the day before)",
         _CURSOR + "WHERE created_at = '2026-01-01' ORDER BY id LIMIT 1"),
    Case("after a comment 150,000 comments down", _CURSOR + f"{_ORDER} OFFSET 150000 LIMIT 1"),
    Case("after the tenth comment from the end (a short last page)", _CURSOR + "ORDER BY created_at, id OFFSET 9 LIMIT 1"),
    Case("after the very last comment (an empty page)", _CURSOR + "ORDER BY created_at, id LIMIT 1"),
]


def _keyset_mistake(trial: Trial) -> str | None:
    """Say which pagination mistake a failing page shows: skipped ties, the cursor row again, earlier rows."""
    if trial.result is None or trial.expected is None or not trial.params:
        return None
    cursor_at, cursor_id = trial.params["after_created_at"], trial.params["after_id"]
    names = [n.lower() for n in trial.result.names]
    if "id" not in names or "created_at" not in names:
        return None
    mine = [(row[names.index("created_at")], row[names.index("id")]) for row in trial.result.rows]
    theirs_names = [n.lower() for n in trial.expected.names]
    theirs = [(row[theirs_names.index("created_at")], row[theirs_names.index("id")]) for row in trial.expected.rows]
    used = trial.script.text if trial.script is not None else ""
    if ":after_created_at" not in used and ":after_id" not in used:
        return ("Your query does not use :after_created_at and :after_id: a keyset page starts right after the cursor, "
                "so the WHERE must compare with it.")
    if (cursor_at, cursor_id) in mine:
        return ("Your page repeats the cursor's own comment: it was already the last row of the previous page "
                "(and created_at <= the cursor's date would return every comment of that date again). Compare the "
                "row, strictly: (created_at, id) < (:after_created_at, :after_id).")
    earlier = [row for row in mine if (row[0], row[1]) > (cursor_at, cursor_id)]
    if earlier:
        at, row_id = earlier[0]
        if at > cursor_at and row_id < cursor_id:
            return (f"Your page has comment {row_id}, with a later date than the cursor's and a smaller id: it was on "
                    "an earlier page. id < :after_id may apply only among comments of the cursor's own date: compare "
                    "the row, (created_at, id) < (:after_created_at, :after_id).")
        return (f"Your page has comment {row_id} (created_at {at}), which comes before the cursor in "
                "the order created_at DESC, id DESC: it was already on an earlier page. The comparison and the ORDER BY "
                "must go the same way: (created_at, id) < (...) with ORDER BY created_at DESC, id DESC.")
    in_order = mine == sorted(mine, reverse=True)
    skipped = [row for row in theirs if row not in mine and row[0] == cursor_at]
    if skipped and in_order and all(row[0] < cursor_at for row in mine):
        return (f"It leaves out comment {skipped[0][1]}, which has the same created_at as the cursor and a smaller id: "
                "comparing created_at alone skips every comment that shares the cursor's timestamp, so they are on no "
                "page at all. Compare (created_at, id) < (:after_created_at, :after_id).")
    return None


keyset_next_page = PlanExercise(
    LESSON,
    "keyset_next_page",
    task="""
Comments are listed newest first, 20 a page, in the order `created_at DESC, id DESC` (many comments share a
`created_at`: every value is a date at midnight UTC). Write the query for the page **after** a given comment, whose `created_at` and `id`
arrive as the parameters `:after_created_at` and `:after_id`. Return `id` and `created_at`. Read only the page: no
OFFSET, no count. The checker runs your query after five different comments, and looks at how many rows it reads
after one 150,000 comments down.
""",
    hints=[
        "The page after a comment holds the comments that come after it in the order created_at DESC, id DESC: those "
        "with an earlier created_at, or the same created_at and a smaller id.",
        "A row comparison says exactly that, and PostgreSQL can start an index scan at it: "
        "WHERE (created_at, id) < (:after_created_at, :after_id) ORDER BY created_at DESC, id DESC LIMIT 20.",
    ],
    solution="""
SELECT id, created_at
FROM comments
WHERE (created_at, id) < (:after_created_at, :after_id)
ORDER BY created_at DESC, id DESC
LIMIT 20
""",
    setup=_COMMENTS_ORDER_INDEX,
    cases=KEYSET_CASES,
    answer_is="query",
    ordered=True,
    analyze=True,
    plan_case=2,
    plan_requirements=[reads_at_most(
        "comments", 2_000,
        why="a keyset page starts at the cursor, in the index on (created_at, id). An OR of two conditions, or "
            "OFFSET, or counting the rows before the cursor, makes PostgreSQL read its way there; a row comparison "
            "(created_at, id) < (...) is one range of the index.")],
    diagnoses=[_keyset_mistake],
    explanation=(
        "The row comparison is one range of the index (created_at, id): at every depth PostgreSQL reads the 20 rows "
        "of the page and nothing else, and no comment is on two pages or on none, however many share a date."
    ),
    mistakes=[
        Mistake(f"SELECT id, created_at FROM comments WHERE created_at < :after_created_at {_ORDER} LIMIT 20",
                "comparing created_at alone skips"),
        Mistake(f"SELECT id, created_at FROM comments WHERE created_at <= :after_created_at {_ORDER} LIMIT 20",
                "repeats the cursor's own comment"),
        Mistake(f"SELECT id, created_at FROM comments WHERE (created_at, id) <= (:after_created_at, :after_id) "
                f"{_ORDER} LIMIT 20", "Compare the row, strictly"),
        Mistake("SELECT id, created_at FROM comments WHERE (created_at, id) < (:after_created_at, :after_id) "
                "ORDER BY created_at DESC LIMIT 20", "only by the chance of the plan"),
        Mistake("SELECT id, created_at FROM comments WHERE (created_at, id) < (:after_created_at, :after_id) "
                "ORDER BY created_at DESC, id LIMIT 20", "first missing row"),
        Mistake("SELECT id, created_at FROM comments WHERE created_at < :after_created_at OR "
                f"(created_at = :after_created_at AND id < :after_id) {_ORDER} LIMIT 20", "reads 150,"),
        Mistake(f"SELECT id, created_at FROM comments {_ORDER} LIMIT 20 OFFSET (SELECT count(*) FROM comments "
                "WHERE (created_at, id) >= (:after_created_at, :after_id))", "rows of comments to return"),
        Mistake("SELECT * FROM comments WHERE (created_at, id) < (:after_created_at, :after_id) "
                f"{_ORDER} LIMIT 20", "your result has 5 columns"),
        Mistake("SELECT id, created_at FROM comments WHERE (created_at, id) < (:after_created_at, :after_id) "
                f"{_ORDER} LIMIT 21", "your result has 21 rows, expected 20"),
        Mistake("SELECT id, created_at FROM comments WHERE (created_at, id) > (:after_created_at, :after_id) "
                "ORDER BY created_at, id LIMIT 20", "comes before the cursor"),
    ],
    alternatives=[
        "SELECT id, created_at FROM comments WHERE ROW(created_at, id) < ROW(:after_created_at, :after_id) "
        f"{_ORDER} FETCH FIRST 20 ROWS ONLY",
        "SELECT c.id, c.created_at FROM comments AS c WHERE (c.created_at, c.id) < "
        "(CAST(:after_created_at AS timestamptz), CAST(:after_id AS uuid)) ORDER BY 2 DESC, 1 DESC LIMIT 20",
        "SELECT id, created_at FROM comments WHERE created_at <= :after_created_at AND "
        f"(created_at < :after_created_at OR id < :after_id) {_ORDER} LIMIT 20",
        "WITH page AS (SELECT id, created_at FROM comments WHERE (created_at, id) < (:after_created_at, :after_id) "
        f"{_ORDER} LIMIT 20) SELECT id, created_at FROM page {_ORDER}",
        "SELECT created_at, id FROM comments WHERE (created_at, id) < (:after_created_at, :after_id) "
        f"{_ORDER} LIMIT 20;",
    ],
)

# ---------------------------------------------------------------- 2. the index for a tag's page

RUST = "161f7ec8-a248-a13b-613e-7df51df3c1ae"  # the tag 'rust': 9,209 posts
_TAG_TARGET = f"""
SELECT post_id, created_at FROM post_tags
WHERE tag_id = '{RUST}'
  AND (created_at, post_id) < ('2025-12-03 22:31:06.967135+00', '49c9a329-00f1-f3f4-3ceb-96406740554b')
ORDER BY created_at DESC, post_id DESC
LIMIT 20
"""


def _walks_an_index_that_starts_with_tag_id(trial: Trial) -> str | None:
    from .. import catalog

    assert trial.plan is not None and trial.conn is not None
    by_name = {ix.name: ix for ix in catalog.indexes(trial.conn, "post_tags")}
    walked = [by_name[node.index] for node in trial.plan.nodes() if node.index in by_name]
    wrong = [ix for ix in walked if ix.columns[:1] != ("tag_id",)]
    if wrong:
        ix = wrong[0]
        if ix.predicate and "tag_id" in ix.predicate:
            return (f"the plan walks your partial index {ix.name} (WHERE {ix.predicate}): it holds one tag's rows, "
                    "so it serves that tag and no other. Put tag_id first and leave out the WHERE.")
        return (f"the plan walks the index {ix.name} ({', '.join(ix.columns)}), which starts with {ix.columns[0]}: it "
                "reads every tag's rows in that order and keeps this tag's. Put the equality column first: "
                "tag_id, then the columns of the ORDER BY.")
    return None


def _why_the_index_is_not_walked(trial: Trial) -> str | None:
    """On a wrong answer only: what about the answer's own index keeps the planner from walking it for the page."""
    from .. import catalog

    assert trial.plan is not None and trial.conn is not None
    walked = {node.index for node in trial.plan.nodes() if node.index}
    for ix in catalog.indexes(trial.conn, "post_tags"):
        if ix.primary or ix.name == "idx_post_tags_tag_id" or ix.columns[:1] != ("tag_id",):
            continue
        if ix.method != "btree":
            return (f"Your index {ix.name} is a {ix.method} index: only a B-tree gives rows in order, so the plan "
                    "still sorts.")
        if ix.predicate and ix.name not in walked:
            return (f"Your index {ix.name} is partial (WHERE {ix.predicate}): the query's condition does not imply "
                    "it (the cursor is not inside it), so the planner cannot use it. Leave out the WHERE.")
        if re.search(r"DESC NULLS LAST|(?<!DESC) NULLS FIRST", ix.definition):
            return (f"Your index {ix.name} puts nulls at the other end from the ORDER BY (DESC puts them first, ASC "
                    "last), so it cannot give the page's order even though the columns are NOT NULL: leave out "
                    "NULLS FIRST/LAST.")
        if "created_at" in ix.columns and "post_id" in ix.columns:
            desc = re.findall(r"(created_at|post_id)( DESC)?", ix.definition.split(" USING ", 1)[-1])
            if len({bool(d) for _, d in desc}) > 1:
                return (f"Your index {ix.name} has created_at and post_id in different directions; the ORDER BY has "
                        "both DESC: give them the same direction (both DESC, or both ASC, read backwards).")
    return None


tag_page_index = PlanExercise(
    LESSON,
    "tag_page_index",
    task=f"""
Section 8 built the index for one user's posts. The junction table needs the same for "the posts of a tag, newest
first": this query pages through the posts tagged `rust`, 500 rows in (`post_tags.created_at` is the post's own):

```sql
{_TAG_TARGET.strip()}
```
Create the index that lets it read only its page: no Sort, no Incremental Sort.
""",
    hints=[
        "The query filters on tag_id with = and orders by created_at DESC, post_id DESC: an index can give it the rows "
        "of one tag already in that order, starting at the cursor.",
        "CREATE INDEX ... ON post_tags (tag_id, created_at DESC, post_id DESC): the equality column first, then the "
        "ORDER BY's columns, every one of them.",
    ],
    solution="CREATE INDEX post_tags_tag_created_post_idx ON post_tags (tag_id, created_at DESC, post_id DESC)",
    target=_TAG_TARGET,
    setup=dataset_indexes_only("post_tags"),
    plan_requirements=[
        uses_index_on("post_tags"),
        _walks_an_index_that_starts_with_tag_id,
        no_node("Incremental Sort", "your index gives the tag's rows in created_at order but not in post_id order "
                                    "among rows with the same created_at: add post_id as its last column, in the "
                                    "same direction as created_at"),
        no_node("Sort", "PostgreSQL reads the tag's rows and sorts them: the index must go tag_id, then created_at, "
                        "then post_id"),
    ],
    diagnoses=[_why_the_index_is_not_walked],
    explanation=(
        "The index holds each tag's rows already in the order of the page, cursor included: PostgreSQL starts at the "
        "cursor and reads 20 entries, whatever the tag's size. A B-tree reads backwards as well as forwards, so "
        "(tag_id, created_at, post_id) works too."
    ),
    mistakes=[
        Mistake("CREATE INDEX ON post_tags (tag_id, created_at DESC)", "Incremental Sort"),
        Mistake("CREATE INDEX ON post_tags (tag_id, created_at DESC, post_id)", "Incremental Sort"),
        Mistake("CREATE INDEX ON post_tags (created_at, post_id)", "which starts with created_at"),
        Mistake("CREATE INDEX ON post_tags (created_at DESC, post_id DESC, tag_id)", "which starts with created_at"),
        Mistake("CREATE INDEX ON post_tags (tag_id, post_id, created_at)", "Sort"),
        Mistake("CREATE INDEX ON post_tags (tag_id) INCLUDE (created_at, post_id)", "Sort"),
        Mistake("CREATE INDEX ON post_tags (tag_id, created_at DESC, post_id DESC) WHERE created_at > '2025-12-31'",
                "partial"),
        Mistake("CREATE INDEX ON post_tags (tag_id, created_at DESC NULLS LAST, post_id DESC NULLS LAST)", "nulls"),
        Mistake("CREATE INDEX ON post_tags (tag_id, created_at ASC, post_id DESC)", "different directions"),
    ],
    alternatives=[
        "CREATE INDEX ON post_tags (tag_id, created_at, post_id)",
        "CREATE INDEX ON post_tags (tag_id, created_at DESC, post_id DESC) INCLUDE (post_id)",
        "DROP INDEX idx_post_tags_tag_id; CREATE INDEX idx_post_tags_tag_id ON post_tags (tag_id, created_at, post_id)",
        "CREATE UNIQUE INDEX ON post_tags (tag_id, created_at, post_id)",
        "create index on public.post_tags using btree (tag_id, created_at desc, post_id desc)",
        # an unused partial index beside the right one does not matter
        "CREATE INDEX ON post_tags (tag_id, created_at DESC, post_id DESC); "
        "CREATE INDEX recent_pt ON post_tags (post_id) WHERE created_at > '2026-01-01'",
    ],
)

# ---------------------------------------------------------------- 3. a next page, without counting

# Two cursors into comments (created_at, id), in the order created_at DESC, id DESC: MIDDLE, 150,000 comments down,
# and LAST, with exactly 20 comments after it (a full page, and no page after that one).
MIDDLE = (dt.datetime(2025, 8, 5, tzinfo=dt.timezone.utc), uuid.UUID("34cd1d19-f644-4b58-321c-90625a46cf5e"))
LAST = (dt.datetime(2025, 3, 8, tzinfo=dt.timezone.utc), uuid.UUID("035fae68-ab7f-46f6-e354-9ebc5ec5cf1a"))

_HAS_NEXT = """
import sqlalchemy as sa
from pglab.models import Comment
from pglab.exercises.lesson_05 import LAST, MIDDLE

def answer(session):
    result = {}
    for name, after in (("middle", MIDDLE), ("last", LAST)):
        rows = session.scalars(
            sa.select(Comment.id)
            .where(sa.tuple_(Comment.created_at, Comment.id) < after)
            .order_by(Comment.created_at.desc(), Comment.id.desc())
            .limit(21)  # one more than a page: if it comes, there is a next page
        ).all()
        result[f"{name}_ids"] = [str(i) for i in rows[:20]]
        result[f"{name}_has_next"] = len(rows) > 20
    return result
"""


def _page_code(body: str) -> str:
    return f"""
import sqlalchemy as sa
from pglab.models import Comment
from pglab.exercises.lesson_05 import LAST, MIDDLE

def answer(session):
    result = {{}}
    for name, after in (("middle", MIDDLE), ("last", LAST)):
{body}
    return result
"""


_WITH_COUNT = _page_code("""        where = sa.tuple_(Comment.created_at, Comment.id) < after
        rows = session.scalars(sa.select(Comment.id).where(where)
                               .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(20)).all()
        left = session.scalar(sa.select(sa.func.count()).select_from(Comment).where(where))
        result[f"{name}_ids"] = [str(i) for i in rows]
        result[f"{name}_has_next"] = left > 20""")

_FULL_PAGE_MEANS_MORE = _page_code("""        rows = session.scalars(sa.select(Comment.id).where(sa.tuple_(Comment.created_at, Comment.id) < after)
                               .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(20)).all()
        result[f"{name}_ids"] = [str(i) for i in rows]
        result[f"{name}_has_next"] = len(rows) == 20""")

_ALL_21 = _page_code("""        rows = session.scalars(sa.select(Comment.id).where(sa.tuple_(Comment.created_at, Comment.id) < after)
                               .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(21)).all()
        result[f"{name}_ids"] = [str(i) for i in rows]
        result[f"{name}_has_next"] = len(rows) > 20""")

_PYTHON_TUPLE = _page_code("""        rows = session.scalars(sa.select(Comment.id).where((Comment.created_at, Comment.id) < after)
                               .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(21)).all()
        result[f"{name}_ids"] = [str(i) for i in rows[:20]]
        result[f"{name}_has_next"] = len(rows) > 20""")

_COUNT_OVER = _page_code("""        rows = session.execute(
            sa.select(Comment.id, sa.func.count().over().label("left"))
            .where(sa.tuple_(Comment.created_at, Comment.id) < after)
            .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(20)).all()
        result[f"{name}_ids"] = [str(r.id) for r in rows]
        result[f"{name}_has_next"] = bool(rows) and rows[0].left > 20""")


def _python_tuple_comparison(trial: Trial) -> str | None:
    """A plain tuple compared with < in SQLAlchemy compiles to the first column only: name it (read from what the
    function sent, so that it works for a function and for source text alike)."""
    sent = [" ".join(s.split()) for s in trial.statements or ()]
    if any("comments.created_at <" in s and "(comments.created_at, comments.id) <" not in s for s in sent):
        return ("Your WHERE compares a plain Python tuple: SQLAlchemy turns (Comment.created_at, Comment.id) < after "
                "into comments.created_at < ..., the first column only. Build a SQL row value with "
                "sa.tuple_(Comment.created_at, Comment.id).")
    return None


has_next_without_count = StatementCountExercise(
    LESSON,
    "has_next_without_count",
    task="""
Write `answer(session)` that reads two pages of comments (20 each, in the order `created_at DESC, id DESC`): the page
after the comment `MIDDLE` and the page after `LAST` (both `(created_at, id)` tuples, imported below from
`pglab.exercises.lesson_05`), and says for each whether a next page exists, **without counting**: one statement per
page, reading only the page and one row more. Return `{"middle_ids": [ids as strings], "middle_has_next": bool,
"last_ids": [...], "last_has_next": bool}`.
After `LAST` there are exactly 20 comments: its page is full, and there is no page after it.
""",
    hints=[
        "A full page does not prove there is a next one. Ask for one row more than a page: if it comes, there is a "
        "next page; show only the first 20.",
        "sa.select(Comment.id).where(sa.tuple_(Comment.created_at, Comment.id) < after).order_by(Comment.created_at.desc(), "
        "Comment.id.desc()).limit(21)",
    ],
    solution=_HAS_NEXT,
    setup=_COMMENTS_ORDER_INDEX,
    max_statements=2,
    reads_at_most={"comments": 200},
    reads_why="asking whether there is a next page needs one row more than the page, not a count of every row after "
              "the cursor (count(*) OVER () counts them all too), and the cursor must be a range of the index (a row "
              "comparison), not an OR of two conditions, which is a Filter that reads its way to the cursor.",
    order_must_be_total=True,
    diagnoses=[_python_tuple_comparison],
    explanation=(
        "Fetching limit + 1 rows answers 'is there a next page?' for the price of one row; a count reads every row "
        "after the cursor, 149,999 of them for MIDDLE."
    ),
    mistakes=[
        Mistake(_WITH_COUNT, "sent 4 statements"),
        Mistake(_FULL_PAGE_MEANS_MORE, "For 'last_has_next' you returned True, expected False"),
        Mistake(_ALL_21, "For 'middle_ids'"),
        Mistake(_PYTHON_TUPLE, "the first column only"),
        Mistake(_COUNT_OVER, "rows of comments"),
        Mistake(_HAS_NEXT.replace(".order_by(Comment.created_at.desc(), Comment.id.desc())",
                                  ".order_by(Comment.created_at.desc())"), "another plan"),
        Mistake(_page_code("""        rows = session.execute(sa.text(
            "SELEC id FROM comments WHERE (created_at, id) < (:c, :i) "
            "ORDER BY created_at DESC, id DESC LIMIT 21"), {"c": after[0], "i": after[1]}).scalars().all()
        result[f"{name}_ids"] = [str(i) for i in rows[:20]]
        result[f"{name}_has_next"] = len(rows) == 21"""), "your function's SQL failed"),
    ],
    alternatives=[
        _page_code("""        rows = session.execute(sa.text(
            "SELECT id FROM comments WHERE (created_at, id) < (:c, :i) "
            "ORDER BY created_at DESC, id DESC LIMIT 21"), {"c": after[0], "i": after[1]}).scalars().all()
        result[f"{name}_ids"] = [str(i) for i in rows[:20]]
        result[f"{name}_has_next"] = len(rows) == 21"""),
        _page_code("""        query = (sa.select(Comment.id).where(sa.tuple_(Comment.created_at, Comment.id) < sa.tuple_(*after))
                 .order_by(Comment.created_at.desc(), Comment.id.desc()).slice(0, 21))
        ids = [str(i) for i in session.scalars(query)]
        result.update({f"{name}_ids": ids[:20], f"{name}_has_next": len(ids) > 20})"""),
    ],
)

EXERCISES: list[Exercise] = [keyset_next_page, tag_page_index, has_next_without_count]
