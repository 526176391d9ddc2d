"""Times that come from the wire: a message's own ``timestamp`` / ``created_at``.

They are remote values, so untrusted: anything that is not a short ISO 8601 string with a
plausible year gives None (the caller falls back to the receive time), never an exception.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

_MAX_LEN = 64
_YEARS = range(1970, 10_000)


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time (``2026-12-01T10:00:03.123Z``, an offset, or none:
    then UTC, as the service writes them), or None."""
    if not isinstance(value, str) or not 10 <= len(value) <= _MAX_LEN:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.year not in _YEARS:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def message_time(obj: dict[str, Any]) -> float | None:
    """When a message says it was made: its ``timestamp``, else its ``created_at``."""
    when = parse_time(obj.get("timestamp"))
    return when if when is not None else parse_time(obj.get("created_at"))


def since_filter(items: list[dict[str, Any]], since: float) -> list[dict[str, Any]]:
    """The items (oldest first) made at or after ``since``. An item without a time of its own
    takes that of the nearest older one that has one; before any, it is kept."""
    kept: list[dict[str, Any]] = []
    current: float | None = None
    for item in items:
        when = message_time(item)
        if when is not None:
            current = when
        if current is None or current >= since:
            kept.append(item)
    return kept


def reaches_before(items: list[dict[str, Any]], since: float) -> bool:
    """Whether any of ``items`` was made before ``since``: no need to page further back."""
    for item in items:
        when = message_time(item)
        if when is not None and when < since:
            return True
    return False
