"""Following a session: the stream, the filters and a renderer, put together.

``watch`` is the one code path behind ``sesstail watch`` and ``sesstail demo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sesstail.connection import SessionStream
from sesstail.protocol import Message, TypeFilter


class Renderer(Protocol):
    def message(self, msg: Message) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class WatchOptions:
    filter: TypeFilter
    until: TypeFilter | None = None
    keepalive: bool = False


async def watch(stream: SessionStream, renderer: Renderer, options: WatchOptions) -> bool:
    """Render the stream until it ends or ``--until`` matches; True when ``--until`` matched."""
    keeps = options.filter.keeps
    until = options.until
    show = renderer.message
    try:
        async for msg in stream.messages():
            obj = msg.obj
            if obj["type"] == "keep_alive" and not options.keepalive:
                continue
            if keeps(obj):
                show(msg)
            if until is not None and until.matches(obj):
                return True
        return False
    finally:
        renderer.close()
