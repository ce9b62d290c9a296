"""A lesson states a conclusion only after checking that this run's measurement supports it."""
from __future__ import annotations

from .errors import ClaimFailed
from .display import show_text


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
