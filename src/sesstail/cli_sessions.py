"""Commands around the stream: list sessions, history, send, open, replay."""

from __future__ import annotations
