"""explain, timing and statement counting: the lab's measuring tools."""
from __future__ import annotations

import sqlalchemy as sa

from pglab.explain import Plan
from pglab.querycount import count_statements
from pglab.timing import compare, measure

PG18_STYLE = [{
    "Plan": {"Node Type": "Nested Loop", "Join Type": "Inner", "Actual Rows": 4.0, "Actual Loops": 1,
             "Actual Total Time": 2.0, "Shared Hit Blocks": 10, "Shared Read Blocks": 2,
             "Plans": [
                 {"Node Type": "Seq Scan", "Relation Name": "tags", "Alias": "t", "Actual Rows": 2.0,
                  "Actual Loops": 1, "Actual Total Time": 0.5, "Filter": "(name = 'sql')",
                  "Rows Removed by Filter": 298.0},
                 {"Node Type": "Index Scan", "Relation Name": "post_tags", "Alias": "pt",
                  "Index Name": "idx_post_tags_tag_id", "Actual Rows": 2.49, "Actual Loops": 2,
                  "Actual Total Time": 0.6, "Index Cond": "(tag_id = t.id)"},
             ]},
    "Planning Time": 0.1, "Execution Time": 2.1,
}]


def test_plan_questions_and_stable_text():
    plan = Plan.from_json(PG18_STYLE, "q")
    assert plan.node_types() == ["Nested Loop", "Seq Scan", "Index Scan"]
    assert plan.indexes_used() == ["idx_post_tags_tag_id"]
    assert plan.seq_scans_on("tags") and not plan.seq_scans_on("post_tags")
    assert plan.uses_index(table="post_tags") and not plan.uses_index(table="tags")
    assert plan.pages == 12
    text = plan.text()
    assert "ms" not in text and "time" not in text
    assert "  -> Index Scan using idx_post_tags_tag_id on post_tags pt  (rows=2 loops=2)" in text
    assert "Rows Removed by Filter: 298" in text
    assert "time=" in plan.text(timings=True)
    inner = plan.root.children[1]
    assert inner.total_ms == 1.2 and plan.root.self_ms == 2.0 - 0.5 - 1.2


def test_explain_analyze_rolls_back_by_default(lesson_factory):
    lab = lesson_factory("00_getting_started")
    before = lab.value("SELECT count(*) FROM tags")
    plan = lab.explain("DELETE FROM post_tags WHERE tag_id IN (SELECT id FROM tags WHERE name = 'rust')")
    assert plan.root.label() == "Delete on post_tags"
    assert lab.value("SELECT count(*) FROM tags") == before
    assert lab.value("SELECT count(*) FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE t.name = 'rust'") > 0


def test_compare_reports_ratios_not_noise():
    def slow() -> int:
        return sum(range(300_000))

    def fast() -> int:
        return sum(range(3_000))

    timings = compare(None, {"slow": slow, "fast": fast}, repeat=5)  # type: ignore[arg-type]
    assert timings.ratio("slow", "fast") > 10
    assert timings.fastest() == "fast"
    assert list(timings.table.index) == ["slow", "fast"]
    assert measure(fast, repeat=3).median_ms >= 0


def test_statement_counter_sees_every_statement_and_its_shape(lesson_factory):
    lab = lesson_factory("00_getting_started")
    with count_statements(lab.engine) as log:
        with lab.engine.connect() as conn:
            for name in ("sql", "rust", "go"):
                conn.execute(sa.text("SELECT id FROM tags WHERE name = :n"), {"n": name}).all()
    assert log.count == 3
    assert log.shapes().most_common(1)[0][1] == 3  # one shape, three times: what N+1 looks like
    with lab.engine.connect() as conn:
        conn.execute(sa.text("SELECT 1")).all()
    assert log.count == 3  # the listener is gone after the block


def test_statement_counter_records_rows_and_parameters_even_after_a_failure(lesson_factory):
    lab = lesson_factory("00_getting_started")
    with count_statements(lab.engine) as log:
        with lab.engine.connect() as conn:
            conn.execute(sa.text("SELECT id FROM tags ORDER BY name LIMIT 7")).all()
            try:
                conn.execute(sa.text("SELECT no_such_column FROM tags")).all()
            except sa.exc.ProgrammingError:
                conn.rollback()
            conn.execute(sa.text("SELECT id FROM tags WHERE name IN (:a, :b)"), {"a": "sql", "b": "rust"}).all()
    assert log.rows == [7, 0, 2] and log.total_rows == 9
    assert log.parameters == [0, 0, 2]
    assert list(log.table()["rows"]) == [7, 0, 2]


def test_plan_lists_the_foreign_key_triggers_a_delete_fired(lesson_factory):
    lab = lesson_factory("00_getting_started")
    plan = lab.explain("DELETE FROM tags WHERE name = 'rust'")  # rolled back
    fired = {t.name: t for t in plan.triggers}
    assert fired["post_tags_tag_id_fkey"].calls == 1 and fired["post_tags_tag_id_fkey"].relation == "tags"
    assert "Trigger" not in " ".join(plan.node_types())  # the cascade's cost is not a plan node


def test_pg_stat_statements_counts_calls_per_statement_for_this_database_only(lesson_factory):
    from pglab import pgstat

    lab = lesson_factory("04_n_plus_one")
    if pgstat.why_untracked(lab.engine) is not None:
        import pytest

        pytest.skip(pgstat.why_untracked(lab.engine))
    before = pgstat.statement_calls(lab.engine)
    with lab.engine.connect() as conn:
        for name in ("sql", "rust", "go"):
            conn.execute(sa.text("SELECT id FROM tags WHERE name = :n /* pgstat test */"), {"n": name}).all()
    calls = pgstat.calls_since(lab.engine, before, matching=r"pgstat test")
    assert list(calls["calls"]) == [3] and list(calls["rows"]) == [3]


def test_timing_pauses_the_garbage_collector_and_restores_it():
    import gc

    seen: list[bool] = []
    measure(lambda: seen.append(gc.isenabled()), repeat=3)
    compare(None, {"a": lambda: seen.append(gc.isenabled())}, repeat=2)  # type: ignore[arg-type]
    assert seen and not any(seen)
    assert gc.isenabled()


def test_a_ratio_of_fastest_runs_ignores_the_slow_moments_of_a_busy_machine():
    from pglab.timing import Sample, Timings

    timings = Timings({"offset": Sample((40.0, 90.0, 41.0)), "deferred": Sample((10.0, 60.0, 55.0))})
    assert timings.ratio("offset", "deferred") == 41.0 / 55.0  # medians: one slow moment hit the faster one twice
    assert timings.ratio("offset", "deferred", by="fastest") == 4.0
    assert timings.best("deferred") == 10.0
