"""Following a session: the stream, the filters and a renderer, put together.

``watch`` is the one code path behind ``sesstail watch`` and ``sesstail demo``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from sesstail.errors import ExitCode
from sesstail.protocol import Message, TypeFilter


class MessageSource(Protocol):
    """Where messages come from: a ``SessionStream``, or one wrapped (backfill, recording)."""

    def messages(self) -> AsyncIterator[Message]: ...


class Renderer(Protocol):
    def message(self, msg: Message) -> None: ...

    def close(self) -> None: ...


class ContentKeeps(Protocol):
    """``--tool`` / ``--grep``: a filter on what a message holds (``select.ContentFilter``)."""

    def keeps(self, obj: dict[str, Any]) -> bool: ...


class Tally:
    """For the summary line at the end of a watch: the messages it showed, the turns that
    ended (results, shown or hidden by the filters) and the cost so far (a result's
    ``total_cost_usd`` is the session's running total: the largest per stream, summed over
    the streams)."""

    __slots__ = ("_costs", "messages", "turns")

    def __init__(self) -> None:
        self.messages = 0
        self.turns = 0
        self._costs: dict[int, float] = {}

    def add(self, obj: dict[str, Any], stream_key: int, *, shown: bool = True) -> None:
        if shown:
            self.messages += 1
        if obj.get("type") == "result":
            self.turns += 1
            cost = obj.get("total_cost_usd")
            if isinstance(cost, int | float) and not isinstance(cost, bool) and 0 <= cost < 1e9:
                self._costs[stream_key] = max(self._costs.get(stream_key, 0.0), float(cost))

    def summary(self) -> str:
        def plural(n: int, word: str) -> str:
            return f"{n:,} {word}" + ("" if n == 1 else "s")

        parts = [plural(self.messages, "message"), plural(self.turns, "turn")]
        if self._costs:
            cost = sum(self._costs.values())
            parts.append(f"${cost:,.2f} so far" if cost >= 0.01 else f"${cost:.4f} so far")
        return ", ".join(parts)


@dataclass(frozen=True)
class WatchOptions:
    filter: TypeFilter
    until: TypeFilter | None = None
    keepalive: bool = False
    content: ContentKeeps | None = None
    exit_status: bool = False  # --exit-status: an error result that ends the wait exits 9
    tally: Tally | None = None  # counts what is shown, for the summary line of a pretty watch

    def keeps(self, obj: dict[str, Any]) -> bool:
        """Whether the filters keep ``obj`` (``watch`` inlines this on its hot path)."""
        if self.content is not None and not self.content.keeps(obj):
            return False
        return self.filter.keeps(obj)


def is_error_result(obj: dict[str, Any]) -> bool:
    """A ``result`` that reports a failed turn: ``is_error``, or an ``error_*`` subtype."""
    if obj.get("type") != "result":
        return False
    subtype = obj.get("subtype")
    return obj.get("is_error") is True or (isinstance(subtype, str) and subtype.startswith("error"))


def outcome(ended_by: Message | None, options: WatchOptions) -> int:
    """The exit code of a watch that ended with ``ended_by`` (``--until``'s match, or None)."""
    if options.exit_status and ended_by is not None and is_error_result(ended_by.obj):
        return ExitCode.RESULT_ERROR
    return ExitCode.OK


async def watch(stream: MessageSource, renderer: Renderer, options: WatchOptions) -> Message | None:
    """Render the stream until it ends or ``--until`` matches; the message that matched."""
    type_keeps = options.filter.keeps
    content = options.content
    if content is None:
        keeps = type_keeps
    else:
        content_keeps = content.keeps

        def keeps(obj: dict[str, Any]) -> bool:
            # Both see every message: --tool remembers the calls it kept, for their results.
            return content_keeps(obj) and type_keeps(obj)

    until = options.until
    show = renderer.message
    tally = options.tally
    key = id(stream)
    if tally is not None:
        draw = show

        def show(msg: Message) -> None:
            draw(msg)
            tally.add(msg.obj, key)

    messages = stream.messages()
    try:
        async for msg in messages:
            obj = msg.obj
            if obj["type"] == "keep_alive" and not options.keepalive:
                continue
            if keeps(obj):
                show(msg)
            elif tally is not None and obj["type"] == "result":
                tally.add(obj, key, shown=False)  # a turn ended, even when hidden (-t assistant)
            # --until waits for what happens next: the history shown first is context.
            if until is not None and until.matches(obj) and not msg.backfill:
                return msg
        return None
    finally:
        # Close the stream now, not when the generator is collected: its socket goes with it.
        aclose = getattr(messages, "aclose", None)
        if aclose is not None:
            await aclose()
        renderer.close()
