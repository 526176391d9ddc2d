"""The v1 REST calls; they live in ``sesstail.transport.rest_v1`` (kept importable here)."""

from sesstail.transport.rest_v1 import Page, SessionsApi, as_messages, prompt_event

__all__ = ["Page", "SessionsApi", "as_messages", "prompt_event"]
