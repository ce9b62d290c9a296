"""Alembic environment of the lab's migrations.

Online, it runs on the connection the caller passes in `config.attributes["connection"]` (the notebook's, through
pglab.migrations.run), else on `sqlalchemy.url`. Every revision runs in a transaction of its own
(transaction_per_migration: a revision with an autocommit block needs it, and a retry resumes at the revision that
failed) with a short lock_timeout: a revision that cannot get its lock in time is rolled back and tried again after
a pause, so a waiting ALTER TABLE never holds the application's queries up for longer than the timeout.

Offline (`--sql`), it writes both timeouts before the revisions' SQL, as the online run sets them.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import context

config = context.config
log = logging.getLogger("alembic.env")

LOCK_TIMEOUT = str(config.attributes.get("lock_timeout", "2s"))
STATEMENT_TIMEOUT = str(config.attributes.get("statement_timeout", "60s"))
RETRIES = int(config.attributes.get("lock_retries", 5))
BACKOFF_S = float(config.attributes.get("lock_backoff_s", 0.5))
LOCK_NOT_AVAILABLE = "55P03"  # the SQLSTATE of "canceling statement due to lock timeout"


def target_metadata() -> Any:
    """What `alembic check` compares the database with: the schema at head (head_models.py), or the caller's."""
    if "target_metadata" in config.attributes:
        return config.attributes["target_metadata"]
    spec = importlib.util.spec_from_file_location("lab_head_models", Path(__file__).with_name("head_models.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.metadata


def is_lock_timeout(error: BaseException) -> bool:
    return getattr(getattr(error, "orig", None), "sqlstate", None) == LOCK_NOT_AVAILABLE


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url") or "postgresql+psycopg://",
                      target_metadata=target_metadata(), literal_binds=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        context.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    engine = None
    if connection is None:
        url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
        if not url:
            raise SystemExit("No database: run the migrations through pglab.migrations.run(engine, ...), or set "
                             "DATABASE_URL (postgresql+psycopg://...) for the alembic command line.")
        engine = sa.create_engine(url)
        connection = engine.connect()
    try:
        connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        connection.exec_driver_sql(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        connection.commit()  # session settings; and Alembic must get a connection that is not in a transaction
        context.configure(connection=connection, target_metadata=target_metadata(), transaction_per_migration=True,
                          compare_type=True, on_version_apply=config.attributes.get("on_version_apply", ()))
        for attempt in range(1, RETRIES + 1):
            try:
                with context.begin_transaction():
                    context.run_migrations()  # starts at the revision the version table says
                return
            except sa.exc.OperationalError as error:
                if not is_lock_timeout(error) or attempt == RETRIES:
                    raise
                connection.rollback()
                for hook in config.attributes.get("on_lock_timeout", ()):  # (a lesson's demo watches retries)
                    hook(attempt)
                log.warning("lock_timeout (%s) hit, attempt %d of %d; retrying in %.1f s",
                            LOCK_TIMEOUT, attempt, RETRIES, BACKOFF_S * attempt)
                time.sleep(BACKOFF_S * attempt)
    finally:
        if engine is not None:
            connection.close()
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
