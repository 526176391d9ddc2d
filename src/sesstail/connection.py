"""The session stream lives in ``sesstail.transport.stream`` (kept importable here)."""

from sesstail.transport.stream import SessionStream, StreamSettings, backoff_delay

__all__ = ["SessionStream", "StreamSettings", "backoff_delay"]
