"""EXPLAIN as an object: run EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), then ask the plan questions.

JupySQL's table view centres plan lines and loses their indentation, so the lab renders plans
itself: an indented text form (timings and buffers hidden by default, so it is stable from run to
run and across PostgreSQL 15-18) and a picture of each node's share of the time (see charts).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

_DETAIL_KEYS = (
    "Index Cond", "Recheck Cond", "Hash Cond", "Merge Cond", "Join Filter", "Filter",
    "Sort Key", "Group Key", "Cache Key",
)
_SCANS_THAT_READ_WHOLE_TABLE = ("Seq Scan",)


@dataclass
class PlanNode:
    raw: dict[str, Any]
    children: list["PlanNode"] = field(default_factory=list)

    @property
    def node_type(self) -> str:
        return str(self.raw["Node Type"])

    @property
    def relation(self) -> str | None:
        return self.raw.get("Relation Name")

    @property
    def index(self) -> str | None:
        return self.raw.get("Index Name")

    @property
    def loops(self) -> int:
        return int(self.raw.get("Actual Loops", 1) or 1)

    @property
    def rows(self) -> int:
        """Actual rows per loop, rounded (PostgreSQL 18 reports fractions, 15-17 whole numbers)."""
        if "Actual Rows" in self.raw:
            return int(round(float(self.raw["Actual Rows"])))
        return int(self.raw.get("Plan Rows", 0))

    @property
    def misestimate(self) -> float:
        """How far the planner's row estimate was off, as a factor (> 1 either way; pev2 and explain.depesz.com
        call over 10 bad). Rows are per loop on both sides; 0 rows count as 1."""
        estimated, actual = max(self.estimated_rows, 1), max(self.rows, 1)
        return max(estimated, actual) / min(estimated, actual)

    @property
    def estimate_direction(self) -> str:
        """'under' when the planner expected fewer rows than came, 'over' when more."""
        return "under" if self.estimated_rows < self.rows else "over"

    @property
    def rows_removed(self) -> int:
        """Rows this node read and threw away (a Filter, an index recheck), per loop."""
        return sum(int(round(float(self.raw.get(key, 0) or 0)))
                   for key in ("Rows Removed by Filter", "Rows Removed by Index Recheck"))

    @property
    def heap_fetches(self) -> int:
        """Index Only Scan: rows whose page was not all-visible, so the heap had to be read after all."""
        return int(round(float(self.raw.get("Heap Fetches", 0) or 0)))

    @property
    def estimated_rows(self) -> int:
        return int(self.raw.get("Plan Rows", 0))

    @property
    def total_ms(self) -> float:
        """Time spent in this node and below, over all loops."""
        return float(self.raw.get("Actual Total Time", 0.0)) * self.loops

    @property
    def self_ms(self) -> float:
        """Time spent in this node alone (its total minus its children's), never negative."""
        children = sum(child.total_ms for child in self.children if child.raw.get("Parent Relationship") != "InitPlan")
        return max(self.total_ms - children, 0.0)

    @property
    def pages(self) -> int:
        """Shared buffers touched by this node and below (hit + read)."""
        return int(self.raw.get("Shared Hit Blocks", 0)) + int(self.raw.get("Shared Read Blocks", 0))

    def label(self) -> str:
        text = self.node_type
        if text == "ModifyTable":  # shown as "Delete on posts", like EXPLAIN's text format
            text = str(self.raw.get("Operation", text))
        if self.raw.get("Join Type") and "Join" not in text and text != "Nested Loop":
            text = f"{self.raw['Join Type']} {text}"
        elif self.raw.get("Join Type") and self.raw["Join Type"] != "Inner":
            text = f"{text} ({self.raw['Join Type']})"
        if self.raw.get("Strategy") and self.node_type == "Aggregate":
            text = f"{self.raw['Strategy'].replace('Plain', '')} Aggregate".strip().replace("Sorted Aggregate", "GroupAggregate").replace("Hashed Aggregate", "HashAggregate")
        if self.raw.get("Scan Direction") == "Backward":
            text += " Backward"
        if self.index:
            text += f" using {self.index}"
        if self.relation:
            alias = self.raw.get("Alias")
            text += f" on {self.relation}" + (f" {alias}" if alias and alias != self.relation else "")
        return text

    def walk(self) -> Iterator[tuple[int, "PlanNode"]]:
        stack: list[tuple[int, PlanNode]] = [(0, self)]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            stack.extend((depth + 1, child) for child in reversed(node.children))


def _node(raw: dict[str, Any]) -> PlanNode:
    return PlanNode(raw, [_node(child) for child in raw.get("Plans", [])])


@dataclass(frozen=True)
class TriggerTime:
    """A trigger that EXPLAIN ANALYZE ran besides the plan: foreign keys are checked and cascaded by
    triggers, whose cost never shows as a plan node ("Trigger for constraint ..." after the plan)."""

    name: str
    relation: str
    calls: int
    ms: float


@dataclass
class Plan:
    """A query plan, with the questions lessons and exercises ask of it."""

    root: PlanNode
    planning_ms: float
    execution_ms: float
    analyzed: bool
    sql: str = ""
    triggers: tuple[TriggerTime, ...] = ()

    @classmethod
    def from_json(cls, document: Any, sql: str = "", analyzed: bool = True) -> "Plan":
        top = document[0] if isinstance(document, list) else document
        return cls(
            root=_node(top["Plan"]),
            planning_ms=float(top.get("Planning Time", 0.0)),
            execution_ms=float(top.get("Execution Time", 0.0)),
            analyzed=analyzed,
            sql=sql,
            triggers=tuple(
                TriggerTime(
                    name=str(t.get("Constraint Name", t.get("Trigger Name", ""))),
                    relation=str(t.get("Relation", "")),
                    calls=int(t.get("Calls", 0)),
                    ms=float(t.get("Time", 0.0)),
                )
                for t in top.get("Triggers", [])
            ),
        )

    def nodes(self) -> list[PlanNode]:
        return [node for _, node in self.root.walk()]

    def node_types(self) -> list[str]:
        return [node.node_type for node in self.nodes()]

    def has_node(self, node_type: str) -> bool:
        return any(node_type == t for t in self.node_types())

    def indexes_used(self) -> list[str]:
        return [node.index for node in self.nodes() if node.index]

    def uses_index(self, name: str | None = None, table: str | None = None) -> bool:
        """True if some node reads through an index (of this name, or on this table)."""
        for node in self.nodes():
            if node.index and (name is None or node.index == name) and (table is None or node.relation == table):
                return True
            if node.index and table is not None and node.relation is None and name is None:
                # Bitmap Index Scan nodes name the index but not the table; the heap scan above names it.
                continue
        if table is not None:
            return any(
                node.node_type == "Bitmap Heap Scan" and node.relation == table for node in self.nodes()
            )
        return False

    def seq_scans(self) -> list[str]:
        return [node.relation or "?" for node in self.nodes() if node.node_type in _SCANS_THAT_READ_WHOLE_TABLE]

    def seq_scans_on(self, table: str) -> bool:
        return table in self.seq_scans()

    def rows_read(self, table: str) -> int:
        """Rows the scans of `table` returned or threw away, over all their loops (EXPLAIN ANALYZE)."""
        return sum((node.rows + node.rows_removed) * node.loops for node in self.nodes() if node.relation == table)

    def scan(self, table: str) -> "PlanNode":
        """The first node that reads `table`."""
        return next(node for node in self.nodes() if node.relation == table)

    def tables_read(self) -> list[str]:
        return sorted({node.relation for node in self.nodes() if node.relation})

    @property
    def rows(self) -> int:
        return self.root.rows

    @property
    def pages(self) -> int:
        """Shared buffers touched by the whole plan (hit + read): a time-free measure of work."""
        return self.root.pages

    def text(self, timings: bool = False, buffers: bool = False, details: bool = True,
             heap_fetches: bool = False, estimates: bool = False) -> str:
        """The plan, indented like EXPLAIN's text; with `estimates`, each node's estimated rows beside the actual ones
        and the factor when it is off by more than 2 (an analyzed plan)."""
        lines: list[str] = []
        for depth, node in self.root.walk():
            pad = "  " * depth
            arrow = "-> " if depth else ""
            facts = []
            if timings and self.analyzed:
                facts.append(f"time={node.total_ms:.2f} ms")
            if self.analyzed:
                facts.append(f"rows={node.rows:,}")
                if estimates:
                    off = (f" ({node.misestimate:,.0f}x {node.estimate_direction})"
                           if node.misestimate > 2 else "")
                    facts.append(f"estimated={node.estimated_rows:,}{off}")
                if node.loops != 1:
                    facts.append(f"loops={node.loops:,}")
            else:
                facts.append(f"estimated rows={node.estimated_rows:,}")
            if buffers and self.analyzed:
                facts.append(f"pages={node.pages:,}")
            lines.append(f"{pad}{arrow}{node.label()}  ({' '.join(facts)})")
            if details:
                inner = pad + ("   " if depth else "") + "  "
                for key in _DETAIL_KEYS:
                    if key in node.raw:
                        value = node.raw[key]
                        if isinstance(value, list):
                            value = ", ".join(str(v) for v in value)
                        lines.append(f"{inner}{key}: {value}")
                removed = node.raw.get("Rows Removed by Filter")
                if removed and self.analyzed:
                    lines.append(f"{inner}Rows Removed by Filter: {int(round(float(removed))):,}")
                if heap_fetches and self.analyzed and "Heap Fetches" in node.raw:
                    lines.append(f"{inner}Heap Fetches: {node.heap_fetches:,}")
        if timings and self.analyzed:
            lines.append(f"Planning: {self.planning_ms:.2f} ms, execution: {self.execution_ms:.2f} ms")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def steps(self) -> list[Any]:
        """The plan as the picture draws it: each node's depth, label, share of the time, rows."""
        from .charts import PlanStep

        walked = list(self.root.walk())
        total = sum(node.self_ms for _, node in walked) or 1.0
        return [PlanStep(depth, node.label(), 100 * node.self_ms / total, node.rows,
                         "full scan" if node.node_type == "Seq Scan" else "index" if node.index else "other",
                         estimated=node.estimated_rows, loops=node.loops, misestimate=node.misestimate,
                         direction=node.estimate_direction)
                for depth, node in walked]

    def show(self, title: str | None = None) -> None:
        """Draw the plan tree with each node's share of the execution time."""
        from . import charts

        charts.plan_picture(self.steps(), title=title)


def explain_bound(conn: Connection, sql: str, params: dict[str, Any] | None = None, *, analyze: bool = True) -> Plan:
    """EXPLAIN SQL written in psycopg's own placeholders (%(name)s), through the driver: for SQL the lab did not
    write, where a ':' must stay literal."""
    from .connection import driver

    options = ["ANALYZE", "BUFFERS", "FORMAT JSON"] if analyze else ["FORMAT JSON"]
    document = driver(conn).execute(f"EXPLAIN ({', '.join(options)}) {sql}", params or None).fetchone()[0]
    return Plan.from_json(document, sql, analyze)


def explain(
    bind: Engine | Connection,
    sql: str,
    params: dict[str, Any] | None = None,
    *,
    analyze: bool = True,
    rollback: bool = True,
    wal: bool = False,
) -> Plan:
    """EXPLAIN a statement (the one place the lab builds EXPLAIN). With analyze it really runs; rollback (the
    default) undoes its changes, so EXPLAIN ANALYZE of a DELETE can be repeated. Without params the SQL goes to
    the server exactly as written (a ':' or '%' in it is literal); with params, :name placeholders are bound."""
    options = (["ANALYZE", "BUFFERS"] if analyze else []) + (["WAL"] if wal and analyze else []) + ["FORMAT JSON"]
    statement = f"EXPLAIN ({', '.join(options)}) {sql}"

    def run(conn: Connection) -> Any:
        if params:
            return conn.execute(sa.text(statement), params).scalar_one()
        from .connection import run_script

        return run_script(conn, statement).fetchone()[0]

    if isinstance(bind, Connection):
        return Plan.from_json(run(bind), sql, analyze)
    with bind.connect() as conn:
        try:
            document = run(conn)
        finally:
            if rollback:
                conn.rollback()
            else:
                conn.commit()
    return Plan.from_json(document, sql, analyze)
