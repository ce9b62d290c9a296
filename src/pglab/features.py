"""Optional server features some lessons use, and why one is missing: one sentence, with what would fix it.

A lesson asks `lab.requires("pgstattuple")` (True, or False after printing why that part is skipped); a cell
that needs the feature carries the tag `requires-<feature>`, and on a server without it the test run reports
that cell as skipped, with the same sentence, instead of comparing its output.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .errors import short_message
from .pgstat import why_untracked

# Extensions the lessons install in their own database when the server has them. Installing an untrusted one
# needs a superuser (on a shared server, the instructor installs it in template1 before the workshop).
EXTENSIONS = ("pgstattuple", "pg_trgm", "btree_gist", "btree_gin", "pg_visibility", "pageinspect")
FEATURES = ("pg_stat_statements", *EXTENSIONS)


# Installed by the lab's own role when it makes a lesson's database (in the dataset's template, or in an empty
# database), so that the learner role, which may not install an untrusted extension, can use them. pageinspect is
# left out: its functions are for superusers only, whoever installs it.
PREINSTALLED = ("pg_stat_statements", "pgstattuple", "pg_trgm", "btree_gin", "btree_gist", "pg_visibility")


def preinstall(conn: Connection) -> None:
    """CREATE EXTENSION for each of PREINSTALLED the server has and this role may install (the rest: see
    why_missing, which a lesson's `lab.requires` reports)."""
    available = set(conn.exec_driver_sql("SELECT name FROM pg_available_extensions").scalars())
    for extension in PREINSTALLED:
        if extension in available:
            try:
                with conn.begin_nested():
                    conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {extension}")
            except sa.exc.DBAPIError:
                pass


def why_missing(engine: Engine, feature: str) -> str | None:
    """None when the lesson's database has the feature (installing an extension if it may); else why not."""
    if feature == "pg_stat_statements":
        return why_untracked(engine)
    if feature not in EXTENSIONS:
        raise ValueError(f"unknown feature {feature!r}: one of {', '.join(FEATURES)}")
    try:
        with engine.begin() as conn:
            available = conn.execute(sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = :n"),
                                     {"n": feature}).scalar_one()
            if not available:
                return f"this server has no {feature} extension (it comes with PostgreSQL's contrib modules)."
            conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {feature}")
            if feature == "pgstattuple" and not conn.exec_driver_sql(
                    "SELECT has_function_privilege('pgstatindex(regclass)', 'execute')").scalar():
                return ("you may not run pgstattuple's functions (a superuser can GRANT pg_stat_scan_tables "
                        "to your role).")
    except sa.exc.DBAPIError as error:
        if "permission denied" in str(error.orig) or "must be" in str(error.orig):
            return (f"the {feature} extension is not installed in this database and you may not install it "
                    f"(a superuser can run CREATE EXTENSION {feature} in template1 before the lessons are started).")
        return f"{feature} is not usable here: {short_message(error)}"
    return None


__all__ = ["EXTENSIONS", "FEATURES", "PREINSTALLED", "preinstall", "why_missing"]
