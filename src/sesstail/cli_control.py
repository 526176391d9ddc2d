"""Commands that send control requests into a session (interrupt, setters, permissions)."""

from __future__ import annotations
