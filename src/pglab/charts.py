"""One chart style for the whole lab: timing bars, series against N, plan pictures, the schema diagram.

Every function draws plain data (names, numbers, labels) and imports nothing else of the lab: a Plan or a
Timings object turns itself into such data and calls these (plan.show(), timings.chart())."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PALETTE = ["#1565c0", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037"]
WIDE = (8.0, 3.6)


def use_lab_style() -> None:
    import matplotlib
    from cycler import cycler

    matplotlib.rcParams.update(
        {
            "figure.figsize": WIDE,
            "figure.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": cycler(color=PALETTE),
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.titleweight": "bold",
        }
    )


def describe(fig: Any) -> str:
    """Alternative text for a chart, from the figure itself: its titles, axes and series (for screen readers, and
    for the HTML handouts)."""
    parts = []
    for axes in fig.get_axes():
        suptitle = getattr(fig, "_suptitle", None)
        title = axes.get_title() or (suptitle.get_text() if suptitle is not None else "")
        what = " against ".join(label for label in (axes.get_ylabel(), axes.get_xlabel()) if label)
        legend = axes.get_legend()
        series = [text.get_text() for text in legend.get_texts()] if legend is not None else []
        bars = [tick.get_text() for tick in axes.get_yticklabels() if tick.get_text()] if not what else []
        sentence = f"Chart: {title}" if title else "Chart"
        if what:
            sentence += f" ({what})"
        if series:
            sentence += "; series: " + ", ".join(series)
        elif bars and len(bars) <= 12:
            sentence += "; bars: " + ", ".join(bars)
        parts.append(sentence + ".")
    return " ".join(parts) or "Chart."


def _finish(fig: Any) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the lab
        get_ipython = None  # type: ignore[assignment]
    if get_ipython is not None and get_ipython() is not None and "inline" in plt.get_backend():
        import io

        from IPython.display import Image, display

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")  # what the inline backend writes, plus alt text
        display(Image(data=buffer.getvalue(), format="png", metadata={"alt": describe(fig)}))
    else:
        plt.show()
    plt.close(fig)


def timing_bars(names: Sequence[str], medians: Sequence[float], lows: Sequence[float], highs: Sequence[float], *,
                title: str = "", log: bool | None = None) -> None:
    """Median time per variant with a min-max whisker (lows/highs: the fastest and slowest run, in ms); log
    scale when the ratio is large."""
    import matplotlib.pyplot as plt

    names, medians = list(names), [float(m) for m in medians]
    below = [m - float(low) for m, low in zip(medians, lows)]
    above = [float(high) - m for m, high in zip(medians, highs)]
    if log is None:
        log = max(medians) / max(min(medians), 1e-6) > 30
    fig, ax = plt.subplots(figsize=(WIDE[0], 0.55 * len(names) + 1.4))
    ax.barh(names, medians, xerr=[below, above], color=PALETTE[: len(names)], capsize=3)
    ax.invert_yaxis()
    best = min(medians)
    for y, (value, high) in enumerate(zip(medians, highs)):
        ax.annotate(f"{value:.3g} ms ({value / max(best, 1e-6):.1f}x)", (float(high), y),
                    xytext=(6, 0), textcoords="offset points", va="center", fontsize=9)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("median time per run, ms" + (" (log scale)" if log else ""))
    ax.set_title(title or "Time per run")
    ax.set_xlim(right=max(highs) * (8 if log else 1.45))
    _finish(fig)


def line(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    marks: Mapping[str, Sequence[bool]] | None = None,
    marks_label: str = "",
) -> None:
    """Several series against one x axis (e.g. statements or time against N). `marks` rings the points of a series
    where its list is true (e.g. the plan the planner chose), with `marks_label` in the legend."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=WIDE)
    labelled = False
    for name, values in series.items():
        ax.plot(list(x), list(values), marker="o", label=name)
        chosen = [(xi, yi) for xi, yi, mark in zip(x, values, (marks or {}).get(name, [])) if mark]
        if chosen:
            ax.scatter([c[0] for c in chosen], [c[1] for c in chosen], s=180, facecolors="none",
                       edgecolors="black", linewidths=1.5, zorder=3, label=None if labelled else marks_label or None)
            labelled = True
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if len(x) <= 12:  # label the measured points themselves (1, 2, 3, not 1.5, 2.5; 10, 100, 1000)
        ax.set_xticks(list(x), [f"{v:g}" for v in x])
        ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    _finish(fig)


def bars(values: Mapping[str, float], *, title: str, xlabel: str, log: bool = False) -> None:
    """Plain horizontal bars (sizes, counts)."""
    import matplotlib.pyplot as plt

    values = {name: float(value) for name, value in values.items()}  # numeric(...) arrives as Decimal
    names = list(values)
    fig, ax = plt.subplots(figsize=(WIDE[0], 0.55 * len(names) + 1.4))
    ax.barh(names, [values[n] for n in names], color=PALETTE[: len(names)])
    ax.invert_yaxis()
    for y, n in enumerate(names):
        label = f"{values[n]:,.0f}" if values[n] >= 100 or values[n].is_integer() else f"{values[n]:,.3g}"
        ax.annotate(f" {label}", (values[n], y), va="center", fontsize=9)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.set_xlim(right=max(values.values()) * (8 if log else 1.3))
    _finish(fig)


@dataclass(frozen=True)
class PlanStep:
    """One node of a plan as the picture draws it."""

    depth: int
    label: str
    share: float  # of the execution time spent in this node alone, %
    rows: int  # actual rows, per loop
    kind: str = "other"  # "full scan" (red), "index" (green) or "other" (blue)
    estimated: int | None = None  # the planner's estimate of rows, per loop
    loops: int = 1
    misestimate: float = 1.0  # estimated / actual or actual / estimated, whichever is larger
    direction: str = ""  # "under" or "over"


BAD_ESTIMATE = 10  # the factor pev2 and explain.depesz.com flag

def plan_picture(steps: Sequence[PlanStep], title: str | None = None) -> None:
    """The plan tree, one row per node (indented like EXPLAIN), with a bar for the node's own share of time."""
    import matplotlib.pyplot as plt

    colours = {"full scan": PALETTE[4], "index": PALETTE[2], "other": PALETTE[0]}
    fig_height = 0.42 * len(steps) + 1.2
    fig, (names_ax, bars_ax) = plt.subplots(
        1, 2, figsize=(WIDE[0] + 2, fig_height), gridspec_kw={"width_ratios": [3, 2]}, sharey=True
    )
    for y, step in enumerate(steps):
        colour = colours.get(step.kind, PALETTE[0])
        label = ("    " * step.depth) + ("└ " if step.depth else "") + step.label
        names_ax.text(0, y, label, va="center", fontsize=9, family="monospace", color=colour)
        bars_ax.barh(y, step.share, color=colour)
        text = f" {step.share:.0f}%  rows={step.rows:,}"
        if step.estimated is not None and step.misestimate > 2:
            text += f" (est {step.estimated:,}: {step.misestimate:,.0f}x {step.direction})"
        if step.loops > 1:
            text += f" ×{step.loops:,} loops"
        text += " "
        if step.misestimate > BAD_ESTIMATE:
            names_ax.text(0.985, y, "estimate off", va="center", ha="right", fontsize=8, color=PALETTE[4],
                          fontweight="bold")
        if step.share > 55:  # the label goes inside a long bar, so the axis can stop at 100%
            bars_ax.annotate(text, (step.share, y), va="center", ha="right", fontsize=8, color="white")
        else:
            bars_ax.annotate(text, (step.share, y), va="center", fontsize=8)
    names_ax.set_xlim(0, 1)
    names_ax.set_ylim(len(steps) - 0.5, -0.5)
    names_ax.axis("off")
    bars_ax.set_xlim(0, 100)
    bars_ax.set_xticks([0, 25, 50, 75, 100])
    bars_ax.set_xlabel("share of execution time (node itself, %)")
    bars_ax.grid(axis="y", visible=False)
    bars_ax.tick_params(left=False, labelleft=False)
    fig.suptitle(title or "Query plan: where the time goes", fontweight="bold")
    _finish(fig)


def schema_diagram(
    tables: Mapping[str, Sequence[tuple[str, str, str]]],
    foreign_keys: Sequence[tuple[str, str, str, str]],
    *,
    title: str = "Schema",
    positions: Mapping[str, tuple[float, float]] | None = None,
) -> None:
    """Tables as boxes (column, type, marker: PK/FK/UQ), foreign keys as arrows to the referenced table."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    names = list(tables)
    if positions is None:
        positions = {name: ((i % 3) * 3.4, -(i // 3) * 4.2) for i, name in enumerate(names)}
    fig, ax = plt.subplots(figsize=(11, 6.5))
    anchors: dict[str, tuple[float, float, float, float]] = {}
    for name in names:
        x, y = positions[name]
        columns = tables[name]
        height = 0.32 * (len(columns) + 1) + 0.1
        width = 2.9
        ax.add_patch(FancyBboxPatch((x, y - height), width, height, boxstyle="round,pad=0.04",
                                    facecolor="#f5f7fa", edgecolor=PALETTE[0], linewidth=1.2))
        ax.add_patch(FancyBboxPatch((x, y - 0.34), width, 0.34, boxstyle="round,pad=0.04",
                                    facecolor=PALETTE[0], edgecolor=PALETTE[0]))
        ax.text(x + 0.1, y - 0.17, name, color="white", fontweight="bold", va="center", fontsize=10)
        for row, (column, data_type, marker) in enumerate(columns, start=1):
            cy = y - 0.17 - 0.32 * row
            ax.text(x + 0.1, cy, column, va="center", fontsize=8, family="monospace",
                    fontweight="bold" if "PK" in marker else "normal")
            ax.text(x + 1.55, cy, data_type[:16], va="center", fontsize=7, color="#555555", family="monospace")
            ax.text(x + width - 0.08, cy, marker, va="center", ha="right", fontsize=7, color=PALETTE[1])
        anchors[name] = (x, y, width, height)
    for table, column, ref_table, _ref_column in foreign_keys:
        x1, y1, w1, _h1 = anchors[table]
        x2, y2, w2, _h2 = anchors[ref_table]
        row = [c[0] for c in tables[table]].index(column) + 1
        start_y = y1 - 0.17 - 0.32 * row
        if x2 > x1 + 0.1:
            start, end, bend = (x1 + w1, start_y), (x2, y2 - 0.17), 0.0
        elif x2 < x1 - 0.1:
            start, end, bend = (x1, start_y), (x2 + w2, y2 - 0.17), 0.0
        else:  # same column of boxes: go round the right-hand side
            start, end, bend = (x1 + w1, start_y), (x2 + w2, y2 - 0.17), 0.5
        ax.annotate("", xy=end, xytext=start, zorder=3,
                    arrowprops={"arrowstyle": "-|>", "color": PALETTE[1], "lw": 1.3, "shrinkA": 2, "shrinkB": 2,
                                "connectionstyle": f"arc3,rad={bend}"})
    xs = [a[0] for a in anchors.values()]
    tops = [a[1] for a in anchors.values()]
    bottoms = [a[1] - a[3] for a in anchors.values()]
    ax.set_xlim(min(xs) - 0.3, max(xs) + 3.3)
    ax.set_ylim(min(bottoms) - 0.3, max(tops) + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title + "  (arrows: foreign key -> referenced table)")
    _finish(fig)
