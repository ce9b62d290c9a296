"""pglab: the machinery behind the PostgreSQL Patterns Lab notebooks.

    from pglab import start_lesson
    lab = start_lesson("00_getting_started")
"""
from .audit import audit
from .claims import claim, claim_below, claim_ratio
from .errors import ClaimFailed, LabSetupError
from .lesson import Lesson, start_lesson

__all__ = ["ClaimFailed", "LabSetupError", "Lesson", "audit", "claim", "claim_below", "claim_ratio", "start_lesson"]
