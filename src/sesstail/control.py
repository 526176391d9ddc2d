"""Control requests and permission prompts over a session stream (PROTOCOL §4), without typer.

* :func:`exchange` sends one control request and waits for the ``control_response`` with its
  ``request_id`` (anything else arriving meanwhile is ignored); an error answer raises
  :class:`ControlError`, silence past the timeout :class:`ControlTimeout`.
* :func:`answer_prompt` sends the answer to a ``can_use_tool`` prompt (allow or deny).
* :func:`wait_for_state` watches silently until a result, an idle session or a pending prompt.
* :func:`watch_and_answer` is ``watch --interactive`` (and ``demo``): it draws the stream, asks
  an :class:`Asker` about each permission prompt while the stream keeps being received, and
  answers any other control request from the session with an error, as the protocol asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from sesstail.errors import CannotConnect, ControlError, ControlTimeout, UsageError
from sesstail.protocol import (
    Message,
    control_error,
    control_request,
    control_success,
    is_permission_prompt,
)
from sesstail.transport.stream import SessionStream, StreamSettings

if TYPE_CHECKING:
    from sesstail.watch import MessageSource, Renderer, WatchOptions

PERMISSION_MODES = ("default", "acceptEdits", "bypassPermissions", "plan", "dontAsk")
DEFAULT_DENY_MESSAGE = "The user denied this request."
_SUBTYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


# -- building requests ---------------------------------------------------------------------------


def thinking_tokens(value: str) -> int | None:
    """``TOKENS|off|default`` → the ``max_thinking_tokens`` field: an integer, 0, or None."""
    text = value.strip().lower()
    if text == "off":
        return 0
    if text == "default":
        return None
    if text.isdigit():
        return int(text)
    raise UsageError(
        f"invalid thinking budget {value!r}: expected a number of tokens, off or default"
    )


def parse_fields(pairs: list[str], data: str | None) -> dict[str, Any]:
    """``--data JSON`` then ``KEY=VALUE`` pairs (values are JSON when they parse, else text)."""
    import json

    fields: dict[str, Any] = {}
    if data is not None:
        try:
            parsed = json.loads(data)
        except ValueError:
            raise UsageError("--data is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise UsageError("--data must be a JSON object")
        fields.update(parsed)
    for pair in pairs:
        key, equals, raw = pair.partition("=")
        if not equals or not _KEY.fullmatch(key):
            raise UsageError(f"invalid field {pair!r}: expected KEY=VALUE")
        try:
            fields[key] = json.loads(raw)
        except ValueError:
            fields[key] = raw
    if "subtype" in fields:
        raise UsageError("the subtype is the SUBTYPE argument, not a field")
    return fields


def validate_subtype(subtype: str) -> str:
    if not _SUBTYPE.fullmatch(subtype):
        raise UsageError(f"invalid control subtype {subtype!r}: expected a name like get_settings")
    return subtype


def allow_response(request_id: str, updated_input: dict[str, Any] | None = None) -> dict[str, Any]:
    """Allow a prompt; ``updatedInput`` is required, ``{}`` means "the input as asked"."""
    return control_success(request_id, {"behavior": "allow", "updatedInput": updated_input or {}})


def deny_response(request_id: str, message: str, *, interrupt: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"behavior": "deny", "message": message}
    if interrupt:
        body["interrupt"] = True
    return control_success(request_id, body)


# -- reading answers -----------------------------------------------------------------------------


def response_to(obj: dict[str, Any], request_id: str) -> bool:
    """Whether ``obj`` is the ``control_response`` to ``request_id``."""
    if obj.get("type") != "control_response":
        return False
    body = obj.get("response")
    return isinstance(body, dict) and body.get("request_id") == request_id


def success_body(answer: dict[str, Any], what: str) -> dict[str, Any]:
    """The ``response`` of a success answer ({} when none); an error answer raises."""
    from sesstail.render.sanitize import clean

    body = answer["response"]
    if body.get("subtype") != "success":
        error = body.get("error")
        text = error if isinstance(error, str) and error else "the session answered with an error"
        raise ControlError(f"{what}: {clean(text)}")
    inner = body.get("response")
    return inner if isinstance(inner, dict) else {}


# -- one request, one answer ---------------------------------------------------------------------


def _messages(stream: SessionStream) -> AsyncGenerator[Message, None]:
    """The stream's messages, as an async generator that can be closed early."""
    return stream.messages()


async def _send_when_connected(
    stream: SessionStream, obj: dict[str, Any], receiver: asyncio.Future[Any]
) -> None:
    """Send ``obj`` on the first open connection; the receiver's failure ends the wait."""
    while True:
        connected = asyncio.ensure_future(stream.wait_connected())
        done, _ = await asyncio.wait({connected, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if receiver in done:
            connected.cancel()
            receiver.result()  # raises the connection's error
            raise CannotConnect("the session stream ended before the request was sent")
        try:
            await stream.send(obj)
            return
        except CannotConnect:
            await asyncio.sleep(0.01)  # closed under our feet: wait for the reconnect


RESEND_CHECK_S = 0.05
CLOSE_GRACE_S = 0.5  # after the answer: how long the connection may take to close
REDELIVERY_GRACE_S = 0.3  # v1, after a prompt's answer: how long to watch for redeliveries


async def exchange(
    stream: SessionStream, request: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """Send ``request`` and return the ``control_response`` with its id.

    The timeout counts from the moment the request is sent: reaching the session is the
    connection's business, with its own retries and exit codes. If the connection is replaced
    before the answer comes, the request is sent again with the same ``request_id``.
    """
    request_id = request["request_id"]
    loop = asyncio.get_running_loop()
    # The answer counts the moment it arrives: closing the connection afterwards (which a
    # slow server can drag out to the close timeout) is no part of the request's deadline.
    answered: asyncio.Future[dict[str, Any]] = loop.create_future()

    async def receive() -> dict[str, Any]:
        # aclosing: leaving the loop early must close the connection now, cleanly, not
        # whenever the generator happens to be collected.
        async with contextlib.aclosing(_messages(stream)) as messages:
            async for msg in messages:
                if response_to(msg.obj, request_id):
                    answered.set_result(msg.obj)
                    return msg.obj
        raise CannotConnect("the session stream ended before the answer came")

    receiver = asyncio.ensure_future(receive())
    try:
        await _send_when_connected(stream, request, receiver)
        sent_on = stream.connections
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                subtype = request["request"]["subtype"]
                raise ControlTimeout(
                    f"no answer to {subtype} within {timeout:g} s",
                    hint="the session may be busy or not connected; try again or raise --timeout",
                )
            done, _ = await asyncio.wait(
                {receiver, answered},
                timeout=min(remaining, RESEND_CHECK_S),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if answered.done():
                return answered.result()
            if done:
                return receiver.result()  # raises what ended the stream
            if stream.connections > sent_on and not stream.durable_sends:
                # The connection was replaced before the answer came: the request may have
                # died with it, so it goes again, with the same id, on the new one. (A v2
                # request was posted, not sent on the connection: it survives.)
                await _send_when_connected(stream, request, receiver)
                sent_on = stream.connections
    finally:
        if answered.done() and not receiver.done():
            # Give the close handshake a moment to end cleanly, then drop the connection.
            await asyncio.wait({receiver}, timeout=CLOSE_GRACE_S)
            if not receiver.done():
                stream.abort()
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver


async def request(
    stream: SessionStream, subtype: str, fields: dict[str, Any] | None, timeout: float
) -> dict[str, Any]:
    """Send a control request of ``subtype`` with a fresh id; return its answer."""
    return await exchange(stream, control_request(subtype, fields), timeout)


async def send_once(
    stream: SessionStream, obj: dict[str, Any], timeout: float, *, prompt: str | None = None
) -> list[str]:
    """Send one frame that has no answer (a prompt's answer) and close cleanly.

    v1: the close handshake makes sure the frame reached the server before we exit. v2: the
    answer is posted; the POST's own answer says it arrived.

    ``prompt``: the request id being answered. A v1 connection is asked again the prompts
    still open (a redelivery): they are watched for a moment after sending (less when
    ``prompt`` is among them), and their ids returned, so a caller can warn that ``prompt``
    is not one of them. Empty over v2, and when nothing was redelivered (nothing can be
    told then: the socket is otherwise live-only).
    """
    try:
        async with asyncio.timeout(timeout):
            await stream.resolve()
            if stream.durable_sends:
                await stream.send(obj)
                return []
    except TimeoutError:
        raise ControlTimeout(f"could not send the answer within {timeout:g} s") from None

    redelivered: list[str] = []
    seen_it = asyncio.Event()

    async def receive() -> None:
        async with contextlib.aclosing(_messages(stream)) as messages:
            async for msg in messages:
                if is_permission_prompt(msg.obj):
                    redelivered.append(str(msg.obj["request_id"]))
                    if redelivered[-1] == prompt:
                        seen_it.set()
        raise CannotConnect("the session stream ended before the answer was sent")

    receiver = asyncio.ensure_future(receive())
    try:
        async with asyncio.timeout(timeout):
            await _send_when_connected(stream, obj, receiver)
            if prompt is not None:
                waiting = asyncio.ensure_future(seen_it.wait())
                await asyncio.wait({waiting, receiver}, timeout=REDELIVERY_GRACE_S)
                waiting.cancel()
    except TimeoutError:
        raise ControlTimeout(f"could not send the answer within {timeout:g} s") from None
    finally:
        await stream.aclose()
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver
    return redelivered


async def prompt_not_pending(stream: SessionStream, request_id: str) -> str | None:
    """Why ``request_id`` looks like no pending prompt, where the stream can tell (v2 keeps
    prompts and their answers in the history); None when it is pending or cannot be told.
    A warning only: the answer is sent all the same."""
    await stream.resolve()
    if stream.api != "v2":
        return None  # the v1 history holds no prompts
    from sesstail.errors import SesstailError

    try:
        recent = await stream.last_messages(200)
    except SesstailError:
        return None
    asked = False
    for msg in recent:
        obj = msg.obj
        if is_permission_prompt(obj) and obj.get("request_id") == request_id:
            asked = True
        elif asked and (
            (obj.get("type") == "control_cancel_request" and obj.get("request_id") == request_id)
            or response_to(obj, request_id)
        ):
            return f"prompt {request_id} was already answered or withdrawn"
    if not asked:
        return f"{request_id} is not among the session's recent permission prompts"
    return None


# -- waiting for a state -------------------------------------------------------------------------


class State(enum.StrEnum):
    result = "result"
    idle = "idle"
    blocked = "blocked"


def _starts_turn(obj: dict[str, Any]) -> bool:
    """A message that shows the session at work again after a result."""
    kind = obj.get("type")
    if kind == "assistant":
        return True
    if kind == "session_state_changed" or (
        kind == "system" and obj.get("subtype") == "session_state_changed"
    ):
        return obj.get("state") == "running"
    if kind == "user":
        message = obj.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        return isinstance(content, str) or (
            isinstance(content, list)
            and any(isinstance(b, dict) and b.get("type") == "text" for b in content)
        )
    return False


def _state_is(obj: dict[str, Any], state: str) -> bool:
    kind = obj.get("type")
    is_state_message = kind == "session_state_changed" or (
        kind == "system" and obj.get("subtype") == "session_state_changed"
    )
    return is_state_message and obj.get("state") == state


async def wait_for_state(
    stream: MessageSource, until: State, timeout: float | None, settle: float = 1.0
) -> Message | None:
    """Return the message that shows ``until`` holds; None for ``idle`` reached by quiet.

    ``idle``: a ``session_state_changed`` says idle, or a result arrived and no new turn
    started within ``settle`` seconds. History shown first (``backfill``) counts for
    ``idle`` — a session whose last turn ended before the wait is idle once nothing new
    starts — and for ``blocked`` — a prompt asked there and still open is pending — but
    never ends a wait for a ``result`` (it is not new).
    """
    messages = stream.messages()
    pending_prompts: dict[str, Message] = {}
    idle_since: Message | None = None

    async def next_message(wait: float | None) -> Message | None:
        """The next message; None when ``wait`` passes first; StopAsyncIteration at the end."""
        if wait is None:
            return await anext(messages)
        try:
            return await asyncio.wait_for(anext(messages), wait)
        except TimeoutError:
            return None

    async def watch() -> Message | None:
        nonlocal idle_since
        while True:
            msg = await next_message(settle if idle_since is not None else None)
            if msg is None:
                return idle_since  # quiet after a result: idle
            obj = msg.obj
            if until is State.result and obj["type"] == "result" and not msg.backfill:
                return msg
            if until is State.blocked:
                if msg.backfill:
                    # The history before the live stream: a prompt asked there is pending
                    # unless answered, withdrawn, or voided by the end of its turn since.
                    track_prompts(pending_prompts, msg)
                    continue
                if is_permission_prompt(obj):
                    pending_prompts[obj["request_id"]] = msg
                    # Its cancel may be right behind it: give that a moment.
                    continue
                if obj["type"] == "control_cancel_request":
                    pending_prompts.pop(str(obj.get("request_id")), None)
                    continue
                if _state_is(obj, "requires_action"):
                    return msg
                if pending_prompts:
                    return next(iter(pending_prompts.values()))
            if until is State.idle:
                if _state_is(obj, "idle"):
                    if not msg.backfill:
                        return msg
                    idle_since = msg  # idle then, unless the history goes on
                if obj["type"] == "result":
                    idle_since = msg
                elif _starts_turn(obj):
                    idle_since = None

    async def watch_blocked() -> Message | None:
        # A prompt is pending as soon as it arrives, unless its cancel is right behind it.
        task = asyncio.ensure_future(watch())
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.2)
                if done:
                    return task.result()
                if pending_prompts:
                    return next(iter(pending_prompts.values()))
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    body = watch_blocked() if until is State.blocked else watch()
    try:
        if timeout is None:
            return await body
        try:
            return await asyncio.wait_for(body, timeout)
        except TimeoutError:
            raise ControlTimeout(
                f"the session did not reach {until.value} within {timeout:g} s"
            ) from None
    except StopAsyncIteration:
        raise CannotConnect(
            f"the session stream ended before the session reached {until.value}"
        ) from None
    finally:
        closer = getattr(messages, "aclose", None)
        if closer is not None:
            with contextlib.suppress(BaseException):
                await closer()


# -- answering prompts while watching ------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the user said about a prompt: allow, or deny with a message."""

    allow: bool
    message: str = ""
    interrupt: bool = False


class Asker(Protocol):
    async def ask(self, prompt: dict[str, Any], withdrawn: asyncio.Event) -> Decision | None:
        """The user's decision; None to leave the prompt open (or when it was withdrawn)."""
        ...

    def answered(self, prompt: dict[str, Any], decision: Decision) -> None: ...

    def show(self, prompt: dict[str, Any]) -> None:
        """Show the prompt whole before asking, when the stream's renderer did not draw it
        (JSONL output, or a filter that hides control requests)."""
        ...


def prompt_summary(prompt: dict[str, Any]) -> tuple[str, str]:
    """The tool name and request id of a prompt, cleaned for the terminal."""
    from sesstail.render.sanitize import clean

    request = prompt["request"]
    tool = request.get("tool_name")
    name = clean(tool)[:60] if isinstance(tool, str) and tool else "the tool"
    return name, clean(prompt["request_id"])[:80]


class _EndOfInput:
    """The terminal's input ended (Ctrl-D): nothing more will be typed."""


END_OF_INPUT = _EndOfInput()


class TerminalAsker:
    """Asks on the terminal: allow, deny (with an optional message), or leave it.

    ``can_leave=False`` (the demo, whose session nobody else can answer) asks until the
    user allows or denies; at the end of input it allows, as a piped demo does.
    """

    def __init__(
        self, tty_in: int, out: TextIO, *, can_leave: bool = True, color: bool | None = None
    ) -> None:
        self.fd = tty_in
        self.out = out
        self.can_leave = can_leave
        self.color = color  # None: as the terminal and NO_COLOR / FORCE_COLOR say
        self._pending = bytearray()  # typed ahead: a paste of "d⏎not now⏎" is two answers
        self._eof = False

    def _say(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _take(self) -> str | _EndOfInput | None:
        """The next typed line, if one is complete (or input has ended)."""
        if b"\n" in self._pending:
            line, _, rest = self._pending.partition(b"\n")
            self._pending = bytearray(rest)
            return line.decode("utf-8", "replace")
        if self._eof:
            if self._pending:
                last = self._pending.decode("utf-8", "replace")
                self._pending.clear()
                return last
            return END_OF_INPUT
        return None

    async def _line(self, withdrawn: asyncio.Event) -> str | _EndOfInput | None:
        """One line typed by the user; None when the prompt is withdrawn first."""
        ready = self._take()
        if ready is not None:
            return ready
        loop = asyncio.get_running_loop()
        typed: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            try:
                chunk = os.read(self.fd, 1024)
            except OSError:
                chunk = b""
            if not chunk:
                self._eof = True
            self._pending.extend(chunk)
            if (self._eof or b"\n" in self._pending) and not typed.done():
                typed.set_result(None)

        loop.add_reader(self.fd, readable)
        closer: asyncio.Future[Any] = asyncio.ensure_future(withdrawn.wait())
        try:
            await asyncio.wait({typed, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            loop.remove_reader(self.fd)
            closer.cancel()
        if typed.done():
            return self._take()
        typed.cancel()
        return None

    async def ask(self, prompt: dict[str, Any], withdrawn: asyncio.Event) -> Decision | None:
        tool, request_id = prompt_summary(prompt)
        choices = "[a]llow / [d]eny / [l]eave it" if self.can_leave else "[a]llow / [d]eny"
        while True:
            self._say(f"Allow {tool} ({request_id})? {choices}: ")
            line = await self._line(withdrawn)
            if line is None:
                self._say(f"\nthe session withdrew prompt {request_id}: question closed\n")
                return None
            if isinstance(line, _EndOfInput):
                if self.can_leave:
                    self._say(f"\nno more input: left prompt {request_id} open\n")
                    return None
                self._say(f"\nno more input: allowing {tool} ({request_id})\n")
                return Decision(allow=True)
            choice = line.strip().lower()
            if choice in ("a", "allow", "y", "yes"):
                return Decision(allow=True)
            if choice in ("d", "deny", "n", "no"):
                self._say("Message for Claude (optional, Enter to skip): ")
                reason = await self._line(withdrawn)
                if reason is None:
                    self._say(f"\nthe session withdrew prompt {request_id}: question closed\n")
                    return None
                text = "" if isinstance(reason, _EndOfInput) else reason.strip()
                return Decision(allow=False, message=text or DEFAULT_DENY_MESSAGE)
            if self.can_leave and choice in ("", "l", "leave"):
                self._say(f"left prompt {request_id} open\n")
                return None
            if not self.can_leave and choice in ("l", "leave"):
                self._say("the demo session waits for an answer: allow or deny (Ctrl-C stops)\n")

    def answered(self, prompt: dict[str, Any], decision: Decision) -> None:
        tool, request_id = prompt_summary(prompt)
        verdict = "allowed" if decision.allow else "denied"
        self._say(f"{verdict} {tool} ({request_id})\n")

    def show(self, prompt: dict[str, Any]) -> None:
        from sesstail.output import want_color
        from sesstail.render.pretty.prompts import draw_permission_prompt

        color = want_color("auto", self.out) if self.color is None else self.color
        draw_permission_prompt(prompt, self.out, color=color)
        self.out.flush()


class AutoAllow:
    """With no terminal to ask (``sesstail demo | …``): allow, after saying so."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say

    async def ask(self, prompt: dict[str, Any], withdrawn: asyncio.Event) -> Decision | None:
        tool, request_id = prompt_summary(prompt)
        self.say(f"no terminal to ask: allowing {tool} ({request_id})")
        return Decision(allow=True)

    def answered(self, prompt: dict[str, Any], decision: Decision) -> None:
        pass

    def show(self, prompt: dict[str, Any]) -> None:
        pass  # nobody to show it to: say() names what is allowed


PROMPT_LOOKBACK = 20  # messages of history read for a prompt asked before `watch -i` began


def track_prompts(pending: dict[str, Message], msg: Message) -> None:
    """Keep ``pending`` (by request id) the permission prompts still open after ``msg``: a
    prompt opens, its answer or withdrawal closes it, the end of a turn voids them all."""
    obj = msg.obj
    kind = obj["type"]
    if is_permission_prompt(obj):
        pending[obj["request_id"]] = msg
    elif kind == "control_cancel_request":
        pending.pop(str(obj.get("request_id")), None)
    elif kind == "result":
        pending.clear()
    elif kind == "control_response":
        body = obj.get("response")
        if isinstance(body, dict):
            pending.pop(str(body.get("request_id")), None)


def open_prompts(history: list[Message]) -> list[Message]:
    """The permission prompts of ``history`` still open at its end."""
    pending: dict[str, Message] = {}
    for msg in history:
        track_prompts(pending, msg)
    return list(pending.values())


async def prompts_already_open(stream: SessionStream) -> list[Message]:
    """A v2 session's prompts asked before this watch attached and still open.

    A watch starts at the live end, and v2 never asks a prompt again: one the session is
    already waiting on would never be shown. v2's history keeps prompts, so the last
    ``PROMPT_LOOKBACK`` events tell (read before the stream opens, it resumes right after
    them: exact). v1's history holds no prompts; best-effort: without a history, live only.
    """
    from sesstail.errors import SesstailError

    await stream.resolve()
    if stream.api != "v2":
        return []
    try:
        history = await stream.last_messages(PROMPT_LOOKBACK)
    except SesstailError as exc:
        stream.on_status(
            f"could not read the history ({exc.message}); a prompt asked before now is not shown",
            True,
        )
        return []
    return open_prompts(history)


async def watch_and_answer(
    stream: SessionStream, renderer: Renderer, options: WatchOptions, asker: Asker
) -> bool:
    """``watch`` that answers: True when ``--until`` matched.

    A receiver task keeps reading the stream into a queue while a question is open, so
    nothing is lost; what arrived meanwhile is drawn after the answer. A prompt the session
    was already waiting on when the watch began is shown and asked first (v2).
    """
    queue: asyncio.Queue[Message | None] = asyncio.Queue()
    withdrawn: dict[str, asyncio.Event] = {}
    answered: set[str] = set()

    def event_for(request_id: str) -> asyncio.Event:
        return withdrawn.setdefault(request_id, asyncio.Event())

    async def receive() -> None:
        try:
            for msg in await prompts_already_open(stream):
                await queue.put(msg)
            async with contextlib.aclosing(_messages(stream)) as messages:
                async for msg in messages:
                    obj = msg.obj
                    kind = obj["type"]
                    request_id = obj.get("request_id")
                    if kind == "control_cancel_request" and isinstance(request_id, str):
                        event_for(request_id).set()
                    elif (
                        kind == "control_request"
                        and isinstance(request_id, str)
                        and not is_permission_prompt(obj)
                    ):
                        # Unanswered control requests get a bridge dropped: say no at once.
                        request = obj.get("request")
                        subtype = request.get("subtype") if isinstance(request, dict) else None
                        await stream.send(
                            control_error(
                                request_id, f"sesstail cannot answer control requests of {subtype}"
                            )
                        )
                    await queue.put(msg)
        finally:
            await queue.put(None)

    receiver = asyncio.ensure_future(receive())
    keeps = options.keeps
    until = options.until
    try:
        while True:
            msg = await queue.get()
            if msg is None:
                break
            obj = msg.obj
            if obj["type"] == "keep_alive" and not options.keepalive:
                continue
            drawn = keeps(obj)
            if drawn:
                renderer.message(msg)
            if options.tally is not None:
                options.tally.add(obj, 0, shown=drawn)
            request_id = str(obj.get("request_id"))
            if (
                is_permission_prompt(obj)
                and request_id not in answered
                and not event_for(request_id).is_set()
            ):
                from sesstail.output import JsonlWriter

                if not drawn or isinstance(renderer, JsonlWriter):
                    # Never ask about what was not shown: the banner, whole, first.
                    asker.show(obj)
                decision = await asker.ask(obj, event_for(request_id))
                if decision is not None and not event_for(request_id).is_set():
                    if decision.allow:
                        answer = allow_response(request_id)
                    else:
                        answer = deny_response(
                            request_id, decision.message, interrupt=decision.interrupt
                        )
                    await stream.send(answer)
                    answered.add(request_id)
                    asker.answered(obj, decision)
            if until is not None and until.matches(obj):
                return True
        await receiver  # raises the connection's error, if that is why the stream ended
        return False
    finally:
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver
        renderer.close()


# -- wiring for the CLI --------------------------------------------------------------------------


def require_terminal() -> int:
    """The file descriptor of the terminal on stdin; a usage error unless both stdin and stdout
    are terminals (there is nobody to ask otherwise)."""
    import sys

    try:
        ok = sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        ok = False
    if not ok:
        raise UsageError(
            "--interactive needs a terminal on stdin and stdout",
            hint="answer from a script with `sesstail allow` or `sesstail deny`",
        )
    return sys.stdin.fileno()


def demo_asker(say: Callable[[str, bool], None], *, color: bool | None = None) -> Asker:
    """``demo`` asks on a terminal, as ``watch --interactive`` does (``color``: its banner's,
    as ``--color`` says); piped, it allows."""
    import sys

    try:
        terminal = sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if terminal:
        return TerminalAsker(sys.stdin.fileno(), sys.stdout, can_leave=False, color=color)
    return AutoAllow(lambda text: say(f"demo: {text}", False))


def follow_interactively(
    settings: StreamSettings,
    renderer: Renderer,
    options: WatchOptions,
    on_status: Callable[[str, bool], None],
    terminal: int,
    *,
    color: bool | None = None,
) -> int:
    """``watch --interactive``: one ``asyncio.run`` of :func:`watch_and_answer`; ``color``:
    the banner drawn before a question the output did not show (``--color``)."""
    import sys

    async def go() -> int:
        stream = SessionStream(settings, on_status)
        asker = TerminalAsker(terminal, sys.stdout, color=color)
        await watch_and_answer(stream, renderer, options, asker)
        return 0

    return asyncio.run(go())
