"""Plan exercises: the plan PostgreSQL chooses must have a shape (an index used on a table, no Seq Scan, no
Sort). The answer is either DDL (an index) after which a target query is planned, or a query, which must also
return the reference's rows. Plan requirements are checks of the trial, whose `plan` is set."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from ..explain import explain, explain_bound
from .base import Check, LearnerSqlError, Trial, Verdict
from .learner_sql import (
    bind_named, named_parameters, prepare, read_only_from_here, refuse_changes_to_the_dataset, rolled_back, run_script,
)
from .result import ResultExercise


def uses_index_on(table: str) -> Check:
    def requirement(trial: Trial) -> str | None:
        plan = trial.plan
        assert plan is not None
        if plan.uses_index(table=table):
            return None
        how = f"reads all of {table} with a Seq Scan" if plan.seq_scans_on(table) else f"uses no index on {table}"
        return f"the plan still {how}; " + (_why_unused(trial, table) or (
            "an index helps most when it starts with the columns the query filters, joins or sorts on (PostgreSQL 18 "
            "can skip over a leading column, cheaply only when it has few values)."))

    return requirement


def _why_unused(trial: Trial, table: str) -> str | None:
    """What about the answer's own index on the table keeps the planner from it: its method or its WHERE."""
    from .. import catalog
    from ..dataset import INDEXES

    if trial.conn is None:
        return None
    query = " ".join((trial.plan.sql if trial.plan is not None else "").split()).upper()
    for ix in catalog.indexes(trial.conn, table):
        if ix.primary or ix.name in INDEXES:
            continue
        if ix.method == "brin":
            return (f"your index {ix.name} is a BRIN index: it keeps the smallest and largest value of each range of "
                    "table pages, which narrows a search only when the table is stored in that column's order.")
        if ix.method == "hash":
            if any(op in query for op in (">", "<", "BETWEEN", "ORDER BY")):
                return (f"your index {ix.name} is a hash index: it finds equal values only, not a range or an order "
                        "(a B-tree does both).")
        if ix.predicate:
            return (f"your index {ix.name} is partial (WHERE {ix.predicate}): the planner uses it only for a query "
                    "whose WHERE clause implies that condition, and this one does not.")
    return None


def no_seq_scan_on(table: str) -> Check:
    def requirement(trial: Trial) -> str | None:
        assert trial.plan is not None
        return f"the plan reads all of {table} with a Seq Scan." if trial.plan.seq_scans_on(table) else None

    return requirement


def no_node(node_type: str, why: str = "") -> Check:
    def requirement(trial: Trial) -> str | None:
        assert trial.plan is not None
        if trial.plan.has_node(node_type):
            return f"the plan still has a {node_type} node{': ' + why if why else ''}."
        return None

    return requirement


def _generic_plan(conn: Any, sql: str, params: dict[str, Any], *, analyze: bool) -> Any:
    """The plan PostgreSQL makes for the query as a prepared statement before it knows its parameters: PREPARE it
    ($1, $2 ... for its :name parameters), force a generic plan, and EXPLAIN EXECUTE it with the values."""
    from psycopg import sql as psql

    from ..connection import driver
    from ..explain import Plan
    from .learner_sql import positional

    import uuid

    text, names = positional(sql)
    raw = driver(conn)
    name = f"pglab_checker_{uuid.uuid4().hex[:12]}"  # never an answer's own statement name
    raw.execute(f"PREPARE {name} AS {text}".replace("%", "%%"))
    raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    values = psql.SQL(", ").join(psql.Literal(params[name]) for name in names)
    execute = psql.SQL(f"EXECUTE {name}") + (psql.SQL("(") + values + psql.SQL(")") if names else psql.SQL(""))
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    document = raw.execute(psql.SQL(f"EXPLAIN ({options}) ") + execute).fetchone()[0]
    return Plan.from_json(document, sql, analyze)


def tables_now(conn: Any) -> dict[str, tuple[int, int]]:
    rows = conn.exec_driver_sql(
        "SELECT relname, oid::int8, relfilenode::int8 FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')").all()
    return {str(name): (int(oid), int(node)) for name, oid, node in rows}


def replaced_tables(conn: Any, before: dict[str, tuple[int, int]], plan: Any) -> str | None:
    """A plan exercise plans the lesson's own tables: an answer that replaced one (DROP and CREATE, a rewrite) or
    emptied it would be planned on a table that is not the lesson's."""
    from ..dataset import TABLES

    planned = {node.relation for node in plan.nodes() if node.relation}
    now = tables_now(conn)
    for table in sorted(planned | (set(before) & set(TABLES))):  # a lesson table renamed away is not in the plan
        if table in before and now.get(table) != before[table]:
            return (f"your answer replaced the table {table} (dropped and created again, or rewritten): the checker "
                    "plans the lesson's own table, with its rows. Add what the task asks for to it instead.")
    deleted = conn.exec_driver_sql(
        "SELECT relname FROM pg_stat_xact_user_tables WHERE relname = ANY(%(tables)s) "
        "AND (n_tup_del > 0 OR n_tup_upd > 0) ORDER BY relname", {"tables": sorted(planned)}).scalars().first()
    if deleted:
        return (f"your answer deleted or changed rows of {deleted}: the checker plans the query on the lesson's "
                "data as it is. Leave the rows alone.")
    return None


def uses_index_named(index: str, why: str = "") -> Check:
    def requirement(trial: Trial) -> str | None:
        assert trial.plan is not None
        if trial.plan.uses_index(name=index):
            return None
        used = trial.plan.indexes_used()
        how = f"uses {', '.join(used)}" if used else "uses no index"
        return f"the plan {how}, not {index}" + (f": {why}" if why else ".")

    return requirement


def reads_at_most(table: str, limit: int, why: str = "") -> Check:
    """The plan (analyzed) reads at most `limit` rows of `table`: the rows its scans of it return, plus the rows
    they read and threw away, over all loops."""

    def requirement(trial: Trial) -> str | None:
        assert trial.plan is not None
        read = trial.plan.rows_read(table)
        returned = trial.plan.rows
        if read <= limit:
            return None
        return (f"the rows are right, but your query reads {read:,} rows of {table} to return {returned:,}"
                + (f": {why}" if why else "."))

    return requirement


_INCLUDED_COLUMNS = """
SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, a.attname
FROM pg_index AS i
JOIN pg_attribute AS a ON a.attrelid = i.indrelid
 AND a.attnum = ANY ((i.indkey::int2[])[i.indnkeyatts:i.indnatts - 1])
WHERE i.indnatts > i.indnkeyatts AND i.indrelid::regclass::text = ANY(%(tables)s)
"""


def include_column_as_key(trial: Trial) -> str | None:
    """An index that has the column the query looks up only among its INCLUDE columns."""
    assert trial.conn is not None and trial.plan is not None
    query = (trial.plan.sql or "").lower()
    for index, table, column in trial.conn.exec_driver_sql(_INCLUDED_COLUMNS, {"tables": trial.plan.tables_read()}):
        if re.search(rf"\b{re.escape(column.lower())}\b", query):
            return (f"Your index {index} has {column} only as an INCLUDE column: included columns are stored in the "
                    "index's leaf entries but are not part of its sort order, so the index cannot find rows by "
                    f"them. Put {column} among the key columns, in the parentheses before INCLUDE.")
    return None


class PlanExercise(ResultExercise):
    """answer_is='ddl': the learner creates something (an index) and `target` is planned.
    answer_is='query': the learner's query is planned, and must return the reference's rows."""

    kind = "plan"
    kind_label = "a plan: the checker asks PostgreSQL how it would run the query"

    def __init__(self, lesson: str, name: str, *, plan_requirements: Sequence[Check], target: str | None = None,
                 targets: Sequence[tuple[str, str]] = (), answer_is: str = "ddl", analyze: bool = False,
                 plan_case: int = 0, generic_plan: bool = False, target_params: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        """target, or targets as (label, query) pairs: what is planned after DDL (each must satisfy the requirements);
        analyze: EXPLAIN ANALYZE (rows really read, for reads_at_most); plan_case: with `cases`, the one whose
        parameters the query is planned with; generic_plan: plan the answer as a prepared statement under
        plan_cache_mode = force_generic_plan (its parameters unknown when it is planned); with a ddl answer, the
        target's `:name` parameters take their values from target_params, as a cascade's `$1` would."""
        super().__init__(lesson, name, **kwargs)
        self.diagnoses.append(include_column_as_key)
        assert answer_is in ("ddl", "query")
        assert answer_is == "query" or target or targets, "a ddl plan exercise needs the target query"
        self.plan_requirements = list(plan_requirements)
        self.target = target
        self.targets = list(targets) or ([("", target)] if target else [])
        self.generic_plan = generic_plan
        self.target_params = dict(target_params or {})
        self.answer_is = answer_is
        self.analyze = analyze
        self.plan_case = plan_case
        if answer_is == "query":
            self.kind_label = "a query: its rows are compared with the expected ones, and its plan is checked"

    def judge(self, engine: Engine, answer: Any) -> Verdict:
        if self.answer_is == "query":
            return self._judge_query(engine, answer)
        script = prepare(answer)
        refuse_changes_to_the_dataset(script)
        with rolled_back(engine) as conn:
            if self.setup:
                run_script(conn, self.setup)
            trial = Trial(conn, answer, script)
            tables_before = tables_now(conn)
            try:
                self.run_learner(trial, script.text, guard_lesson_tables=True)
            except LearnerSqlError as failure:
                return Verdict(self.sql_failure(trial, failure), notes=script.notes)
            for label, target in self.targets:
                if self.generic_plan:
                    trial.plan = _generic_plan(conn, target, self.target_params, analyze=self.analyze)
                else:
                    trial.plan = explain(conn, target, analyze=self.analyze)
                replaced = replaced_tables(conn, tables_before, trial.plan)
                if replaced:
                    return Verdict(replaced, notes=script.notes)
                verdict = self._plan_verdict(trial, script.notes)
                if verdict.problem:
                    if label:
                        verdict.problem = f"{label}: {verdict.problem}"
                    return verdict
            return Verdict(None, notes=script.notes)

    def _judge_query(self, engine: Engine, answer: Any) -> Verdict:
        verdict = super().judge(engine, answer)  # the rows first
        if verdict.problem is not None:
            return verdict
        script = prepare(answer)
        with rolled_back(engine) as conn:
            if self.setup:
                run_script(conn, self.setup)
            case, params = self.case_params(conn)[self.plan_case if self.cases else 0]
            read_only_from_here(conn)
            trial = Trial(conn, answer, script, case=case, params=params)
            setup = "\n;\n".join(s.text for s in script.statements[:-1])
            if setup:
                self.run_learner(trial, setup)  # SET LOCAL enable_... before the query
            wanted = named_parameters(script.last.text)
            if self.generic_plan:
                trial.plan = _generic_plan(conn, script.last.text, params or {}, analyze=self.analyze)
            else:
                trial.plan = explain_bound(conn, bind_named(script.last.text),
                                           {k: v for k, v in (params or {}).items() if k in wanted},
                                           analyze=self.analyze)
            verdict = self._plan_verdict(trial, script.notes)
            if verdict.problem and case is not None:
                verdict.problem = f"{case.label}: {verdict.problem}"
            return verdict

    def _plan_verdict(self, trial: Trial, notes: list[str]) -> Verdict:
        assert trial.plan is not None
        for requirement in self.plan_requirements:
            problem = requirement(trial)
            if problem:
                return Verdict(self.diagnose(trial, problem), detail="Your plan:\n" + trial.plan.text(details=False),
                               notes=notes)
        return Verdict(None, notes=notes)


__all__ = ["PlanExercise", "no_node", "no_seq_scan_on", "reads_at_most", "uses_index_named", "uses_index_on"]
