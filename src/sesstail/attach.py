"""History before the live stream, and a prompt's turn: nothing lost in between, nothing twice.

``watch --history N`` (``Backfilled``): the last N messages, then the live stream.
* v2: exact. The history is read by sequence number and the stream resumes right after its
  newest event, so every durable message is shown once, whatever was said meanwhile.
* v1: the socket is live-only (PROTOCOL §2). It is subscribed first, then the history is
  read, so nothing said in between is lost; a live message that is also in the history (read
  ``V1_OVERLAP_MARGIN`` messages wider than shown, for what was said during the read) is
  shown once, by ``uuid``. No timing, no guessing which live messages are replays.

``send --watch`` (``AfterPrompt``): subscribed first, then the prompt is posted, then the turn
from the prompt's echo in the stream to its ``result``. Should the service not echo prompts
(unverified), the turn is what arrived after the post was accepted, with a status line saying
so once ``ECHO_WAIT_S`` have passed: the watch never waits silently for an echo.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sesstail.errors import SesstailError
from sesstail.protocol import Message

if TYPE_CHECKING:
    from sesstail.transport.stream import SessionStream

ECHO_WAIT_S = 5.0
V1_OVERLAP_MARGIN = 200  # messages said while the history was being read
SINCE_MAX_MESSAGES = 10_000  # --since without -n: at most this many of the history


class _End:
    pass


_END = _End()


class Subscription:
    """A session stream received in the background into a queue."""

    def __init__(self, stream: SessionStream) -> None:
        self.stream = stream
        self._queue: asyncio.Queue[Message | _End] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._pump = asyncio.get_running_loop().create_task(self._receive())

    async def _receive(self) -> None:
        try:
            async for msg in self.stream.messages():
                self._queue.put_nowait(msg)
        finally:
            self._queue.put_nowait(_END)

    async def connected(self) -> None:
        """Wait until the stream is subscribed; its failure, if it fails first, is raised."""
        assert self._pump is not None
        waiter = asyncio.ensure_future(self.stream.wait_connected())
        try:
            await asyncio.wait({waiter, self._pump}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._pump.done() and not self._pump.cancelled():
            self._pump.result()  # raises what ended the stream

    async def next(self) -> Message | None:
        """The next message, waiting for it; None once the stream has ended (its failure,
        if it failed, is raised). Safe to cancel: nothing is lost."""
        item = await self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(item)
            assert self._pump is not None
            if not self._pump.cancelled():
                self._pump.result()
            return None
        return item

    async def messages(self) -> AsyncIterator[Message]:
        while (item := await self.next()) is not None:
            yield item

    async def aclose(self) -> None:
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


@contextlib.asynccontextmanager
async def subscribed(stream: SessionStream) -> AsyncIterator[Subscription]:
    """A subscription received in the background, once connected; closed on the way out."""
    subscription = Subscription(stream)
    subscription.start()
    try:
        await subscription.connected()
        yield subscription
    finally:
        await subscription.aclose()


def _uuid(msg: Message) -> str | None:
    value = msg.obj.get("uuid")
    return value if type(value) is str else None


@dataclass
class Backfilled:
    """The last ``count`` messages of the history (those since ``since``, epoch seconds, when
    given), then the live stream, each once."""

    stream: SessionStream
    count: int
    since: float | None = None
    # The history is a help, not a need (``wait --until idle``): when it cannot be read,
    # say so with -v and go on with the live stream alone.
    optional: bool = False

    async def _history(self, overlap: int = 0) -> list[Message]:
        try:
            return await self.stream.last_messages(self.count, overlap=overlap, since=self.since)
        except SesstailError as exc:
            if not self.optional:
                raise
            self.stream.on_status(
                f"could not read the history ({exc.message}); going on with the live stream",
                True,
            )
            return []

    async def messages(self) -> AsyncIterator[Message]:
        stream = self.stream
        await stream.resolve()
        if stream.api == "v2":
            for msg in await self._history():
                yield msg
            # Closed here when the watch ends, not whenever it is collected: its sockets go.
            async with contextlib.aclosing(stream.messages()) as live:
                async for msg in live:
                    yield msg
            return
        async with subscribed(stream) as subscription:
            # v1 is live-only (PROTOCOL §2): what arrives after subscribing is new, except what
            # was said before the history was read: it is in that read, wider than shown.
            history = await self._history(overlap=V1_OVERLAP_MARGIN)
            known = stream.history_known
            for msg in history:
                yield msg
            async for msg in subscription.messages():
                if _uuid(msg) not in known:
                    yield msg


@dataclass
class AfterPrompt:
    """Post a prompt once subscribed, then the session from the prompt to that turn's
    ``result``."""

    stream: SessionStream
    prompt_uuid: str
    text: str

    async def messages(self) -> AsyncIterator[Message]:
        stream = self.stream
        async with subscribed(stream) as subscription:
            await stream.send_prompt(self.text, self.prompt_uuid)
            stream.on_status("prompt sent", True)
            after_post: list[Message] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + ECHO_WAIT_S
            turn: list[Message] = []
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        msg = await subscription.next()
                except TimeoutError:
                    stream.on_status(
                        f"the session did not echo the prompt within {ECHO_WAIT_S:g} s; "
                        "showing what came after it was sent",
                        False,
                    )
                    turn = after_post
                    break
                if msg is None:
                    return
                if _uuid(msg) == self.prompt_uuid:
                    turn = [msg]
                    break
                after_post.append(msg)
            for msg in turn:
                yield msg
                if msg.obj["type"] == "result":
                    return
            while (msg := await subscription.next()) is not None:
                yield msg
                if msg.obj["type"] == "result":
                    return
