"""The one HTTP client lives in ``sesstail.transport.http`` (kept importable here)."""

from sesstail.transport.http import request_json

__all__ = ["request_json"]
