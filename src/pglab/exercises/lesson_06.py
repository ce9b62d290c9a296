"""Lesson 06: efficient filtering. An index that leaves nothing for a Filter, one composite for a range and an
order under any status, a query a generic plan can still serve from a partial index, and extended statistics."""
from __future__ import annotations

from . import (
    Case, ErrorHint, Exercise, Mistake, PlanExercise, SchemaExercise, Since, Trial, dataset_indexes_only, no_node,
    uses_index_named,
)

LESSON = "06_filtering"

ACTIVE_ADMINS = "SELECT * FROM users WHERE role = 'admin' AND status = 'active' AND deleted_at IS NULL"

# ---------------------------------------------------------------- 1. nothing left for the Filter


_FILTERED = ("role", "status", "deleted_at")


def _no_filter_on_users(trial: Trial) -> str | None:
    from .. import catalog

    assert trial.plan is not None and trial.conn is not None
    scans = [node for node in trial.plan.nodes() if node.relation == "users"]
    if any(node.node_type == "Seq Scan" for node in scans):
        useful = [ix for ix in catalog.indexes(trial.conn, "users") if ix.columns[:1] and ix.columns[0] in _FILTERED
                  and not ix.primary]
        if useful:
            return (f"the plan reads all of users with a Seq Scan, and rightly: your index {useful[0].name} starts with "
                    f"{useful[0].columns[0]}, and status = 'active' (88% of users) or deleted_at IS NULL (99%) would find "
                    "nearly every row through it, which costs more than reading the table. Start with the rare "
                    "condition: role = 'admin' (0.1%).")
        return "the plan still reads all of users with a Seq Scan: no index starts with a column the query filters on."
    for node in scans:
        if node.rows_removed:
            condition = node.raw.get("Filter") or node.raw.get("Recheck Cond", "")
            return (f"the index finds candidates, but then {node.rows_removed:,} rows are read from the table and "
                    f"thrown away by Filter: {condition}. Put every condition in the index: as key columns, or in a "
                    "partial index's WHERE.")
    return None


def _status_index_not_combined(trial: Trial) -> str | None:
    """(role) and (status) side by side: say why PostgreSQL did not combine them."""
    assert trial.plan is not None and trial.conn is not None
    from .. import catalog

    leading = {ix.columns[:1] for ix in catalog.indexes(trial.conn, "users")}
    if {("status",), ("role",)} <= leading and not trial.plan.has_node("BitmapAnd"):
        return ("PostgreSQL did not combine your index on status with the other: status = 'active' matches 88% of "
                "users, so reading that index costs more than checking the rows it would have ruled out.")
    return None


admins_index = PlanExercise(
    LESSON,
    "admins_index",
    task=f"""
Create **one** index that lets the guide's `activeAdmins` query find its rows without reading a single row it then
throws away (no Filter on `users` in the plan):

```sql
{ACTIVE_ADMINS}
```
""",
    hints=[
        "An index on role alone finds the admins, then reads each one to check status and deleted_at: those checks "
        "are the plan's Filter.",
        "Put every condition in the index: (role, status) as key columns, and deleted_at IS NULL as the WHERE of a "
        "partial index.",
    ],
    solution="CREATE INDEX users_admins_idx ON users (role, status) WHERE deleted_at IS NULL",
    setup=dataset_indexes_only("users"),
    target=ACTIVE_ADMINS,
    analyze=True,
    plan_requirements=[_no_filter_on_users],
    diagnoses=[_status_index_not_combined],
    explanation=(
        "Every condition is now either a key the index searches or the WHERE of a partial index: the scan returns "
        "exactly the 873 active, live admins and the table throws nothing away."
    ),
    mistakes=[
        Mistake("CREATE INDEX ON users (role)", "thrown away by Filter"),
        Mistake("CREATE INDEX ON users (role); CREATE INDEX ON users (status)", "did not combine"),
        Mistake("CREATE INDEX ON users (role, status)", "Filter: (deleted_at IS NULL)"),
        Mistake("CREATE INDEX ON users (status)", "88% of users"),
        Mistake("CREATE INDEX ON users (created_at) WHERE deleted_at IS NULL", "Seq Scan"),
        Mistake("CREATE INDEX ON users (deleted_at)", "Seq Scan"),
    ],
    alternatives=[
        "CREATE INDEX ON users (status, role) WHERE deleted_at IS NULL",
        "CREATE INDEX ON users (role, status, deleted_at)",
        "CREATE INDEX ON users (status) WHERE role = 'admin' AND deleted_at IS NULL",
        "CREATE INDEX ON users (id) WHERE role = 'admin' AND status = 'active' AND deleted_at IS NULL",
        "CREATE INDEX ON users (deleted_at, role, status)",
    ],
)

# ---------------------------------------------------------------- 2. equality first, then the range


def _status_then_created_at(trial: Trial) -> str | None:
    from .. import catalog

    assert trial.plan is not None and trial.conn is not None
    by_name = {ix.name: ix for ix in catalog.indexes(trial.conn, "users")}
    walked = [by_name[node.index] for node in trial.plan.nodes() if node.index in by_name]
    if not walked:
        return "the plan reads all of users with a Seq Scan."
    ix = walked[0]
    if ix.predicate and ix.columns[:2] != ("status", "created_at"):
        return (f"your index {ix.name} holds only the rows WHERE {ix.predicate}: the status comes from the operator's "
                "choice, so the index must serve every status (make status a key column instead).")
    if ix.columns[:1] == ("created_at",):
        return (f"the plan uses {ix.name} ({', '.join(ix.columns)}): with created_at first, the range created_at >= ... "
                "is where the index starts, and status is checked entry by entry over every user since July. Put the "
                "equality column first: (status, created_at).")
    if ix.columns[:2] != ("status", "created_at"):
        return (f"the plan uses {ix.name} ({', '.join(ix.columns)}): it finds the users of that status, then reads each "
                "to check created_at, or sorts them all for the newest. The index must go status, then created_at.")
    return None


def _targets() -> list[tuple[str, str]]:
    found = []
    for status in ("banned", "inactive"):
        found.append((f"filtering {status} users by sign-up date",
                      f"SELECT id, email FROM users WHERE status = '{status}' AND created_at >= '2025-07-01'"))
        found.append((f"the 20 newest {status} users",
                      f"SELECT id, email FROM users WHERE status = '{status}' ORDER BY created_at DESC LIMIT 20"))
    return found


equality_then_range = PlanExercise(
    LESSON,
    "equality_then_range",
    task="""
An admin screen filters users by a status the operator picks and a sign-up date, and also lists the newest users of
a status:

```sql
SELECT id, email FROM users WHERE status = :status AND created_at >= :since;
SELECT id, email FROM users WHERE status = :status ORDER BY created_at DESC LIMIT 20;
```
Create **one** index that serves both, for any status. (The checker plans both with 'banned' and with 'inactive'.)
""",
    hints=[
        "One query compares status with = and created_at with >=; the other filters on status and sorts by created_at.",
        "Equality columns first, then the range (or the sort): CREATE INDEX ... ON users (status, created_at).",
    ],
    solution="CREATE INDEX users_status_created_at_idx ON users (status, created_at)",
    setup=dataset_indexes_only("users"),
    targets=_targets(),
    plan_requirements=[_status_then_created_at, no_node("Sort", "the index does not give the rows in created_at order "
                                                                "for one status")],
    explanation=(
        "With status first, each status's users sit together in created_at order: the range is one stretch of the "
        "index, and the newest 20 are its last entries. With created_at first, status would be checked entry by entry."
    ),
    mistakes=[
        Mistake("CREATE INDEX ON users (created_at, status)", "Put the equality column first"),
        Mistake("CREATE INDEX ON users (status)", "The index must go status, then created_at"),
        Mistake("CREATE INDEX ON users (created_at)", "Put the equality column first"),
        Mistake("CREATE INDEX ON users (status); CREATE INDEX ON users (created_at)", "status"),
        Mistake("CREATE INDEX ON users (created_at) WHERE status = 'banned'", "the status comes from the operator"),
    ],
    alternatives=[
        "CREATE INDEX ON users (status, created_at) WHERE status IS NOT NULL",  # status is NOT NULL: every row is in it
        "CREATE INDEX ON users (status, created_at DESC)",
        "CREATE INDEX ON users (status, created_at) INCLUDE (email)",
        "CREATE INDEX ON users (status, created_at, id)",
        "create index on public.users using btree (status, created_at, email)",
    ],
)

# ---------------------------------------------------------------- 3. a partial index under a generic plan

_ADMINS_INDEXES = dataset_indexes_only("users") + """
CREATE INDEX users_created_at_idx ON users (created_at);
CREATE INDEX users_admins_created_idx ON users (created_at) WHERE role = 'admin';
"""


def _parameter_in_the_predicate(trial: Trial) -> str | None:
    from .learner_sql import named_parameters

    if isinstance(trial.answer, str) and named_parameters(trial.answer):
        return ("A generic plan is made before a parameter's value is known, so PostgreSQL cannot prove that "
                "role = $1 matches the index's WHERE role = 'admin', and it may not use the index. Write the condition "
                "the index is for as a literal in the SQL.")
    return ("PostgreSQL uses a partial index only when it can prove that the query's WHERE implies the index's "
            "(role = 'admin'): write exactly that condition.")


partial_index_generic_plan = PlanExercise(
    LESSON,
    "partial_index_generic_plan",
    task="""
The app lists the 20 newest admins (`id`, `email`, newest first). The partial index
`users_admins_created_idx ON users (created_at) WHERE role = 'admin'` exists for it (the checker creates it, next to
`users_created_at_idx ON users (created_at)`). The query runs as a prepared statement, which PostgreSQL may plan
generically, before it knows any parameter's value. Write it so that even a generic plan uses the partial index.
(You may use a parameter such as `:role`: the checker binds `'admin'` to it.)
""",
    hints=[
        "A generic plan is made for every possible value of a parameter: could role = :role use an index that only "
        "holds admins?",
        "Write the condition the partial index is for as a literal: WHERE role = 'admin' ORDER BY created_at DESC LIMIT 20.",
    ],
    solution="SELECT id, email FROM users WHERE role = 'admin' ORDER BY created_at DESC LIMIT 20",
    setup=_ADMINS_INDEXES,
    answer_is="query",
    ordered=True,
    cases=[Case("for the newest admins", "SELECT 'admin'::text AS role")],
    generic_plan=True,
    plan_requirements=[uses_index_named("users_admins_created_idx")],
    diagnoses=[_parameter_in_the_predicate],
    explanation=(
        "With the literal in the SQL, every plan of the statement, generic or not, can prove the index's WHERE and "
        "reads 20 entries of an index that holds only admins."
    ),
    mistakes=[
        Mistake("SELECT id, email FROM users WHERE role = :role ORDER BY created_at DESC LIMIT 20", "literal in the SQL"),
        Mistake("SELECT id, email FROM users WHERE role <> 'user' ORDER BY created_at DESC LIMIT 20", "implies"),
        Mistake("SELECT id, email FROM users WHERE lower(role) = 'admin' ORDER BY created_at DESC LIMIT 20", "implies"),
        Mistake("SELECT id, email FROM users WHERE role LIKE 'admin' ORDER BY created_at DESC LIMIT 20", "implies"),
        Mistake("SELECT id, email FROM users WHERE role = 'admin' LIMIT 20", "no ORDER BY"),
        Mistake("SELECT id, email FROM users WHERE role = 'admin' ORDER BY created_at DESC LIMT 20", "syntax error"),
    ],
    alternatives=[
        "SELECT id, email FROM users WHERE 'admin' = role ORDER BY created_at DESC LIMIT 20",
        "SELECT id, email FROM users WHERE role IN ('admin') ORDER BY created_at DESC LIMIT 20",
        "SELECT u.id, u.email FROM users AS u WHERE u.role = 'admin'::varchar ORDER BY u.created_at DESC "
        "FETCH FIRST 20 ROWS ONLY",
        "SELECT id, email FROM users WHERE role = 'admin' AND role = :role ORDER BY created_at DESC LIMIT 20",
    ],
)

# ---------------------------------------------------------------- 4. statistics for correlated columns

# A quarter of the profiles, with the country each city is in: city decides country, which the planner does not know.
PLACES_SQL = """
DROP TABLE IF EXISTS places;
CREATE TABLE places AS
SELECT p.id, p.user_id, p.location AS city, c.country, p.created_at
FROM profiles AS p
LEFT JOIN (VALUES ('Lisbon', 'Portugal'), ('Berlin', 'Germany'), ('Nairobi', 'Kenya'), ('Lima', 'Peru'),
                  ('Osaka', 'Japan'), ('Toronto', 'Canada'), ('Melbourne', 'Australia'), ('Lagos', 'Nigeria'),
                  ('Oslo', 'Norway'), ('Austin', 'United States'), ('Pune', 'India'), ('Seoul', 'South Korea'))
     AS c(city, country) ON c.city = p.location
WHERE p.user_id::text < '4';
CREATE INDEX places_city_idx ON places (city);
CREATE INDEX places_created_at_idx ON places (created_at);
ANALYZE places;
"""
ESTIMATED = {
    "Lisbon in Portugal": "SELECT count(*) FROM places WHERE city = 'Lisbon' AND country = 'Portugal'",
    "the newest Lisbon places in Japan (none)":
        "SELECT id, created_at FROM places WHERE city = 'Lisbon' AND country = 'Japan' ORDER BY created_at DESC LIMIT 10",
}


def _estimates_within_ten_times(trial: Trial) -> str | None:
    from ..explain import explain

    assert trial.conn is not None
    kept = trial.value_of("SELECT count(*) = (SELECT count(*) FROM profiles WHERE user_id::text < '4') FROM places")
    if not kept:
        return ("places does not hold the rows the checker built any more (emptied, replaced or changed): the task is "
                "to make the planner's estimates right for the data as it is, not to change the data.")
    for label, query in ESTIMATED.items():
        plan = explain(trial.conn, query)
        node = next((n for n in plan.nodes() if n.relation == "places"), None)
        if node is None:
            return "the plan does not read the table places any more: did your answer rename or replace it?"
        if node.misestimate > 10:
            return (f"for {label} (`{query}`) the planner estimated {node.estimated_rows:,} rows and {node.rows:,} came "
                    f"({node.misestimate:,.0f}x {node.estimate_direction}).{_statistics_diagnosis(trial)}")
    return None


def _statistics_diagnosis(trial: Trial) -> str:
    assert trial.conn is not None
    # pg_stats_ext, not pg_statistic_ext_data: the view shows a table's owner its statistics without superuser.
    rows = trial.conn.exec_driver_sql("""
        SELECT s.stxname, s.stxkind::text, d.statistics_name IS NOT NULL
               AND (d.most_common_vals IS NOT NULL OR d.dependencies IS NOT NULL OR d.n_distinct IS NOT NULL)
        FROM pg_statistic_ext AS s
        LEFT JOIN pg_stats_ext AS d ON d.statistics_schemaname = s.stxnamespace::regnamespace::text
                                   AND d.statistics_name = s.stxname
        WHERE s.stxrelid = 'places'::regclass""").all()
    if not rows:
        return (" There is no statistics object on places: the planner multiplies the two conditions' selectivities "
                "as if city said nothing about country. CREATE STATISTICS ... ON city, country FROM places.")
    name, kinds, filled = rows[0]
    if not filled:
        return f" Your statistics object {name} is empty: CREATE STATISTICS only defines it; ANALYZE places fills it."
    if "m" not in kinds and "f" in kinds:  # stxkind: f dependencies, d ndistinct, m mcv, e expressions
        return (" Functional dependencies say that city decides country, but not which country, so Lisbon with Japan "
                "looks as common as Lisbon alone. The mcv kind stores the real combinations.")
    if "m" not in kinds:
        return " ndistinct helps estimate GROUP BY city, country, not a WHERE on them: use the mcv kind."
    return ""


extended_statistics = SchemaExercise(
    LESSON,
    "extended_statistics",
    task="""
The checker builds the table `places` of section 4 (a city and its country for a quarter of the profiles). Make the
planner's estimates for a city and a country together right, so that each of these is estimated within 10 times of
what it returns:

```sql
SELECT count(*) FROM places WHERE city = 'Lisbon' AND country = 'Portugal';
SELECT id, created_at FROM places WHERE city = 'Lisbon' AND country = 'Japan' ORDER BY created_at DESC LIMIT 10;
```
""",
    hints=[
        "The planner keeps statistics per column and multiplies selectivities, as if the columns were independent.",
        "CREATE STATISTICS places_city_country (mcv) ON city, country FROM places; then ANALYZE places, which fills "
        "it (the dependencies kind alone does not tell which country goes with which city).",
    ],
    solution="""
CREATE STATISTICS places_city_country (dependencies, mcv) ON city, country FROM places;
ANALYZE places;
""",
    may_analyze=("places",),
    setup=PLACES_SQL,
    kind_label="statistics: the checker plans both queries after your answer and compares estimates with actual rows",
    requirements=[_estimates_within_ten_times],
    error_hints=[ErrorHint(r'syntax error at or near "ON"',
                           "Before PostgreSQL 16 a statistics object needs a name: CREATE STATISTICS places_city_country "
                           "(mcv) ON city, country FROM places.")],
    explanation=(
        "The mcv list holds the real (city, country) combinations and how common each is: Lisbon with Portugal is "
        "found at its own frequency, Lisbon with Japan is known to be (almost) absent, and the plan follows."
    ),
    mistakes=[
        Mistake("TRUNCATE places", "not hold the rows"),
        Mistake("CREATE STATISTICS places_city_country (dependencies, mcv) ON city, country FROM places", "is empty"),
        Mistake("CREATE STATISTICS s1 (mcv) ON city, country FROM places; ", "is empty"),
        Mistake("CREATE STATISTICS places_dep (dependencies) ON city, country FROM places; ANALYZE places",
                "which country"),
        Mistake("CREATE STATISTICS places_nd (ndistinct) ON city, country FROM places; ANALYZE places", "GROUP BY"),
        Mistake("CREATE INDEX ON places (city, country); ANALYZE places", "no statistics object"),
        Mistake("ALTER TABLE places ALTER COLUMN city SET STATISTICS 1000, ALTER COLUMN country SET STATISTICS 1000; "
                "ANALYZE places", "no statistics object"),
    ],
    alternatives=[
        "CREATE STATISTICS places_city_country (mcv) ON city, country FROM places; ANALYZE places",
        Since(160000, "CREATE STATISTICS ON city, country FROM places; ANALYZE places"),
        "CREATE STATISTICS IF NOT EXISTS s (mcv, ndistinct) ON country, city FROM places; ANALYZE places (city, country)",
        "CREATE STATISTICS s (mcv) ON lower(city), country, city FROM places; ANALYZE places",
    ],
)

EXERCISES: list[Exercise] = [admins_index, equality_then_range, partial_index_generic_plan, extended_statistics]
