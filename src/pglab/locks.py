"""Which locks a statement takes, and who waits for whom: pg_locks and pg_blocking_pids() read for a lesson.

- `observe(engine, statements)`: run statements one transaction each (or all in one) and report, per statement,
  the strongest lock it held on each table, whether it scanned a table (pg_stat_xact_user_tables), rewrote it
  (relfilenode changed), what PostgreSQL said at DEBUG1 ("rewriting table", "verifying table") and its time.
- `writer_wait(...)`: how long a second connection that updates one row waits while a backfill runs, and what
  pg_locks shows meanwhile.
- `queue(...)`: the lock queue with three kinds of connection (a long transaction, an ALTER TABLE, readers).

Every connection opened here has a lock_timeout and a statement_timeout, so a demo can never hang a run.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import psycopg
from sqlalchemy.engine import Engine

from .connection import SESSION_OPTIONS

# PostgreSQL's table lock modes, weakest first (https://www.postgresql.org/docs/current/explicit-locking.html)
MODES = ("AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
         "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
BLOCKS_WRITES = frozenset(MODES[4:])  # SHARE and stronger conflict with ROW EXCLUSIVE (INSERT, UPDATE, DELETE)
BLOCKS_READS = frozenset(MODES[-1:])  # only ACCESS EXCLUSIVE conflicts with ACCESS SHARE (SELECT)
DEMO_TIMEOUT = "30s"  # every connection of a demo gives up after this, whatever happens


def mode_name(mode: str) -> str:
    """'ShareRowExclusiveLock' -> 'SHARE ROW EXCLUSIVE' (how the documentation and LOCK TABLE spell it)."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", mode.removesuffix("Lock")).upper()


def strength(mode: str) -> int:
    return MODES.index(mode) if mode in MODES else -1


def strongest(modes: Iterable[str]) -> str | None:
    found = [m for m in modes if m in MODES]
    return max(found, key=MODES.index) if found else None


def dsn(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def connect(engine: Engine, *, autocommit: bool = True, lock_timeout: str = DEMO_TIMEOUT,
            statement_timeout: str = DEMO_TIMEOUT) -> psycopg.Connection[Any]:
    """A psycopg connection to the engine's database with the lab's session settings and both timeouts."""
    conn = psycopg.connect(dsn(engine), autocommit=autocommit, application_name="pglab",
                           options=f"{SESSION_OPTIONS} -c lock_timeout={lock_timeout} "
                                   f"-c statement_timeout={statement_timeout}")
    return conn


def held(conn: psycopg.Connection[Any], tables: Sequence[str] | None = None) -> dict[str, str]:
    """The strongest lock this session holds on each table it can name unqualified (the search path's)."""
    rows = conn.execute(
        "SELECT c.relname, l.mode FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation "
        "WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND c.relkind IN ('r', 'p') "
        "AND pg_table_is_visible(c.oid) AND c.relnamespace <> 'pg_catalog'::regnamespace").fetchall()
    out: dict[str, str] = {}
    for table, mode in rows:
        if (tables is None or table in tables) and strength(mode) > strength(out.get(table, "")):
            out[table] = mode
    return out


def _tables(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int]]:
    """table -> (relfilenode, scans of it in this transaction so far: sequential, or through an index)"""
    rows = conn.execute(
        "SELECT c.relname, c.relfilenode, coalesce(s.seq_scan, 0) + coalesce(s.idx_scan, 0) FROM pg_class AS c "
        "LEFT JOIN pg_stat_xact_user_tables AS s ON s.relid = c.oid "
        "WHERE c.relkind = 'r' AND pg_table_is_visible(c.oid) AND c.relnamespace <> 'pg_catalog'::regnamespace").fetchall()
    return {name: (int(node), int(scans)) for name, node, scans in rows}


_QUIET = ("building index", "index ", "drop auto-cascades", "CREATE TABLE will create", "ALTER TABLE will create",
          "ALTER TABLE / ADD", "CREATE TABLE / ")


@dataclass
class Step:
    """One statement, observed inside its transaction."""

    sql: str
    locks: dict[str, str]  # table -> strongest mode the transaction held after it
    added: dict[str, str]  # table -> the mode this statement raised the transaction's lock to
    scanned: list[str]
    rewritten: list[str]
    notices: list[str]
    ms: float
    error: str | None = None

    @property
    def short(self) -> str:
        text = " ".join(self.sql.split())
        return text if len(text) <= 90 else text[:87] + "..."


@dataclass
class Observation:
    steps: list[Step] = field(default_factory=list)

    def table(self, *tables: str, ms: bool = True) -> pd.DataFrame:
        rows = []
        for step in self.steps:
            row: dict[str, Any] = {"statement": step.short}
            for t in tables:
                row[f"lock on {t}"] = mode_name(step.locks[t]) if t in step.locks else ""
            row["scanned"] = ", ".join(step.scanned)
            row["rewrote"] = ", ".join(step.rewritten)
            row["PostgreSQL said (DEBUG1)"] = "; ".join(step.notices) or step.error or ""
            if ms:
                row["ms"] = round(step.ms, 1)
            rows.append(row)
        return pd.DataFrame(rows)

    def step(self, fragment: str) -> Step:
        for s in self.steps:
            if fragment.lower() in " ".join(s.sql.split()).lower():
                return s
        raise KeyError(fragment)


def observe(engine: Engine, statements: Sequence[str], *, together: bool = False, commit: bool = False,
            setup: Sequence[str] = ()) -> Observation:
    """Run each statement in a transaction of its own (together=True: all in one) and watch what it does.

    The transactions are rolled back unless commit=True. `setup` runs first, committed."""
    result = Observation()
    with connect(engine) as conn:
        for sql in setup:
            conn.execute(sql)
        notices: list[str] = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("SET client_min_messages = debug1")
        open_tx = False
        for sql in statements:
            if not open_tx:
                conn.execute("BEGIN")
                open_tx = True
            before, before_locks = _tables(conn), held(conn)
            notices.clear()
            started = time.perf_counter()
            error = None
            try:
                conn.execute(sql)
            except psycopg.Error as failure:
                error = (failure.diag.message_primary or str(failure)).strip()
            ms = (time.perf_counter() - started) * 1000
            said = [n for n in notices if not n.startswith(_QUIET)]
            if error is not None:
                conn.execute("ROLLBACK")
                open_tx = False
                result.steps.append(Step(sql, before_locks, {}, [], [], said, ms, error))
                continue
            after, locks = _tables(conn), held(conn)
            added = {t: m for t, m in locks.items() if strength(m) > strength(before_locks.get(t, ""))}
            scanned = [t for t, (_, s) in after.items() if t in before and s > before[t][1]]
            rewritten = [t for t, (n, _) in after.items() if t in before and n != before[t][0]]
            result.steps.append(Step(sql, locks, added, scanned, rewritten, said, ms))
            if not together:
                conn.execute("COMMIT" if commit else "ROLLBACK")
                open_tx = False
        if open_tx:
            conn.execute("COMMIT" if commit else "ROLLBACK")
        conn.execute("RESET client_min_messages")
    return result


# ------------------------------------------------------------------------------------------ one writer waits


@dataclass
class WriterWait:
    waited_s: float  # how long the one-row UPDATE took (its wait for the backfill's row lock, nearly all of it)
    locks: pd.DataFrame  # pg_locks of the backfill and the writer while the writer waited
    blocked_by_backfill: bool  # pg_blocking_pids(writer) = {the backfill}
    wait_event: str  # pg_stat_activity.wait_event_type / wait_event of the writer
    progress_when_done: int  # the backfill's progress counter when the writer's UPDATE returned
    total_s: float  # the backfill's time


def _wait_until(check: Callable[[], bool], timeout_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if check():
            return True
        if not alive():
            return check()
        time.sleep(0.003)
    return False


def writer_wait(engine: Engine, backfill: Callable[[Callable[[int], None], Callable[[], None]], None],
                victim_sql: str, victim_row: str, *, table: str = "users", done_when: str = "false") -> WriterWait:
    """Run `backfill(report_pid, tick)` (which calls report_pid with its session's pid first) and, once its
    transaction holds the row
    `victim_row` (a condition on `table` naming one row), send `victim_sql` (an UPDATE of that row) from a second
    connection: how long does it wait, and what do pg_locks and pg_blocking_pids() say meanwhile?

    `tick()` is for the backfill to call after each batch it commits (the counter says how far it got).
    `done_when` (a condition on the row, `t`) says the backfill has already passed the row (a batch that committed
    between two looks): the writer is sent at once then."""
    writer, watcher = connect(engine), connect(engine)
    writer_pid = writer.info.backend_pid
    pid: list[int] = []
    progress = [0]
    outcome: dict[str, Any] = {}

    def tick() -> None:
        progress[0] += 1

    def work() -> None:
        started = time.perf_counter()
        try:
            backfill(pid.append, tick)
        except BaseException as error:  # shown by the caller
            outcome["error"] = error
        outcome["total_s"] = time.perf_counter() - started

    def holds_victim() -> bool:
        if not pid:
            return False
        row = watcher.execute(
            f"SELECT t.xmax::text, a.backend_xid::text, ({done_when}) FROM {table} AS t, pg_stat_activity AS a "
            f"WHERE a.pid = %s AND {victim_row}", (pid[0],)).fetchone()
        return row is not None and ((row[1] is not None and row[0] == row[1]) or bool(row[2]))

    thread = threading.Thread(target=work)
    try:
        thread.start()
        if not _wait_until(holds_victim, 60, thread.is_alive):
            thread.join(60)
            if "error" in outcome:
                raise outcome["error"]
            raise RuntimeError("the backfill never locked the chosen row")

        def update() -> None:
            started = time.perf_counter()
            writer.execute(victim_sql)
            outcome["waited_s"] = time.perf_counter() - started
            outcome["progress"] = progress[0]

        second = threading.Thread(target=update)
        second.start()
        _wait_until(lambda: watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                            (writer_pid,)).fetchone() == ("Lock",), 30, second.is_alive)
        activity = watcher.execute(
            "SELECT coalesce(wait_event_type || ' / ' || wait_event, 'not waiting'), pg_blocking_pids(pid) "
            "FROM pg_stat_activity WHERE pid = %s", (writer_pid,)).fetchone()
        rows = watcher.execute(
            "SELECT CASE l.pid WHEN %(w)s THEN 'backfill' ELSE 'one-row UPDATE' END AS session, l.locktype, "
            "coalesce(c.relname, '') AS relation, l.mode, l.granted FROM pg_locks AS l "
            "LEFT JOIN pg_class AS c ON c.oid = l.relation WHERE l.pid IN (%(w)s, %(v)s) "
            "AND (l.locktype = 'transactionid' OR (l.locktype IN ('relation', 'tuple') AND c.relname = %(t)s)) "
            "ORDER BY 1, l.granted DESC, 2, 4", {"w": pid[0], "v": writer_pid, "t": table}).fetchall()
        second.join(60)
        thread.join(120)
    finally:
        for conn in (writer, watcher):
            conn.close()
    if "error" in outcome:
        raise outcome["error"]
    assert activity is not None
    worker_pid = pid[0]
    locks = pd.DataFrame(rows, columns=["session", "locktype", "relation", "mode", "granted"])
    return WriterWait(outcome["waited_s"], locks, list(activity[1] or []) == [worker_pid], str(activity[0]),
                      outcome["progress"], outcome["total_s"])


# ------------------------------------------------------------------------------------------ sampling


@dataclass
class Watched:
    modes: dict[str, set[str]]  # table -> every lock mode the session was seen holding on it
    seconds: float
    value: Any

    def strongest(self, table: str) -> str | None:
        return strongest(self.modes.get(table, set()))


def watch(engine: Engine, work: Callable[[Any], Any], tables: Sequence[str]) -> Watched:
    """Run `work(conn)` on a SQLAlchemy connection of its own while another samples, every few milliseconds, the
    table locks that connection's session holds (for statements that cannot run in a transaction, such as
    CREATE INDEX CONCURRENTLY, whose locks the session cannot read itself)."""
    modes: dict[str, set[str]] = {t: set() for t in tables}
    outcome: dict[str, Any] = {}
    with engine.connect() as conn, connect(engine) as watcher:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        conn.commit()

        def run() -> None:
            started = time.perf_counter()
            try:
                outcome["value"] = work(conn)
            except BaseException as error:
                outcome["error"] = error
            outcome["seconds"] = time.perf_counter() - started

        thread = threading.Thread(target=run)
        thread.start()
        while thread.is_alive():
            for table, mode in watcher.execute(
                    "SELECT c.relname, l.mode FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation "
                    "WHERE l.pid = %s AND l.granted AND c.relname = ANY(%s)", (pid, list(tables))).fetchall():
                modes[table].add(mode)
            time.sleep(0.002)
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return Watched(modes, outcome["seconds"], outcome.get("value"))


# ------------------------------------------------------------------------------------------ the lock queue


@dataclass
class Queue:
    events: list[tuple[float, str]]  # (seconds since the start, what happened), in order
    snapshot: pd.DataFrame  # pg_locks on the table while the readers waited, with pg_blocking_pids
    reader_waits_s: list[float]
    alter: str  # "done" or the error the ALTER TABLE got
    hold_s: float

    def happened_before(self, first: str, second: str) -> bool:
        """Whether every event containing `first` came before the first event containing `second`."""
        times_first = [t for t, e in self.events if first in e]
        times_second = [t for t, e in self.events if second in e]
        return bool(times_first and times_second) and max(times_first) <= min(times_second)


def queue(engine: Engine, *, alter: str, table: str = "users", lock_timeout: str | None = None, readers: int = 3,
          hold_s: float = 1.5, reader_sql: str | None = None) -> Queue:
    """T1 reads `table` and stays idle in its transaction; T2 runs `alter` (which wants ACCESS EXCLUSIVE) with
    `lock_timeout` if given; then `readers` connections each read one row, and T1 commits `hold_s` after they
    have queued (or finished). What waits for whom? T2's change is rolled back in the end."""
    reader_sql = reader_sql or f"SELECT * FROM {table} LIMIT 1"
    started = time.perf_counter()
    events: list[tuple[float, str]] = []
    lock = threading.Lock()

    def log(what: str) -> None:
        with lock:
            events.append((time.perf_counter() - started, what))

    t1, t2, watcher = connect(engine), connect(engine), connect(engine)
    rconns = [connect(engine) for _ in range(readers)]
    names = {t1.info.backend_pid: "T1 long transaction", t2.info.backend_pid: "T2 ALTER TABLE",
             **{c.info.backend_pid: f"reader {i + 1}" for i, c in enumerate(rconns)}}
    result: dict[str, Any] = {}
    waits: dict[int, float] = {}

    def waiting(pid: int) -> bool:
        return watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                               (pid,)).fetchone() == ("Lock",)

    def run_alter() -> None:
        t2.execute("BEGIN")
        if lock_timeout:
            t2.execute(f"SET LOCAL lock_timeout = '{lock_timeout}'")
        try:
            t2.execute(alter)
            result["alter"] = "done"
        except psycopg.Error as error:
            result["alter"] = (error.diag.message_primary or str(error)).strip()
        t2.execute("ROLLBACK")
        log(f"T2 ALTER TABLE: {result['alter']}")

    def read(i: int, conn: psycopg.Connection[Any]) -> None:
        begun = time.perf_counter()
        conn.execute(reader_sql).fetchall()
        waits[i] = time.perf_counter() - begun
        log(f"reader {i + 1} got its row")

    try:
        t1.execute("BEGIN")
        t1.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1) AS s")
        log("T1 holds ACCESS SHARE, idle in transaction")
        alter_thread = threading.Thread(target=run_alter)
        alter_thread.start()
        _wait_until(lambda: waiting(t2.info.backend_pid), 10, alter_thread.is_alive)
        log("T2 waits for ACCESS EXCLUSIVE")
        threads = [threading.Thread(target=read, args=(i, c)) for i, c in enumerate(rconns)]
        for th in threads:
            th.start()
        _wait_until(lambda: all(waiting(c.info.backend_pid) for c in rconns),
                    2, lambda: any(th.is_alive() for th in threads))
        rows = watcher.execute(
            "SELECT l.pid, l.mode, l.granted, pg_blocking_pids(l.pid) FROM pg_locks AS l "
            "WHERE l.relation = %s::regclass AND l.pid = ANY(%s) ORDER BY l.granted DESC, l.pid",
            (table, list(names))).fetchall()
        log("snapshot of pg_locks")
        # The hold counts from here, once the readers have queued: on a loaded machine, opening six connections
        # and starting the threads can take a good part of a second, which must not shorten the readers' wait.
        queued = time.perf_counter()
        _wait_until(lambda: not any(th.is_alive() for th in threads), hold_s)
        remaining = hold_s - (time.perf_counter() - queued)
        if remaining > 0:
            _wait_until(lambda: False, remaining)
        # Logged as the COMMIT is sent, not when its reply arrives: once the server has committed, T2 and then the
        # readers can go on before this thread hears back (on a busy machine a reader's row was logged first).
        log("T1 commits")
        t1.execute("COMMIT")
        for th in threads:
            th.join(30)
        alter_thread.join(30)
    finally:
        for conn in (t1, t2, watcher, *rconns):
            conn.close()
    order = {name: i for i, name in enumerate(sorted(set(names.values()), key=lambda n: (n[0] != "T", n)))}
    snapshot = pd.DataFrame(
        sorted([(names[p], mode_name(m), "granted" if g else "waiting", ", ".join(sorted(names.get(b, str(b)) for b in bl)))
                for p, m, g, bl in rows], key=lambda r: order[str(r[0])]),
        columns=["session", "lock on " + table, "", "blocked by (pg_blocking_pids)"])
    return Queue(sorted(events), snapshot, [waits[i] for i in sorted(waits)], result.get("alter", "?"), hold_s)


__all__ = ["BLOCKS_READS", "BLOCKS_WRITES", "MODES", "Observation", "Queue", "Step", "WriterWait", "connect", "held",
           "mode_name", "observe", "queue", "strongest", "watch", "Watched", "writer_wait"]
