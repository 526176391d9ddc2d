"""What the renderer remembers between messages, every memory bounded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Call:
    """A tool call seen in the stream: its tool, input, and the sub-agent that made it."""

    name: str
    input: Any
    parent: str


@dataclass(slots=True)
class Memory:
    """Tool calls by id, replies and models per stream (the main one is ""), open prompts."""

    calls: dict[str, Call] = field(default_factory=dict)
    reply_ids: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    progress_shown: dict[str, int] = field(default_factory=dict)
    # The last text each sub-agent said (a fingerprint), to draw its report once.
    last_words: dict[str, int] = field(default_factory=dict)
    # Permission prompts still open: request id → (tool, tool_use_id), and the other way.
    open_prompts: dict[str, tuple[str, str]] = field(default_factory=dict)
    prompted_calls: dict[str, str] = field(default_factory=dict)
    rung: dict[str, bool] = field(default_factory=dict)
    last_call: str | None = None
    last_stream: str = ""  # whose reply was drawn last
    adjacent_call: str | None = None
    # The live counters folded into one line until something else is drawn.
    folded: str = ""
    # On a terminal, live lines (tool progress, thinking tokens, "requesting") are redrawn in
    # place: each event draws its line, which the renderer replaces.
    live: bool = False

    def depth(self, stream: str) -> list[str]:
        """The chain of sub-agent calls ``stream`` runs in, outermost first."""
        chain: list[str] = []
        while stream and len(chain) < 8:
            chain.append(stream)
            call = self.calls.get(stream)
            stream = call.parent if call is not None else ""
        chain.reverse()
        return chain
