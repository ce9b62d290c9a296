"""The lab's dataset: the guide's application schema filled with deterministic, realistically skewed data.

users (few admins, mostly active, about 1% soft-deleted), profiles (one-to-one for 40% of users),
posts (a long tail: early users write many, most write few or none), tags (Zipf-like popularity),
post_tags (0-3 tags a post) and comments. Every value is derived from the row number by a hash, so
a rebuild on any machine and any PostgreSQL 15-18 gives the same rows.

The data is built once into a template database; each lesson's database is a file copy of it.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import connection, databases, features, roles
from .errors import LabSetupError


@dataclass(frozen=True)
class Scale:
    name: str
    users: int
    posts: int
    comments: int
    tags: int = 300


SCALES: dict[str, Scale] = {
    "full": Scale("full", users=1_000_000, posts=1_000_000, comments=300_000),
    "small": Scale("small", users=20_000, posts=20_000, comments=6_000),
}


def current_scale() -> Scale:
    """PGLAB_SCALE=full (default: about 1M users and 1M posts) or small (quick runs; numbers shown differ)."""
    name = os.environ.get("PGLAB_SCALE", "full").strip().lower()
    if name not in SCALES:
        raise LabSetupError(f"PGLAB_SCALE={name!r} is not a scale the lab knows: use one of {', '.join(SCALES)}.")
    return SCALES[name]


SCHEMA = """
CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         varchar(255) NOT NULL UNIQUE,
  password_hash varchar(255) NOT NULL,
  role          varchar(20) NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  status        varchar(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'banned')),
  bio           text,
  avatar_url    varchar(500),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz
);
CREATE TABLE profiles (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id      uuid NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
  display_name varchar(100) NOT NULL,
  location     varchar(100),
  website      varchar(500),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE posts (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title      varchar(255) NOT NULL,
  content    text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE tags (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       varchar(50) NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE post_tags (
  post_id    uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  tag_id     uuid NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (post_id, tag_id)
);
CREATE TABLE comments (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  post_id    uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  body       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- The guide: "ALWAYS index foreign keys". Lesson 02 tests that rule (and leaves out the guide's
-- redundant post_tags(post_id) index here on purpose).
CREATE INDEX idx_posts_user_id ON posts (user_id);
CREATE INDEX idx_post_tags_tag_id ON post_tags (tag_id);
CREATE INDEX idx_comments_post_id ON comments (post_id);
CREATE INDEX idx_comments_user_id ON comments (user_id);
"""

# The indexes the dataset is built with, besides those of its primary keys and unique constraints: what a plan
# exercise starts from (exercises.probes.dataset_indexes_only drops any other index on the tables it plans).
TABLES = ("users", "posts", "comments", "tags", "post_tags", "profiles")  # the dataset's own tables
INDEXES = ("idx_posts_user_id", "idx_post_tags_tag_id", "idx_comments_post_id", "idx_comments_user_id")

# Where lesson 00's schema diagram (lab.draw_schema) places each table: users in the middle, what hangs off it around.
DIAGRAM_LAYOUT: dict[str, tuple[float, float]] = {
    "users": (3.4, 0), "profiles": (0, 0), "comments": (6.8, 0),
    "posts": (3.4, -4.6), "post_tags": (6.8, -4.6), "tags": (10.2, -4.6),
}

# Helpers live in pg_temp so they vanish with the build session and never show in a lesson's schema.
# r(seed, i) is a uniform number in [0, 1) computed from i alone: deterministic on every server.
# id(kind, i) is a UUID made from md5(kind-i): the same everywhere (random-looking like v4, but not
# version-stamped; lessons that compare UUID versions make their own with gen_random_uuid()/uuidv7()).
# Every table is computed from row numbers alone (no joins between tables), so tables build in parallel.
_HELPERS = """
CREATE OR REPLACE FUNCTION pg_temp.r(seed bigint, i bigint) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (hashint8extended(i, seed) & 2147483647)::float8 / 2147483648.0 $$;
CREATE OR REPLACE FUNCTION pg_temp.id(kind text, i bigint) RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT md5(kind || '-' || i)::uuid $$;
CREATE OR REPLACE FUNCTION pg_temp.pick(words text[], x float8) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT words[1 + floor(x * cardinality(words))::int] $$;
CREATE OR REPLACE FUNCTION pg_temp.user_created(i bigint, users bigint) RETURNS timestamptz LANGUAGE sql STABLE AS
$$ SELECT timestamptz '2021-01-01 00:00:00+00' + interval '1826 days' * ((i - 1)::float8 / users)
          + interval '12 hours' * pg_temp.r(11, i) $$;
CREATE OR REPLACE FUNCTION pg_temp.post_author(i bigint, users bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT 1 + floor(users * pg_temp.r(30, i) ^ 2)::bigint $$;
CREATE OR REPLACE FUNCTION pg_temp.post_created(author bigint, i bigint, users bigint) RETURNS timestamptz LANGUAGE sql STABLE AS
$$ SELECT pg_temp.user_created(author, users) + interval '1 day'
          + interval '1 second' * floor((1825 - 1825 * ((author - 1)::float8 / users)) * 86400 * pg_temp.r(39, i)) $$;
"""

_FIRST = "{ada,alan,grace,linus,barbara,edsger,donald,margaret,ken,dennis,frances,john,radia,guido,anita,niklaus,tim,leslie,sophie,james,yukihiro,bjarne,katherine,hedy,mary,rasmus,brendan,larry,michael,lisa}"
_LAST = "{lovelace,turing,hopper,torvalds,liskov,dijkstra,knuth,hamilton,thompson,ritchie,allen,backus,perlman,rossum,borg,wirth,berners,lamport,wilson,gosling,matsumoto,stroustrup,johnson,lamarr,keller,lerdorf,eich,wall,stonebraker,su}"
_DOMAINS = "{example.com,example.org,mail.example.net,corp.example.com,uni.example.edu}"
_CITIES = "{Lisbon,Berlin,Nairobi,Lima,Osaka,Toronto,Melbourne,Lagos,Oslo,Austin,Pune,Seoul}"
_TOPICS = (
    "{postgresql,python,javascript,typescript,sql,performance,indexing,orm,sqlalchemy,migrations,"
    "testing,devops,security,api,react,node,docker,kubernetes,cloud,data,analytics,json,caching,"
    "architecture,career,design,linux,rust,go,java}"
)
_WORDS = "{fast,slow,better,simple,hidden,modern,practical,common,tricky,safe,large,tiny,real,lazy,eager}"
_NOUNS = "{queries,indexes,joins,tables,migrations,models,pages,caches,locks,plans,backups,schemas,tests,teams,apps}"


@dataclass(frozen=True)
class TableJob:
    """One table: created, filled and given its own keys and indexes in one transaction."""

    table: str
    create: str
    fill: str
    keys: tuple[str, ...]


# Timestamps span 2021-01-01 .. 2026-01-01 (no now(): shown results never change).
_JOBS = [
    TableJob(
        "posts",
        """CREATE TABLE posts (id uuid DEFAULT gen_random_uuid(), user_id uuid NOT NULL,
             title varchar(255) NOT NULL, content text,
             created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())""",
        # Author of post i: user 1 + floor(users * r^2), so early users write the most (a long tail).
        """INSERT INTO posts (id, user_id, title, content, created_at, updated_at)
           SELECT pg_temp.id('post', i), pg_temp.id('user', author),
                  initcap(pg_temp.pick('{words}', pg_temp.r(31, i))) || ' ' || pg_temp.pick('{nouns}', pg_temp.r(32, i))
                    || ' in ' || pg_temp.pick('{topics}', pg_temp.r(33, i)) || ', part ' || (1 + i % 7),
                  CASE WHEN pg_temp.r(34, i) < 0.95 THEN
                    'Notes on ' || pg_temp.pick('{nouns}', pg_temp.r(35, i)) || ': '
                    || repeat('some ' || pg_temp.pick('{words}', pg_temp.r(36, i)) || ' text ', 3 + floor(pg_temp.r(37, i) * 10)::int)
                  END,
                  created, created + interval '20 days' * pg_temp.r(38, i) ^ 4
           FROM (SELECT i, author, pg_temp.post_created(author, i, {users}) AS created
                 FROM (SELECT i, pg_temp.post_author(i, {users}) AS author FROM generate_series(1, {posts}) AS i) AS a
                 OFFSET 0) AS s""",
        ("ALTER TABLE posts ADD PRIMARY KEY (id)", "CREATE INDEX idx_posts_user_id ON posts (user_id)"),
    ),
    TableJob(
        "post_tags",
        """CREATE TABLE post_tags (post_id uuid NOT NULL, tag_id uuid NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now())""",
        # 0-3 tags a post; tag k is drawn with probability about 1/k (log-uniform rank): Zipf-like.
        # A repeated draw within one post is skipped, so (post_id, tag_id) stays unique.
        """INSERT INTO post_tags (post_id, tag_id, created_at)
           SELECT pg_temp.id('post', i), pg_temp.id('tag', k), created
           FROM (SELECT i, pg_temp.post_created(author, i, {users}) AS created,
                        floor(pg_temp.r(49, i) * 4)::int AS n,
                        floor(exp(pg_temp.r(51, i) * ln({tags} + 1)))::int AS k1,
                        floor(exp(pg_temp.r(52, i) * ln({tags} + 1)))::int AS k2,
                        floor(exp(pg_temp.r(53, i) * ln({tags} + 1)))::int AS k3
                 FROM (SELECT i, pg_temp.post_author(i, {users}) AS author
                       FROM generate_series(1, {posts}) AS i OFFSET 0) AS a) AS s
           CROSS JOIN LATERAL (VALUES (1, k1), (2, k2), (3, k3)) AS d(j, k)
           WHERE j <= n AND k BETWEEN 1 AND {tags}
             AND (j = 1 OR (j = 2 AND k <> k1) OR (j = 3 AND k <> k1 AND k <> k2))""",
        ("ALTER TABLE post_tags ADD PRIMARY KEY (post_id, tag_id)",
         "CREATE INDEX idx_post_tags_tag_id ON post_tags (tag_id)"),
    ),
    TableJob(
        "users",
        """CREATE TABLE users (id uuid DEFAULT gen_random_uuid(), email varchar(255) NOT NULL,
             password_hash varchar(255) NOT NULL, role varchar(20) NOT NULL DEFAULT 'user',
             status varchar(20) NOT NULL DEFAULT 'active', bio text, avatar_url varchar(500),
             created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
             deleted_at timestamptz)""",
        """INSERT INTO users (id, email, password_hash, role, status, bio, avatar_url, created_at, updated_at, deleted_at)
           SELECT pg_temp.id('user', i),
                  pg_temp.pick('{first}', pg_temp.r(1, i)) || '.' || pg_temp.pick('{last}', pg_temp.r(2, i)) || i
                    || '@' || pg_temp.pick('{domains}', pg_temp.r(3, i)),
                  '$2b$12$' || md5('password-' || i),
                  CASE WHEN pg_temp.r(4, i) < 0.001 THEN 'admin' ELSE 'user' END,
                  CASE WHEN pg_temp.r(5, i) < 0.88 THEN 'active' WHEN pg_temp.r(5, i) < 0.97 THEN 'inactive' ELSE 'banned' END,
                  CASE WHEN pg_temp.r(6, i) < 0.35 THEN 'Writes about ' || pg_temp.pick('{topics}', pg_temp.r(7, i)) END,
                  CASE WHEN pg_temp.r(6, i) < 0.60 THEN 'https://cdn.example.com/avatars/' || i || '.png' END,
                  created, least(created + interval '400 days' * pg_temp.r(8, i) ^ 2, timestamptz '2026-01-01 00:00:00+00'),
                  CASE WHEN pg_temp.r(9, i) < 0.01 THEN created + interval '30 days' + interval '300 days' * pg_temp.r(10, i) END
           FROM (SELECT i, pg_temp.user_created(i, {users}) AS created FROM generate_series(1, {users}) AS i) AS s""",
        ("ALTER TABLE users ADD PRIMARY KEY (id), ADD UNIQUE (email), "
         "ADD CHECK (role IN ('user', 'admin')), ADD CHECK (status IN ('active', 'inactive', 'banned'))",),
    ),
    TableJob(
        "profiles",
        """CREATE TABLE profiles (id uuid DEFAULT gen_random_uuid(), user_id uuid NOT NULL,
             display_name varchar(100) NOT NULL, location varchar(100), website varchar(500),
             created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())""",
        """INSERT INTO profiles (id, user_id, display_name, location, website, created_at, updated_at)
           SELECT pg_temp.id('profile', i), pg_temp.id('user', i),
                  initcap(pg_temp.pick('{first}', pg_temp.r(1, i))) || ' ' || initcap(pg_temp.pick('{last}', pg_temp.r(2, i))),
                  CASE WHEN pg_temp.r(21, i) < 0.7 THEN pg_temp.pick('{cities}', pg_temp.r(22, i)) END,
                  CASE WHEN pg_temp.r(23, i) < 0.3 THEN 'https://blog.example.com/' || i END,
                  pg_temp.user_created(i, {users}) + interval '1 hour', pg_temp.user_created(i, {users}) + interval '1 hour'
           FROM generate_series(1, {users}) AS i
           WHERE pg_temp.r(20, i) < 0.4""",
        ("ALTER TABLE profiles ADD PRIMARY KEY (id), ADD UNIQUE (user_id)",),
    ),
    TableJob(
        "comments",
        """CREATE TABLE comments (id uuid DEFAULT gen_random_uuid(), post_id uuid NOT NULL, user_id uuid NOT NULL,
             body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())""",
        """INSERT INTO comments (id, post_id, user_id, body, created_at)
           SELECT pg_temp.id('comment', i), pg_temp.id('post', 1 + floor({posts} * pg_temp.r(60, i) ^ 3)::bigint),
                  pg_temp.id('user', 1 + floor({users} * pg_temp.r(61, i))::bigint),
                  'I think ' || pg_temp.pick('{nouns}', pg_temp.r(62, i)) || ' are ' || pg_temp.pick('{words}', pg_temp.r(63, i)) || '.',
                  timestamptz '2026-01-01 00:00:00+00' - interval '1 day' * floor(300 * pg_temp.r(64, i))
           FROM generate_series(1, {comments}) AS i""",
        ("ALTER TABLE comments ADD PRIMARY KEY (id)",
         "CREATE INDEX idx_comments_post_id ON comments (post_id)",
         "CREATE INDEX idx_comments_user_id ON comments (user_id)"),
    ),
    TableJob(
        "tags",
        """CREATE TABLE tags (id uuid DEFAULT gen_random_uuid(), name varchar(50) NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now())""",
        """INSERT INTO tags (id, name, created_at)
           SELECT pg_temp.id('tag', k),
                  CASE WHEN k <= cardinality('{topics}'::text[]) THEN ('{topics}'::text[])[k] ELSE 'topic-' || k END,
                  timestamptz '2021-01-01 00:00:00+00' + interval '1 day' * k
           FROM generate_series(1, {tags}) AS k""",
        ("ALTER TABLE tags ADD PRIMARY KEY (id), ADD UNIQUE (name)",),
    ),
]

# Added once every table is filled: each is checked in one pass instead of row by row.
_FOREIGN_KEYS = (
    "ALTER TABLE profiles ADD FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
    "ALTER TABLE posts ADD FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
    "ALTER TABLE post_tags ADD FOREIGN KEY (post_id) REFERENCES posts(id) ON DELETE CASCADE, "
    "ADD FOREIGN KEY (tag_id) REFERENCES tags(id) ON DELETE CASCADE",
    "ALTER TABLE comments ADD FOREIGN KEY (post_id) REFERENCES posts(id) ON DELETE CASCADE, "
    "ADD FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
)


def _format(sql: str, scale: Scale) -> str:
    return sql.format(
        users=scale.users, posts=scale.posts, comments=scale.comments, tags=scale.tags,
        first=_FIRST, last=_LAST, domains=_DOMAINS, cities=_CITIES, topics=_TOPICS, words=_WORDS, nouns=_NOUNS,
    )


def fingerprint(scale: Scale) -> str:
    """Changes whenever the schema, the generator or the scale changes, so a stale template is rebuilt."""
    parts = [repr(scale), _HELPERS, *_FOREIGN_KEYS, "VACUUM (FREEZE, PARALLEL 0) after every fill, committed synchronously",
             f"owned by {roles.role_name()}", "with", *features.PREINSTALLED, "revoked", *roles.SIDE_DOORS]
    parts += [_format(job.create + job.fill, scale) + "".join(job.keys) for job in _JOBS]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:10]


def template_name(scale: Scale) -> str:
    return f"{databases.prefix()}_dataset_{scale.name}_{fingerprint(scale)}"


def _stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress_bar(steps: int):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=steps, unit="step", file=sys.stderr, leave=True, dynamic_ncols=True,
                bar_format="  {bar:24} {n_fmt}/{total_fmt} steps, {elapsed}  {postfix}")


def ensure_template(
    scale: Scale | None = None, progress: Callable[[str], None] = _stderr_progress
) -> str:
    """Build the dataset's template database if it does not exist yet; return its name.

    Safe when several processes ask at once: one builds (under an advisory lock), the others wait.
    """
    scale = scale or current_scale()
    shared = os.environ.get("PGLAB_WORKSHOP_TEMPLATE")
    if shared:  # a workshop learner copies the instructor's template (pglab.workshop) and never builds one
        admin = connection.admin_engine()
        try:
            with admin.connect() as conn:
                usable = conn.execute(sa.text("SELECT datistemplate FROM pg_database WHERE datname = :n"),
                                      {"n": shared}).scalar()
        finally:
            admin.dispose()
        if not usable:
            raise LabSetupError(f"The workshop's dataset {shared} is not on this server (or not a template): ask the "
                                "instructor to run `python -m pglab workshop prepare`.")
        return shared
    name = template_name(scale)
    admin = connection.admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtext('pglab dataset build'))"))
            try:
                if databases.is_ours(conn, name):
                    return name
                _remove_stale_templates(conn, scale)
                _build(conn, name, scale, progress)
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext('pglab dataset build'))"))
    finally:
        admin.dispose()
    return name


def _remove_stale_templates(conn: sa.Connection, scale: Scale) -> None:
    stale = f"{databases.prefix()}_dataset_{scale.name}_"
    for existing, _comment in databases.ours(conn):
        if existing.startswith(stale):
            databases.drop_if_ours(conn, existing)


def _run_job(engine: Engine, job: TableJob, scale: Scale) -> tuple[str, float]:
    started = time.perf_counter()
    with engine.connect() as conn:
        raw = connection.driver(conn)  # the driver's execute: '%' in the SQL needs no escaping
        raw.autocommit = True
        raw.execute(_SYNCHRONOUS)
        with raw.transaction():
            # Created and filled in one transaction: with wal_level=minimal the server skips its WAL.
            raw.execute(_HELPERS)
            raw.execute(job.create)
            raw.execute(_format(job.fill, scale))
            for statement in job.keys:
                raw.execute(statement)
        raw.autocommit = False  # the connection goes back to the pool
    return job.table, time.perf_counter() - started


# The server commits asynchronously (synchronous_commit=off); a VACUUM that runs before a fill's commit record
# is flushed cannot mark that fill's pages all-visible (seen on PostgreSQL 15: one page of posts). The build
# commits synchronously, which costs nothing here (fsync is off).
_SYNCHRONOUS = "SET synchronous_commit = on"


def _vacuum(engine: Engine) -> None:
    with engine.connect() as conn:
        raw = connection.driver(conn)
        raw.autocommit = True
        raw.execute(_SYNCHRONOUS)
        raw.execute("VACUUM (FREEZE, PARALLEL 0) " + ", ".join(job.table for job in _JOBS))
        raw.execute("ANALYZE")
        raw.autocommit = False


def _build(conn: sa.Connection, name: str, scale: Scale, progress: Callable[[str], None]) -> None:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    building = name + "_building"
    started = time.perf_counter()
    progress(f"Building the lab dataset once ({scale.users:,} users, {scale.posts:,} posts; every lesson copies it):")
    databases.create(conn, building, f"dataset build in progress ({scale.name})")
    engine = connection.make_engine(connection.target().url_for(building), pool_size=2)
    bar = _progress_bar(len(_JOBS) + 2) if progress is _stderr_progress and sys.stderr.isatty() else None
    done: list[str] = []

    def finished(step: str, seconds: float) -> None:
        done.append(f"{step} {seconds:.1f} s")
        if bar is not None:
            bar.set_postfix_str(", ".join(done[-2:]), refresh=False)
            bar.update(1)
        else:
            progress(f"  {step:<14} {seconds:5.1f} s")

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:  # the biggest tables first, two at a time
            futures = [pool.submit(_run_job, engine, job, scale) for job in _JOBS]
            for future in as_completed(futures):
                finished(*future.result())
        step_start = time.perf_counter()
        with engine.begin() as build:
            build.exec_driver_sql(_SYNCHRONOUS)
            for statement in _FOREIGN_KEYS:
                build.exec_driver_sql(statement)
            features.preinstall(build)
            roles.hand_over(build, connection.lesson_role())
            roles.close_side_doors(build)
        finished("foreign keys", time.perf_counter() - step_start)
        # Only now, with every build transaction over and flushed, can VACUUM mark every page all-visible: a
        # table vacuumed while another table's fill was still running kept pages not all-visible, so lessons saw
        # Index Only Scans with heap fetches on one server and Seq Scans on another. One VACUUM at a time, and
        # PARALLEL 0: concurrent or parallel vacuuming was seen to leave pages not all-visible too.
        step_start = time.perf_counter()
        _vacuum(engine)
        finished("vacuum", time.perf_counter() - step_start)
    finally:
        if bar is not None:
            bar.close()
        engine.dispose()
    conn.execute(sa.text(f"ALTER DATABASE {databases.quote(building)} RENAME TO {databases.quote(name)}"))
    conn.execute(sa.text(f"ALTER DATABASE {databases.quote(name)} ALLOW_CONNECTIONS false"))
    databases.mark(conn, name, f"dataset template ({scale.name})")
    progress(f"Dataset ready in {time.perf_counter() - started:.1f} s.")


def verify_engine(engine: Engine) -> dict[str, int]:
    """Row counts of the dataset's tables (used by tests and lesson 00)."""
    with engine.connect() as conn:
        return {
            table: int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("users", "profiles", "posts", "tags", "post_tags", "comments")
        }
