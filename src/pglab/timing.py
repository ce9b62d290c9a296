"""Timing that survives a noisy laptop: a warm-up, several runs, the median and the spread.

Lessons assert on ratios between variants with a margin, never on milliseconds. As Python's timeit
does, the garbage collector is off while timing: a collection pass caused by one variant's garbage
would otherwise land on a random run of another.
"""
from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

Variant = str | Callable[[], Any]


@dataclass(frozen=True)
class Sample:
    """Several timings of one thing, in milliseconds."""

    runs_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def min_ms(self) -> float:
        return min(self.runs_ms)

    @property
    def max_ms(self) -> float:
        return max(self.runs_ms)


@contextmanager
def _garbage_collector_off() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def measure(action: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> Sample:
    runs = []
    with _garbage_collector_off():
        for _ in range(warmup):
            action()
        for _ in range(repeat):
            started = time.perf_counter()
            action()
            runs.append((time.perf_counter() - started) * 1000)
    return Sample(tuple(runs))


def sql_action(engine: Engine, sql: str, params: Mapping[str, Any] | None = None, rollback: bool = False) -> Callable[[], Any]:
    """A callable that runs the SQL and fetches every row (so the transfer is timed too)."""
    statement = sa.text(sql)

    def run() -> Any:
        with engine.connect() as conn:
            result = conn.execute(statement, dict(params or {}))
            rows = result.fetchall() if result.returns_rows else result.rowcount
            if rollback:
                conn.rollback()
            else:
                conn.commit()
            return rows

    return run


@dataclass
class Timings:
    """The samples of several variants of the same job."""

    samples: dict[str, Sample]

    def median(self, variant: str) -> float:
        return self.samples[variant].median_ms

    def best(self, variant: str) -> float:
        """The variant's fastest run: on a busy machine, the closest to its own cost (load only ever adds time)."""
        return self.samples[variant].min_ms

    def ratio(self, slower: str, faster: str, *, by: Literal["median", "fastest"] = "median") -> float:
        """How many times slower the first variant is than the second: their medians, or their fastest runs."""
        of = self.median if by == "median" else self.best
        return of(slower) / max(of(faster), 1e-6)

    def fastest(self) -> str:
        return min(self.samples, key=self.median)

    @property
    def table(self) -> pd.DataFrame:
        best = self.median(self.fastest())
        rows = [
            {
                "variant": name,
                "median ms": round(sample.median_ms, 3),
                "min ms": round(sample.min_ms, 3),
                "max ms": round(sample.max_ms, 3),
                "runs": len(sample.runs_ms),
                "x fastest": round(sample.median_ms / max(best, 1e-6), 1),
            }
            for name, sample in self.samples.items()
        ]
        return pd.DataFrame(rows).set_index("variant")

    def _repr_html_(self) -> str:
        return str(self.table.to_html())

    def __repr__(self) -> str:
        return repr(self.table)

    def chart(self, title: str = "", log: bool | None = None) -> None:
        from . import charts

        names = list(self.samples)
        charts.timing_bars(names, [self.samples[n].median_ms for n in names], [self.samples[n].min_ms for n in names],
                           [self.samples[n].max_ms for n in names], title=title, log=log)


def compare(
    engine: Engine,
    variants: Mapping[str, Variant],
    *,
    repeat: int = 5,
    warmup: int = 1,
    rollback: bool = False,
    params: Mapping[str, Any] | None = None,
) -> Timings:
    """Time each variant (SQL text or a callable) `repeat` times after `warmup` runs.

    rollback=True undoes each run (to time a DELETE or UPDATE again and again on the same rows).
    Variants are interleaved run by run, so a slow moment of the machine hits them all alike.
    """
    actions = {
        name: (variant if callable(variant) else sql_action(engine, variant, params, rollback))
        for name, variant in variants.items()
    }
    runs: dict[str, list[float]] = {name: [] for name in actions}
    with _garbage_collector_off():
        for action in actions.values():
            for _ in range(warmup):
                action()
        for _ in range(repeat):
            for name, action in actions.items():
                started = time.perf_counter()
                action()
                runs[name].append((time.perf_counter() - started) * 1000)
    return Timings({name: Sample(tuple(values)) for name, values in runs.items()})
