"""Subscribe first, then ask the REST endpoints: nothing said in between is lost.

``watch --history N`` and ``send --watch`` both need a REST call (the last messages; posting
the prompt) while the live stream is already subscribed. ``Subscription`` runs the stream in
the background and queues what it receives until it is wanted.

Backfill: the history is shown first, then the live messages, each ``uuid`` once. A live
message that is also in the history is dropped; and every live message received before the
last one that is in the history is dropped too, because the stream is ordered: those are the
service replaying what it had said before we attached (PROTOCOL §2), older than the history.
To tell such a replay from new messages, the history is asked for only once the stream has
said something (or has stayed quiet for ``SETTLE_S``): a message received before asking was
said before asking, so if it is not among the last N it is older than them, and the live
stream is skipped until it reaches them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sesstail.protocol import Message

if TYPE_CHECKING:
    from sesstail.connection import SessionStream


SETTLE_S = 0.3
# Never kept in a session's history, so their absence from it says nothing about their age.
_TRANSIENT = frozenset({"keep_alive", "stream_event"})


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

    async def first_message(self, timeout: float) -> None:
        """Wait until something has been received (or the stream ended), at most ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._queue.empty() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)

    async def quiet(self, quiet_for: float, at_most: float) -> None:
        """Wait until nothing has arrived for ``quiet_for`` seconds (a burst, such as a replay
        on attach, is over), at most ``at_most``. What arrived stays queued."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + at_most
        seen = -1
        while loop.time() < deadline:
            size = self._queue.qsize()
            if size == seen:
                return
            seen = size
            await asyncio.sleep(quiet_for)

    def received(self) -> list[Message]:
        """What has arrived so far, without waiting (the end of the stream stays queued)."""
        out: list[Message] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, _End):
                self._queue.put_nowait(item)
                break
            out.append(item)
        return out

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
    """The last messages from the history endpoint, then the live stream, each once."""

    stream: SessionStream
    fetch: Callable[[], list[Message]]  # blocking (a REST call): run in a thread

    async def messages(self) -> AsyncIterator[Message]:
        async with subscribed(self.stream) as subscription:
            await subscription.first_message(SETTLE_S)
            before_asking = subscription.received()
            history = await asyncio.to_thread(self.fetch)
            known = {u for u in map(_uuid, history) if u is not None}
            for message_uuid in known:  # a later replay is dropped at the source
                self.stream.seen.first_time(message_uuid)
            for msg in history:
                yield msg._replace(backfill=True)
            buffered = before_asking + subscription.received()
            overlap = [i for i, msg in enumerate(buffered) if _uuid(msg) in known]
            # Said before we asked, yet not among the last N: an older replay, skipped.
            skipping = not overlap and any(
                _uuid(msg) is not None and msg.obj["type"] not in _TRANSIENT
                for msg in before_asking
            )
            for msg in buffered[overlap[-1] + 1 :] if overlap else buffered:
                if skipping:
                    skipping = _uuid(msg) not in known
                elif _uuid(msg) not in known:
                    yield msg
            async for msg in subscription.messages():
                if skipping:
                    skipping = _uuid(msg) not in known
                elif _uuid(msg) not in known:
                    yield msg


@dataclass
class SinceAttach:
    """The stream, with what the service replays from before we attached marked
    ``backfill``, for ``wait --until result``: an old ``result`` must not end a wait for the
    next one.

    A service may replay a session's history on attach (PROTOCOL §2, unverified). Before
    subscribing, the uuids of the history's latest page are fetched. A replay ends with them,
    in order: once one of them arrives, everything received so far was said before we
    attached. Until then, messages are held (not shown) while they come in a burst; when the
    stream goes quiet, or after ``SETTLE_MAX_S``, with none of them seen, nothing was
    replayed and the held messages are new.
    """

    stream: SessionStream
    fetch: Callable[[], list[str]]  # the latest page's uuids; blocking (a REST call)

    async def messages(self) -> AsyncIterator[Message]:
        before = {u for u in await asyncio.to_thread(self.fetch) if u}
        if not before:  # nothing said yet: nothing to replay
            async for msg in self.stream.messages():
                yield msg
            return
        async with subscribed(self.stream) as subscription:
            held, replayed = await self._until_decided(subscription, before)
            for old in held:
                yield old._replace(backfill=True) if replayed else old
            while (item := await subscription.next()) is not None:
                # Said before we attached and sent again later: still no news.
                yield item._replace(backfill=True) if _uuid(item) in before else item

    @staticmethod
    async def _until_decided(
        subscription: Subscription, before: set[str]
    ) -> tuple[list[Message], bool]:
        """The messages held while deciding, and whether they were a replay."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + SETTLE_MAX_S
        held: list[Message] = []
        while True:
            quiet_for = SETTLE_S if not held else QUIET_S
            try:
                async with asyncio.timeout_at(min(give_up, loop.time() + quiet_for)):
                    msg = await subscription.next()
            except TimeoutError:
                return held, False  # quiet, and none of the history: nothing replayed
            if msg is None:
                return held, False
            held.append(msg)
            if _uuid(msg) in before:
                return held, True


ECHO_WAIT_S = 5.0
QUIET_S = 0.05  # a replay on attach is over once the stream is this quiet...
SETTLE_MAX_S = 2.0  # ...or after this long, for a session busy with a turn


@dataclass
class AfterPrompt:
    """Post a prompt once subscribed, then the session from the prompt to that turn's
    ``result``. What the stream replays from before the prompt is not shown.

    The turn starts at the prompt's echo in the stream. Should the service not echo prompts
    (unverified), the turn is what arrived after the post was accepted, with a status line
    saying so once ``ECHO_WAIT_S`` have passed: the watch never waits silently for an echo that
    will not come.
    """

    stream: SessionStream
    prompt_uuid: str
    post: Callable[[], object]  # blocking (a REST call): run in a thread

    async def messages(self) -> AsyncIterator[Message]:
        async with subscribed(self.stream) as subscription:
            # A replay on attach starts at once: let it arrive before the prompt is posted.
            await subscription.first_message(SETTLE_S)
            await subscription.quiet(QUIET_S, SETTLE_MAX_S)
            subscription.received()
            await asyncio.to_thread(self.post)
            after_post: list[Message] = []
            wait = ECHO_WAIT_S
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            turn: list[Message] = []
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        msg = await subscription.next()
                except TimeoutError:
                    self.stream.on_status(
                        f"the session did not echo the prompt within {wait:g} s; "
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
