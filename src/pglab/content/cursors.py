"""Lesson 05's opaque page cursor: the position of the last row of a page, as a string an API can hand out.

The cursor holds (created_at, id) of that row, as JSON, signed with an HMAC so that a client cannot edit it into
another position (an edited date would otherwise give a valid-looking page from somewhere else: a wrong page, not an
error). Anything that is not a cursor this server made gets one clear sentence, never a traceback.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

SECRET = b"lesson-05-demo-secret"  # in an application: from its configuration, never in the code
_SIGNATURE_BYTES = 12


class BadCursor(ValueError):
    """A cursor that was changed, cut short, or made up. (Signed with the same secret, a cursor made for another
    list of the same shape is not told apart: sign the list's name in too where that matters.)"""


def encode_cursor(created_at: dt.datetime, row_id: uuid.UUID) -> str:
    body = json.dumps({"c": created_at.isoformat(), "i": str(row_id)}, separators=(",", ":")).encode()
    signature = hmac.new(SECRET, body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(body + signature).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body, signature = raw[:-_SIGNATURE_BYTES], raw[-_SIGNATURE_BYTES:]
        expected = hmac.new(SECRET, body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        if not body or not hmac.compare_digest(signature, expected):
            raise ValueError("not signed by this server")
        data = json.loads(body)
        created_at = dt.datetime.fromisoformat(data["c"])
        if created_at.tzinfo is None:
            raise ValueError("no time zone")
        return created_at, uuid.UUID(data["i"])
    except (ValueError, KeyError, TypeError):  # binascii.Error and json's errors are ValueErrors
        raise BadCursor("This page link is not valid (it was changed, cut short, or made up): "
                        "start again from the first page.") from None


__all__ = ["BadCursor", "decode_cursor", "encode_cursor"]
