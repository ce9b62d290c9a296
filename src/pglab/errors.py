"""Short, friendly error messages: for a learner's bad SQL and for a lab that cannot start."""
from __future__ import annotations

from typing import Any


class LabSetupError(RuntimeError):
    """The lab cannot reach or start a database. Its message is one sentence saying what to do."""


class ClaimFailed(AssertionError):
    """A lesson measured something that does not agree with what the text is about to say."""


def where(sql: str, position: int, width: int = 76) -> list[str]:
    """psql's pointer to an error: the line holding the 1-based character `position`, and a caret under it."""
    if not 0 < position <= len(sql) + 1:
        return []
    before = sql[: position - 1]
    number = before.count("\n") + 1
    start = before.rfind("\n") + 1
    end = sql.find("\n", start)
    line = sql[start:] if end < 0 else sql[start:end]
    column = position - 1 - start
    prefix = f"LINE {number}: "
    if len(line) > width:  # keep a window around the position, as psql does with "..."
        left = max(0, column - width // 2)
        shown = line[left:left + width]
        column -= left
        if left:
            shown, column = "..." + shown, column + 3
        line = shown + ("..." if left + width < len(line) else "")
    return [prefix + line.expandtabs(1), " " * (len(prefix) + column) + "^"]


def short_message(error: BaseException, sql: str | None = None) -> str:
    """A few lines for a database error: the server's message, where in the SQL (when the server says and the
    SQL is known), its detail and hint; no traceback."""
    original: Any = getattr(error, "orig", None) or error
    diag = getattr(original, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if not primary:
        text = str(original).strip()
        # SQLAlchemy appends "(Background on this error at: ...)" and the statement: keep the first line.
        return text.splitlines()[0] if text else type(error).__name__
    parts = [f"ERROR: {primary}"]
    sql = sql if sql is not None else getattr(error, "statement", None)
    position = getattr(diag, "statement_position", None)
    if sql and position and str(position).isdigit():
        parts += where(sql, int(position))
    for label, attr in (("DETAIL", "message_detail"), ("HINT", "message_hint")):
        value = getattr(diag, attr, None)
        # "Failing row contains (...)" repeats the whole row, generated ids and now() included: noise.
        if value and not value.startswith("Failing row contains"):
            parts.append(f"{label}: {value}")
    return "\n".join(parts)


def is_database_error(error: BaseException) -> bool:
    """True for errors raised by PostgreSQL (through psycopg or SQLAlchemy), not for Python bugs."""
    try:
        import psycopg
        from sqlalchemy import exc as sa_exc
    except ImportError:  # pragma: no cover - both are dependencies
        return False
    return isinstance(error, (psycopg.Error, sa_exc.DBAPIError))


STOPPED = ("■ Run All stopped at this cell: the cells below it have not run. Fix this cell and run it again, then "
           "go on with the cells below (or Run All again).")


def install_notebook_handler() -> None:
    """In IPython, show database errors (from Python code and from %sql) as one short message.

    JupySQL wraps driver errors in a UsageError with advice about "snippets" that does not apply
    here; the handler shows the server's own message instead. JupySQL rolls the aborted
    transaction back before the next %sql query, so its warning about doing so is silenced.
    """
    try:
        import warnings

        from IPython import get_ipython
        from IPython.core.error import UsageError
        from sqlalchemy import exc as sa_exc
        import psycopg
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    warnings.filterwarnings("ignore", message=".*JupySQL executed a ROLLBACK.*")
    warnings.filterwarnings("ignore", message="Current transaction is aborted.*")

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
        from .display import show_text

        if isinstance(value, LabSetupError):
            show_text(f"Lab setup problem: {value}", "error")
            return None
        cause = value if is_database_error(value) else value.__cause__
        if cause is not None and is_database_error(cause):
            show_text(short_message(cause) + "\n(Rolled back: the connection is ready for your next query.)\n"
                      + STOPPED, "error")
            return None
        if isinstance(value, UsageError):
            shell.show_usage_error(value)
            return None
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None

    shell.set_custom_exc((sa_exc.DBAPIError, psycopg.Error, LabSetupError, UsageError), handler)
