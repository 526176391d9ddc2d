"""Following a session: the stream, the filters and a renderer, put together.

``watch`` is the one code path behind ``sesstail watch`` and ``sesstail demo``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from sesstail.protocol import Message, TypeFilter


class MessageSource(Protocol):
    """Where messages come from: a ``SessionStream``, or one wrapped (backfill, recording)."""

    def messages(self) -> AsyncIterator[Message]: ...


class Renderer(Protocol):
    def message(self, msg: Message) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class WatchOptions:
    filter: TypeFilter
    until: TypeFilter | None = None
    keepalive: bool = False


async def watch(stream: MessageSource, renderer: Renderer, options: WatchOptions) -> bool:
    """Render the stream until it ends or ``--until`` matches; True when ``--until`` matched."""
    keeps = options.filter.keeps
    until = options.until
    show = renderer.message
    messages = stream.messages()
    try:
        async for msg in messages:
            obj = msg.obj
            if obj["type"] == "keep_alive" and not options.keepalive:
                continue
            if keeps(obj):
                show(msg)
            # --until waits for what happens next: the history shown first is context.
            if until is not None and until.matches(obj) and not msg.backfill:
                return True
        return False
    finally:
        # Close the stream now, not when the generator is collected: its socket goes with it.
        aclose = getattr(messages, "aclose", None)
        if aclose is not None:
            await aclose()
        renderer.close()
