"""A lesson states a conclusion only after checking that this run's measurement supports it.

    claim(holds, "statement")                       # a deterministic fact: counts, pages, plan shapes
    claim_ratio(t.ratio("a", "b"), 20, "statement") # a timing claim: a ratio of times, above a threshold
    claim_below(seconds, 0.8, "statement")          # a timing claim: a time (s), below a limit

Timing claims are recorded (when PGLAB_CLAIM_LOG names a file) with the ratio measured and the threshold, so
`make claim-margins` can report, per claim, how much room it has on a loaded machine.
"""
from __future__ import annotations

import json
import os
import time

from .display import show_text
from .errors import ClaimFailed

current_lesson = ""  # set by start_lesson: the claim log says which lesson a claim belongs to


def claim(holds: bool, statement: str, *, evidence: str = "") -> None:
    """Show the statement as checked, or stop the notebook if the measurement disagrees.

    Keep `statement` free of measured numbers (they change from run to run); put them in
    `evidence`, which is only shown when the claim fails.
    """
    if not holds:
        detail = f" Measured: {evidence}." if evidence else ""
        raise ClaimFailed(
            f"This run's measurement does not support the lesson's claim: {statement!r}.{detail} "
            "Re-run the cell; if it fails again, the machine may be unusually loaded."
        )
    show_text(f"✔ Checked on your database: {statement}", kind="claim")


def claim_ratio(ratio: float, above: float, statement: str, *, evidence: str = "") -> None:
    """A timing claim: the measured `ratio` (how many times slower one thing is than another) must be above
    `above`. Choose `above` with room to spare: the margin report wants the worst run at least twice above it."""
    _record(statement, float(ratio), float(above))
    claim(ratio > above, statement, evidence=evidence or f"{ratio:.1f}x, where the claim needs more than {above:g}x")


def claim_below(seconds: float, limit: float, statement: str, *, evidence: str = "") -> None:
    """A timing claim on a time itself: `seconds` must be below `limit`. Its margin is limit / seconds; choose the
    limit so that the worst run keeps at least 2."""
    _record(statement, float(seconds), float(limit), below=True)
    claim(seconds < limit, statement, evidence=evidence or f"{seconds:.3f} s, where the claim needs under {limit:g} s")


def _record(statement: str, measured: float, threshold: float, *, below: bool = False) -> None:
    path = os.environ.get("PGLAB_CLAIM_LOG")
    if not path:
        return
    entry = {"lesson": current_lesson, "statement": statement, "measured": measured, "threshold": threshold,
             "below": below, "holds": measured < threshold if below else measured > threshold, "at": time.time()}
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


__all__ = ["claim", "claim_below", "claim_ratio"]
