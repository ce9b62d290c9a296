"""Lesson 01: the guide's standard table, part by part.

Each exercise works on its own small table (documents, accounts, members, meetings). The notebook
creates them so the learner can try things with %sql; every check first recreates its table inside
the checker's rolled-back transaction, so it always starts from the state the task describes.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from ..errors import short_message
from . import ErrorHint, Exercise, Mistake, ResultExercise, SchemaExercise, Trial, accepts, probe_value, rejects

LESSON = "01_table_conventions"

DOCUMENTS_SQL = """
DROP TABLE IF EXISTS documents CASCADE;
CREATE TABLE documents (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title      text NOT NULL,
  body       text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO documents (title, body, created_at, updated_at)
VALUES ('first', 'draft', '2020-01-01 00:00+00', '2020-01-01 00:00+00'),
       ('untitled', NULL, '2020-01-01 00:00+00', '2020-01-01 00:00+00');
"""

# The notebook's section 4 creates this function in the lesson's database; the check creates it too, so
# an answer behaves the same whether or not the learner ran that section.
TOUCH_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
"""

ACCOUNTS_SQL = """
DROP TABLE IF EXISTS accounts CASCADE;
CREATE TABLE accounts (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email      varchar(255) NOT NULL UNIQUE,
  deleted_at timestamptz
);
"""

MEMBERS_SQL = """
DROP TABLE IF EXISTS members CASCADE;
CREATE TABLE members (
  id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL,
  role  varchar(20) NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'))
);
INSERT INTO members (email, role) VALUES ('ada@example.com', 'admin'), ('bob@example.com', 'user');
"""

MEETINGS_SQL = """
DROP TABLE IF EXISTS meetings CASCADE;
CREATE TABLE meetings (
  id        int PRIMARY KEY,
  title     text NOT NULL,
  starts_at timestamptz NOT NULL
);
INSERT INTO meetings (id, title, starts_at) VALUES
  (1, 'kick-off', '2025-01-15 09:00+00'),
  (2, 'review',   '2025-03-30 00:30+00'),
  (3, 'retro',    '2025-03-30 01:30+00'),
  (4, 'planning', '2025-07-01 16:00+00'),
  (5, 'demo',     '2025-10-26 00:30+00'),
  (6, 'party',    '2025-12-31 23:30+00');
"""

# The notebook runs this once so the learner can experiment on the same tables the checks use.
EXERCISE_TABLES = DOCUMENTS_SQL + ACCOUNTS_SQL + MEMBERS_SQL + MEETINGS_SQL


# ---------------------------------------------------------------- updated_at that updates itself

_TRIGGERS = """
SELECT tgname, tgtype FROM pg_trigger
WHERE tgrelid = 'documents'::regclass AND NOT tgisinternal
"""


def _trigger_diagnosis(conn: Connection) -> str:
    """Why a trigger did not move updated_at, read from pg_trigger (tgtype bits: 1 row, 2 before, 16 update)."""
    triggers = [(name, int(kind)) for name, kind in conn.exec_driver_sql(_TRIGGERS).fetchall()]
    if not triggers:
        return (" A DEFAULT is used when an INSERT leaves the column out (or writes DEFAULT), never by an UPDATE on "
                "its own; to change "
                "updated_at on every UPDATE you need a trigger.")
    on_update = [(name, kind) for name, kind in triggers if kind & 16]
    if not on_update:
        return " Your trigger does not fire on UPDATE (only on INSERT?): add UPDATE to its events."
    if not any(kind & 2 for _, kind in on_update):
        return (" Your trigger runs AFTER UPDATE: by then the row is written, and what the function does "
                "to NEW is ignored. Make it a BEFORE UPDATE trigger.")
    if not any(kind & 1 for _, kind in on_update):
        return " Your trigger runs once per statement; it must run FOR EACH ROW to change the row."
    return " Check that your function sets NEW.updated_at and returns NEW."


def _moved(conn: Connection, update: str, title: str = "first") -> tuple[BaseException | None, Any]:
    """Run update on the 'first' document (rolled back); did updated_at become the time of the update (not a date at
    midnight, not a fixed instant)?"""
    return probe_value(
        conn, update, f"SELECT updated_at BETWEEN now() AND clock_timestamp() FROM documents WHERE title = '{title}'"
    )


def _updated_at_moves(trial: Trial) -> str | None:
    conn = trial.conn
    assert conn is not None
    error, moved = _moved(conn, "UPDATE documents SET body = 'edited' WHERE title = 'first'")
    if error is not None:
        return f"updating a document failed with your trigger: {short_message(error)}"
    if not moved:
        _, changed = probe_value(conn, "UPDATE documents SET body = 'edited' WHERE title = 'first'",
                                 "SELECT updated_at <> '2020-01-01 00:00+00' FROM documents WHERE title = 'first'")
        if changed:
            return ("updated_at changed when a document was edited, but not to the time of the edit (current_date "
                    "is today at midnight; a constant is always the same instant): use now() or clock_timestamp().")
        return ("updated_at did not change when a document was edited "
                "(UPDATE documents SET body = 'edited').") + _trigger_diagnosis(conn)
    return None


def _updated_at_moves_on_title(trial: Trial) -> str | None:
    conn = trial.conn
    assert conn is not None
    error, moved = _moved(conn, "UPDATE documents SET title = 'renamed' WHERE title = 'first'", title="renamed")
    if error is not None:
        return f"renaming a document failed with your trigger: {short_message(error)}"
    if not moved:
        return ("updated_at moved when the body changed, but not when only the title changed "
                "(UPDATE documents SET title = 'renamed'). Does your trigger watch the body only "
                "(UPDATE OF body, or OLD.body compared with NEW.body)? Compare whole rows: "
                "OLD.* IS DISTINCT FROM NEW.*.")
    return None


def _updated_at_moves_from_null(trial: Trial) -> str | None:
    conn = trial.conn
    assert conn is not None
    error, moved = _moved(conn, "UPDATE documents SET body = 'written' WHERE title = 'untitled'", title="untitled")
    if error is not None:
        return f"filling in an empty document failed with your trigger: {short_message(error)}"
    if not moved:
        return ("updated_at did not move when a document's body went from NULL to 'written'. A comparison with <> "
                "is NULL, not true, when one side is NULL: compare with IS DISTINCT FROM, which treats NULL as a "
                "value (as a whole-row comparison of OLD and NEW does).")
    return None


def _updated_at_stays_on_noop(trial: Trial) -> str | None:
    conn = trial.conn
    assert conn is not None
    error, moved = _moved(conn, "UPDATE documents SET body = body WHERE title = 'first'")
    if error is not None:
        return f"an UPDATE that changes nothing failed with your trigger: {short_message(error)}"
    if moved:
        return ("an UPDATE that changed nothing (SET body = body) still moved updated_at. "
                "Compare the old row with the new one (OLD and NEW) before touching updated_at.")
    return None


_SOLUTION_TRIGGER = """
CREATE OR REPLACE FUNCTION documents_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TRIGGER documents_updated_at
BEFORE UPDATE ON documents
FOR EACH ROW
WHEN (OLD.* IS DISTINCT FROM NEW.*)
EXECUTE FUNCTION documents_set_updated_at();
"""


def _trigger(timing: str, events: str, level: str = "ROW", when: str = "") -> str:
    return f"""
CREATE OR REPLACE FUNCTION documents_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER documents_touch {timing} {events} ON documents FOR EACH {level} {when}
EXECUTE FUNCTION documents_touch();
"""


_ALREADY_EXISTS = ErrorHint(
    r"function .* already exists",
    "A function of that name is already in the lesson's database (the notebook's touch_updated_at(), or one you "
    "made earlier). Write CREATE OR REPLACE FUNCTION, or reuse touch_updated_at() as it is and put the condition "
    "in the trigger's WHEN clause.",
)


updated_at_trigger = SchemaExercise(
    LESSON,
    "updated_at_trigger",
    task="""
The table `documents (id, title, body, created_at, updated_at timestamptz NOT NULL DEFAULT now())` holds one
row, `'first'`, last updated on 2020-01-01. Make `updated_at` keep itself current: an `UPDATE` that changes a
document sets it to the current time, but an `UPDATE` that changes nothing (`SET body = body`) leaves it
alone. Inserting documents must keep working. The function `touch_updated_at()` from section 4 exists
already: reuse it, or give yours another name (or write `CREATE OR REPLACE FUNCTION`).
""",
    hints=[
        "A column DEFAULT is used when an INSERT leaves the column out (or writes DEFAULT), never by an UPDATE on its "
        "own: you need a "
        "trigger function that sets "
        "NEW.updated_at and returns NEW, attached with CREATE TRIGGER ... BEFORE UPDATE ... FOR EACH ROW.",
        "To skip updates that change nothing, give the trigger a condition: WHEN (OLD.* IS DISTINCT FROM NEW.*) "
        "(or compare OLD and NEW inside the function).",
    ],
    solution=_SOLUTION_TRIGGER,
    setup=DOCUMENTS_SQL + TOUCH_FUNCTION_SQL,
    error_hints=[_ALREADY_EXISTS],
    requirements=[
        _updated_at_moves,
        _updated_at_moves_on_title,
        _updated_at_moves_from_null,
        _updated_at_stays_on_noop,
        accepts("INSERT INTO documents (title) VALUES ('second')", why="inserting a document must keep working"),
    ],
    explanation=(
        "The checker edited the document's body, then its title, and saw updated_at move each time; then it "
        "ran an UPDATE that changed nothing and saw it stay. A BEFORE trigger can still change the row it is "
        "about to write; an AFTER trigger cannot."
    ),
    mistakes=[
        Mistake("ALTER TABLE documents ALTER COLUMN updated_at SET DEFAULT now()", "never by an UPDATE on its own"),
        Mistake(_trigger("AFTER", "UPDATE"), "AFTER UPDATE"),
        Mistake(_trigger("BEFORE", "INSERT"), "does not fire on UPDATE"),
        Mistake(_trigger("BEFORE", "UPDATE"), "changed nothing"),
        Mistake(_trigger("BEFORE", "UPDATE", level="STATEMENT"), "FOR EACH ROW"),
        Mistake(_trigger("BEFORE", "UPDATE", when="WHEN (OLD.body IS DISTINCT FROM NEW.body)"), "only the title"),
        Mistake(_trigger("BEFORE", "UPDATE OF body", when="WHEN (OLD.* IS DISTINCT FROM NEW.*)"), "only the title"),
        Mistake(TOUCH_FUNCTION_SQL.replace("CREATE OR REPLACE", "CREATE")
                + "CREATE TRIGGER documents_touch BEFORE UPDATE ON documents FOR EACH ROW "
                  "WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION touch_updated_at();",
                "CREATE OR REPLACE FUNCTION"),
        Mistake(_trigger("BEFORE", "UPDATE", when="WHEN (OLD.body <> NEW.body OR OLD.title <> NEW.title)"),
                "IS DISTINCT FROM"),
        Mistake("""
CREATE OR REPLACE FUNCTION documents_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE documents SET updated_at = now() WHERE id = NEW.id; RETURN NEW; END $$;
CREATE TRIGGER documents_touch AFTER UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION documents_touch();
""", "fires it again"),
        Mistake("""
CREATE OR REPLACE FUNCTION documents_today() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := current_date; RETURN NEW; END $$;
CREATE TRIGGER documents_today BEFORE UPDATE ON documents FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
EXECUTE FUNCTION documents_today();
""", "not to the time of the edit"),
    ],
    alternatives=[
        "CREATE TRIGGER documents_touched BEFORE UPDATE ON documents FOR EACH ROW "
        "WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION touch_updated_at()",
        # A whole-row comparison treats NULL as a value (unlike OLD.body <> NEW.body): right too.
        _trigger("BEFORE", "UPDATE", when="WHEN (OLD.* <> NEW.*)"),
        """
CREATE OR REPLACE FUNCTION keep_current() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW IS DISTINCT FROM OLD THEN
    NEW.updated_at = clock_timestamp();
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER keep_current BEFORE UPDATE ON documents FOR EACH ROW EXECUTE PROCEDURE keep_current();
""",
        "CREATE TRIGGER t BEFORE UPDATE OF title, body ON documents FOR EACH ROW "
        "WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.body IS DISTINCT FROM NEW.body) "
        "EXECUTE FUNCTION touch_updated_at()",
        "BEGIN; CREATE TRIGGER t BEFORE UPDATE ON documents FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) "
        "EXECUTE FUNCTION touch_updated_at(); COMMIT;",
    ],
)


# ---------------------------------------------------------------- unique email among live accounts


def _unique_indexes_with_deleted_at(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("""
        SELECT count(*) FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = 'accounts'::regclass AND i.indisunique AND a.attname = 'deleted_at'
    """).scalar())


def _probe_accounts(rows: str) -> str:
    return f"INSERT INTO accounts (email, deleted_at) VALUES {rows}"


def _rejects_live_duplicate(trial: Trial) -> str | None:
    conn = trial.conn
    assert conn is not None
    sql = _probe_accounts("('ann@example.com', NULL), ('ann@example.com', NULL)")
    error, _ = probe_value(conn, sql)
    if error is not None:
        return None
    problem = "two live accounts with the same email (ann@example.com, deleted_at NULL) were both accepted."
    if _unique_indexes_with_deleted_at(conn):
        problem += (" A unique index that includes deleted_at cannot stop them: NULLs are distinct, so two rows "
                    "with deleted_at NULL never count as duplicates.")
    return problem


def _rejects_live_duplicate_any_case(trial: Trial) -> str | None:
    conn = trial.conn
    assert conn is not None
    sql = _probe_accounts("('ann@example.com', NULL), ('Ann@Example.com', NULL)")
    error, _ = probe_value(conn, sql)
    if error is not None:
        return None
    return ("ann@example.com and Ann@Example.com were both accepted as live accounts: emails must be unique "
            "ignoring case, so index lower(email) rather than email.")


def _allows_signup_after_delete(trial: Trial) -> str | None:
    conn = trial.conn
    assert conn is not None
    sql = _probe_accounts("('ann@example.com', '2024-01-01 00:00+00'), ('ann@example.com', NULL)")
    error, _ = probe_value(conn, sql)
    if error is None:
        return None
    still_there = conn.exec_driver_sql(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND conname = 'accounts_email_key'"
    ).scalar()
    why = ("the plain UNIQUE accounts_email_key is still there: drop it." if still_there else
           "your unique index also covers deleted rows: add WHERE deleted_at IS NULL.")
    return ("a user who deleted their account could not sign up again with the same email: "
            f"{short_message(error)} ({why})")


def _ignores_deleted_rows(trial: Trial) -> str | None:
    conn = trial.conn
    assert conn is not None
    sql = _probe_accounts(
        "('bob@example.com', '2024-01-01 00:00+00'), ('bob@example.com', '2024-01-01 00:00+00'), "
        "('Bob@Example.com', '2024-02-01 00:00+00')"
    )
    error, _ = probe_value(conn, sql)
    if error is None:
        return None
    return ("two deleted accounts with the same email and the same deleted_at (say, closed by one bulk job) "
            f"were rejected: {short_message(error)} Deleted rows must not be constrained at all: "
            "leave them out of the index with a WHERE clause.")


_SOLUTION_UNIQUE = """
ALTER TABLE accounts DROP CONSTRAINT accounts_email_key;
CREATE UNIQUE INDEX accounts_live_email_key ON accounts (lower(email)) WHERE deleted_at IS NULL;
"""

_DROP_KEY = "ALTER TABLE accounts DROP CONSTRAINT accounts_email_key;\n"

live_email_unique = SchemaExercise(
    LESSON,
    "live_email_unique",
    task="""
The table `accounts (id, email varchar(255) NOT NULL UNIQUE, deleted_at timestamptz)` uses soft delete. Change
it so that no two **live** accounts (`deleted_at IS NULL`) share an email, **ignoring case**
(`Ann@Example.com` is `ann@example.com`), while deleted accounts never block anything: someone who deleted their
account can sign up again. Its plain `UNIQUE` is the constraint `accounts_email_key`.
""",
    hints=[
        "The plain UNIQUE counts deleted rows too: drop it (ALTER TABLE accounts DROP CONSTRAINT accounts_email_key).",
        "A unique index can have a WHERE clause (a partial index) and can index an expression such as lower(email).",
    ],
    solution=_SOLUTION_UNIQUE,
    setup=ACCOUNTS_SQL,
    requirements=[
        _rejects_live_duplicate,
        _rejects_live_duplicate_any_case,
        _allows_signup_after_delete,
        _ignores_deleted_rows,
    ],
    explanation=(
        "A partial unique index constrains only the rows its WHERE clause selects: the live ones. "
        "The checker probed it with duplicate sign-ups, a re-sign-up after deletion and deleted duplicates."
    ),
    mistakes=[
        Mistake("CREATE UNIQUE INDEX ON accounts (lower(email)) WHERE deleted_at IS NULL",
                "accounts_email_key is still there"),
        Mistake(_DROP_KEY + "CREATE UNIQUE INDEX ON accounts (lower(email))", "also covers deleted rows"),
        Mistake(_DROP_KEY + "CREATE UNIQUE INDEX ON accounts (email) WHERE deleted_at IS NULL", "ignoring case"),
        Mistake(_DROP_KEY + "ALTER TABLE accounts ADD UNIQUE (email, deleted_at)", "NULLs are distinct"),
        Mistake(_DROP_KEY + "CREATE UNIQUE INDEX ON accounts (lower(email), deleted_at) NULLS NOT DISTINCT",
                "same deleted_at"),
    ],
    alternatives=[
        "ALTER TABLE accounts DROP CONSTRAINT accounts_email_key; "
        "CREATE UNIQUE INDEX ON accounts (upper(email)) WHERE deleted_at IS NULL",
        "ALTER TABLE accounts DROP CONSTRAINT accounts_email_key, "
        "ADD CONSTRAINT one_live_email EXCLUDE USING btree (lower(email) WITH =) WHERE (deleted_at IS NULL)",
        "ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_email_key; "
        "CREATE UNIQUE INDEX live_email ON accounts (lower(email::text)) WHERE deleted_at IS NULL",
    ],
)


# ---------------------------------------------------------------- a new role in a CHECK list


def _member(role: str) -> str:
    return f"INSERT INTO members (email, role) VALUES ('new@example.com', {role})"


_ALLOWED_ROLES = {"user", "admin", "moderator"}


def _answers_own_roles_rejected(trial: Trial) -> str | None:
    """Every string the answer itself writes (a list entry, an enum label, a lookup row) that is not an allowed role
    must be rejected: the fixed probes above cannot guess a role the answer adds on its own, such as 'owner'."""
    import re

    from .learner_sql import without_comments

    assert trial.conn is not None and trial.script is not None
    text = without_comments(trial.script.text)
    literals = {m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", text)}
    for role in sorted(literals - _ALLOWED_ROLES):
        if not role or len(role) > 20:
            continue
        error, accepted = probe_value(trial.conn, _member("'" + role.replace("'", "''") + "'"), "SELECT true")
        if error is None and accepted:
            return (f"your schema accepts the role {role!r}, which your answer writes itself: only 'moderator' is "
                    "new, every other role must still be rejected.")
    return None


add_moderator = SchemaExercise(
    LESSON,
    "add_moderator",
    task="""
The table `members` has `role varchar(20) NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'))` and two
members, an admin and a user. Allow the new role `'moderator'`, while every other role, compared exactly as
before (say `'superuser'`, or `'Moderator'`), is still rejected.
""",
    hints=[
        "A CHECK constraint cannot be edited in place: find its name (\\d members, or pg_constraint), drop it, "
        "and add the new one.",
        "ALTER TABLE members DROP CONSTRAINT members_role_check, ADD CONSTRAINT members_role_check "
        "CHECK (role IN (...)) does both in one statement.",
    ],
    solution="""
ALTER TABLE members
  DROP CONSTRAINT members_role_check,
  ADD CONSTRAINT members_role_check CHECK (role IN ('user', 'admin', 'moderator'));
""",
    # section 6 of the notebook made a roles table and a user_role type: a right answer may use those names again
    setup="DROP TABLE IF EXISTS roles CASCADE; DROP TYPE IF EXISTS user_role CASCADE;\n" + MEMBERS_SQL,
    requirements=[
        accepts(_member("'moderator'"), why="'moderator' must be a valid role now"),
        rejects(_member("'superuser'"), why="an unknown role must still be rejected"),
        rejects(_member("'editor'"), why="every unknown role must still be rejected, not only 'superuser': "
                                         "list the roles that are allowed rather than the ones that are not"),
        rejects(_member("'Moderator'"), why="roles are compared exactly, as the old CHECK did: 'Moderator' "
                                            "is not one of them"),
        rejects(_member("'mod'"), why="only the role 'moderator' is new: 'mod' must still be rejected"),
        rejects(_member("'moderators'"), why="a role must be one of the list, whole: 'moderators' is not 'moderator' "
                                             "(a regular expression needs both ^ and $ to match the whole value; a LIKE pattern must not end in %)"),
        rejects(_member("'administrator'"), why="a role must be one of the list, whole: 'administrator' is not "
                                                "'admin' (a regular expression needs both ^ and $ to match the whole value; a LIKE pattern must not end in %)"),
        rejects(_member("'xmoderator'"), why="a role must be one of the list, whole: 'xmoderator' is not "
                                             "'moderator' (a regular expression needs both ^ and $ to match the whole value; a LIKE pattern must not end in %)"),
        accepts(_member("'admin'"), why="'admin' must stay valid"),
        accepts(_member("'user'"), why="'user' must stay valid"),
        rejects(_member("NULL"), why="role must stay required"),
        _answers_own_roles_rejected,
    ],
    explanation=(
        "Changing a CHECK list is DDL: adding the new constraint checks every existing row while the table is "
        "under an ACCESS EXCLUSIVE lock, so reads and writes wait. On a big table, add it NOT VALID (the lock is "
        "then brief: no rows are checked), and VALIDATE CONSTRAINT in a later transaction (in a migration: the "
        "checker runs your answer as one): it checks the rows under a SHARE UPDATE EXCLUSIVE lock, which lets "
        "reads and writes go on. Even the brief lock waits for every transaction using the table, and queues "
        "every later query behind it: run it with a short lock_timeout."
    ),

    mistakes=[
        Mistake("ALTER TABLE members DROP CONSTRAINT members_role_check", "'superuser'"),
        Mistake(
            "ALTER TABLE members ADD CONSTRAINT members_role_check2 CHECK (role IN ('user', 'admin', 'moderator'))",
            'violates check constraint "members_role_check"',
        ),
        Mistake(
            "ALTER TABLE members DROP CONSTRAINT members_role_check, "
            "ADD CHECK (role IN ('user', 'moderator'))",
            "A row already in members breaks your CHECK",
        ),
        Mistake("ALTER TABLE members DROP CONSTRAINT members_role_check, ADD CHECK (role <> 'superuser')",
                "'editor'"),
        Mistake("ALTER TABLE members DROP CONSTRAINT members_role_check, "
                "ADD CHECK (lower(role) IN ('user', 'admin', 'moderator'))", "'Moderator' is not one of them"),
        Mistake("ALTER TABLE members DROP CONSTRAINT members_role_check, "
                "ADD CHECK (role IN ('user', 'admin') OR role LIKE 'mod%')", "'mod' must still be rejected"),
        Mistake("ALTER TABLE members DROP CONSTRAINT members_role_check, "
                "ADD CHECK (role ~ '^(user|admin|moderator)')", "'moderators' is not 'moderator'"),
        Mistake("ALTER TABLE members DROP CONSTRAINT members_role_check, "
                "ADD CHECK (role ~ '(user|admin|moderator)$')", "'superuser'"),
        Mistake("ALTER TABLE members DROP CONSTRAINT members_role_check, "
                "ADD CHECK (role IN ('user', 'admin', 'moderator', 'owner'))", "the role 'owner'"),
    ],
    alternatives=[
        "ALTER TABLE members DROP CONSTRAINT members_role_check;\n"
        "ALTER TABLE members ADD CONSTRAINT members_role_check "
        "CHECK (role = ANY (ARRAY['user', 'admin', 'moderator']::text[])) NOT VALID;\n"
        "ALTER TABLE members VALIDATE CONSTRAINT members_role_check;",
        "ALTER TABLE members DROP CONSTRAINT members_role_check, ADD CHECK (role ~ '^(user|admin|moderator)$')",
        "CREATE TABLE roles (name text PRIMARY KEY); INSERT INTO roles VALUES ('user'), ('admin'), ('moderator'); "
        "ALTER TABLE members DROP CONSTRAINT members_role_check, ADD FOREIGN KEY (role) REFERENCES roles (name)",
        "CREATE TYPE member_role AS ENUM ('user', 'admin', 'moderator'); "
        "ALTER TABLE members DROP CONSTRAINT members_role_check, ALTER COLUMN role DROP DEFAULT, "
        "ALTER COLUMN role TYPE member_role USING role::member_role, ALTER COLUMN role SET DEFAULT 'user'",
    ],
)


# ---------------------------------------------------------------- wall-clock time in a time zone

local_times = ResultExercise(
    LESSON,
    "local_times",
    task="""
The table `meetings (id, title, starts_at timestamptz)` holds six meetings. For each, return its `id`, `title`
and the wall-clock time it starts in Paris (time zone `'Europe/Paris'`) as a `timestamp` without time zone,
ordered by `id`. Careful: Paris is one hour ahead of UTC in winter, two in summer.
""",
    hints=[
        "timestamptz AT TIME ZONE 'zone name' gives the local wall-clock time in that zone, as a timestamp.",
        "Use the zone's name, not a fixed offset: the name knows the daylight saving rules. (A fixed offset is "
        "doubly wrong: AT TIME ZONE '+01:00' follows the POSIX convention, where + means west of Greenwich, so it "
        "is UTC-1.)",
    ],
    solution="SELECT id, title, starts_at AT TIME ZONE 'Europe/Paris' AS paris_time FROM meetings ORDER BY id",
    setup=MEETINGS_SQL,
    ordered=True,
    typed=["paris_time"],
    explanation=(
        "AT TIME ZONE with a zone name applies the zone's rules for that date: meetings 2 and 3 are an hour "
        "apart in UTC but two hours apart on Paris clocks, because the clocks went forward in between."
    ),
    mistakes=[
        Mistake("SELECT id, title, starts_at::timestamp FROM meetings ORDER BY id", "first missing row: (id=1"),
        Mistake(
            "SELECT id, title, (starts_at AT TIME ZONE 'UTC') + interval '1 hour' FROM meetings ORDER BY id",
            "first missing row: (id=3",
        ),
        Mistake("SELECT id, title, starts_at AT TIME ZONE '+01:00' FROM meetings ORDER BY id", "first missing row"),
        Mistake("SELECT id, title, (starts_at AT TIME ZONE 'Europe/Paris') AT TIME ZONE 'UTC' FROM meetings "
                "ORDER BY id", "the task asks for a timestamp without time zone"),
        Mistake("SET LOCAL TimeZone = 'Europe/Paris'; SELECT id, title, starts_at FROM meetings ORDER BY id",
                "the task asks for a timestamp without time zone"),
        Mistake("SELECT id, title, to_char(starts_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD HH24:MI:SS') "
                "FROM meetings ORDER BY id", "is of type text"),
        Mistake("SELECT id, title, starts_at AT TIME ZONE 'Europe/Paris' FROM meetings", "no ORDER BY"),
    ],
    alternatives=[
        "SELECT id, title, timezone('Europe/Paris', starts_at) AS local FROM meetings ORDER BY 1",
        "SET LOCAL TimeZone = 'Europe/Paris'; SELECT id, title, starts_at::timestamp FROM meetings ORDER BY id",
        "SELECT m.id, m.title, (m.starts_at AT TIME ZONE 'Europe/Paris')::timestamp(0) FROM meetings m ORDER BY m.id",
    ],
)

EXERCISES: list[Exercise] = [updated_at_trigger, live_email_unique, add_moderator, local_times]

__all__ = ["EXERCISES", "EXERCISE_TABLES"]
