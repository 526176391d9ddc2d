"""The wire protocol of remote sessions, with no I/O at all.

Parsing frames into messages, the identifiers and URLs we build, type filters, the bounded
memory of message ids that keeps reconnects from showing anything twice, and the control
request envelopes. See PROTOCOL.md for the contract this follows: ids and URLs §1 and §8
(``session_``/``cse_``), frames and what counts as a message §2, control envelopes §4,
message types §5, the v2 event envelope, its ``sequence_num`` and the non-worker source
rules (``worker_payload``) §8.
"""

from __future__ import annotations

import codecs
import json
import re
import uuid as uuid_module
from array import array
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import orjson

from sesstail.errors import UsageError

DEFAULT_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
WEB_URL = "https://claude.ai/code/"

# Real ids look like `session_01AbC…`. We accept the web address too, because that is what
# people copy from a browser, and the `cse_…` form of v2 answers (PROTOCOL §8), which we turn
# into the `session_…` form users paste.
_SESSION_ID = re.compile(r"session_[A-Za-z0-9_-]{1,200}")
_V2_ID = re.compile(r"cse_([A-Za-z0-9_-]{1,200})")
_SESSION_IN_URL = re.compile(
    r"^(?:https?://)?[^/\s]+/code/(session_[A-Za-z0-9_-]{1,200})/?(?:[?#].*)?$"
)


class Message(NamedTuple):
    """One message from the session: its JSON line and the parsed object.

    ``line`` is the message as received when it came as one line, else re-encoded compactly:
    JSONL output writes it unchanged, so keys and values are never altered.
    """

    line: str
    obj: dict[str, Any]
    received_at: float
    backfill: bool = False  # from the history shown before the live stream (watch --history)

    @property
    def type(self) -> str:
        return str(self.obj["type"])


class Skipped(NamedTuple):
    """A frame, or a line of one, that is not a message; why, in a few words."""

    reason: str
    excerpt: str


def validate_session_id(value: str) -> str:
    """Return the session id in ``value`` (an id or a claude.ai/code address), or raise."""
    value = value.strip()
    if _SESSION_ID.fullmatch(value):
        return value
    v2 = _V2_ID.fullmatch(value)
    if v2:
        return f"session_{v2.group(1)}"
    match = _SESSION_IN_URL.match(value)
    if match:
        return match.group(1)
    raise UsageError(
        f"invalid session id {shorten(value)!r}",
        hint="session ids look like session_01AbC… (or paste the claude.ai/code/… address)",
    )


def validate_org(value: str) -> str:
    """Return the organization UUID in canonical form, or raise a usage error."""
    try:
        return str(uuid_module.UUID(value.strip()))
    except ValueError:
        raise UsageError(
            f"invalid organization id {shorten(value)!r}: expected a UUID",
        ) from None


def validate_base_url(value: str) -> str:
    """Check a base URL and return it without a trailing slash."""
    value = value.strip()
    if "?" in value or "#" in value:
        raise UsageError(f"invalid base URL {shorten(value)!r}: no query or fragment")
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # "Invalid IPv6 URL" and the like
        raise UsageError(f"invalid base URL {shorten(value)!r}: {exc}") from None
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise UsageError(
            f"invalid base URL {shorten(value)!r}: expected http(s)://host[:port]",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError(f"invalid base URL {shorten(value)!r}: no query, fragment or user")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise UsageError(f"invalid base URL {shorten(value)!r}: bad port") from None
    return f"{parts.scheme}://{value.split('://', 1)[1]}".rstrip("/")


def subscribe_url(base_url: str, session_id: str, org_uuid: str) -> str:
    """The WebSocket address of a session's stream; ``http``→``ws``, ``https``→``wss``."""
    base = validate_base_url(base_url)
    scheme, rest = base.split("://", 1)
    ws_scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    return (
        f"{ws_scheme}://{rest}/v1/sessions/ws/{quote(session_id, safe='')}"
        f"/subscribe?organization_uuid={quote(org_uuid, safe='')}"
    )


def http_url(base_url: str, path: str) -> str:
    """An HTTP(S) address under the base URL (a ``ws`` base maps back to ``http``)."""
    base = validate_base_url(base_url)
    scheme, rest = base.split("://", 1)
    http_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return f"{http_scheme}://{rest}{path}"


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# orjson turns integers beyond 64 bits into floats; a run of 19 ASCII digits sends the frame to
# the exact (slower) stdlib parser instead. Found with a byte table, not a regex: a regex scan
# cost 12 µs per 1 KB frame, five times the parse itself.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGIT_RUN = b"0" * 19


NESTED_TOO_DEEPLY = "JSON nested too deeply"


def _has_long_digit_run(text: str) -> bool:
    # surrogatepass: a frame may hold lone surrogates, which only the stdlib parser accepts.
    return _LONG_DIGIT_RUN in text.encode("utf-8", "surrogatepass").translate(_DIGITS_ONLY)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str, exact: bool = True) -> Any:
    """Parse JSON; any failure, however exotic, is a ``ValueError``.

    ``exact=False`` skips the scan for integers beyond 64 bits, for callers that only read
    string fields of the result (JSONL output writes the line as received, never the object).
    """
    if not exact or not _has_long_digit_run(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # lone surrogates and deep nesting: let the stdlib decide
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(NESTED_TOO_DEEPLY) from None


def _dumps(obj: Any) -> str:
    try:
        return orjson.dumps(obj).decode()
    except TypeError:
        return json.dumps(obj, separators=(",", ":"))


def parse_message(frame: str | bytes, received_at: float, exact: bool = True) -> Message | None:
    """The common case, cheaply: a frame that is one message on one line; else None, and
    ``parse_frame`` says what the frame holds."""
    if type(frame) is not str or "\n" in frame or "\r" in frame:
        return None
    try:
        obj = orjson.loads(frame) if not exact else loads(frame)
    except ValueError:
        return None
    if type(obj) is dict and type(obj.get("type")) is str:
        return Message(frame.strip(), obj, received_at)
    return None


def parse_frame(
    frame: str | bytes, received_at: float, exact: bool = True
) -> Iterator[Message | Skipped]:
    """Split one text frame into messages, and say what was skipped.

    A frame is one JSON object, or several separated by newlines. Any object with a string
    ``type`` is a message, whatever the type; everything else is skipped, never fatal.
    """
    if isinstance(frame, bytes):
        yield Skipped("binary frame", f"{len(frame)} bytes")
        return
    try:
        obj = loads(frame, exact)
    except ValueError as exc:
        if "\n" not in frame:
            deep = str(exc) == NESTED_TOO_DEEPLY
            yield Skipped(NESTED_TOO_DEEPLY if deep else "invalid JSON", shorten(frame))
            return
        # Only "\n" separates messages: U+2028 and friends are legal inside JSON strings.
        for line in frame.split("\n"):
            if line.strip():
                yield from parse_frame(line.rstrip("\r"), received_at, exact)
        return
    if type(obj) is not dict:
        yield Skipped(f"a JSON {_json_kind(obj)}, not an object", shorten(frame))
        return
    if type(obj.get("type")) is not str:
        yield Skipped("an object without a string type", shorten(frame))
        return
    # A JSON string cannot hold a raw newline, so a frame without one is a single line.
    if "\n" not in frame and "\r" not in frame:
        line = frame.strip()
    else:
        line = _dumps(obj if exact else loads(frame))
    yield Message(line, obj, received_at)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def message_key(obj: dict[str, Any]) -> str:
    """The key that ``--type`` matches: ``type`` or ``type/subtype``."""
    subtype = obj.get("subtype")
    if isinstance(subtype, str):
        return f"{obj['type']}/{subtype}"
    return str(obj["type"])


class TypeFilter:
    """``--type`` / ``--exclude-type`` / ``--until``: a pattern ``T`` matches a message whose
    type is T or whose ``type/subtype`` is T."""

    __slots__ = ("exclude", "include")

    def __init__(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> None:
        self.include = frozenset(include)
        self.exclude = frozenset(exclude)

    @staticmethod
    def _hits(patterns: frozenset[str], obj: dict[str, Any]) -> bool:
        kind = obj["type"]
        if kind in patterns:
            return True
        subtype = obj.get("subtype")
        return isinstance(subtype, str) and f"{kind}/{subtype}" in patterns

    def matches(self, obj: dict[str, Any]) -> bool:
        return bool(self.include) and self._hits(self.include, obj)

    def keeps(self, obj: dict[str, Any]) -> bool:
        if self.include and not self._hits(self.include, obj):
            return False
        return not (self.exclude and self._hits(self.exclude, obj))


def validate_type_pattern(pattern: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?", pattern):
        raise UsageError(
            f"invalid message type {shorten(pattern)!r}: expected TYPE or TYPE/SUBTYPE"
        )
    return pattern


_SEEN_MIN_SLOTS = 64  # a power of two, as every size of the table is


class SeenIds:
    """The last ``capacity`` message uuids, so that a replay after a reconnect shows nothing
    twice while memory stays bounded however long the watch runs.

    A service that replays a session's whole history on reconnect sends it in the order it
    was first seen, so a history longer than the window is evicted id by id just before each
    id's replay arrives and the whole replay is shown again. The window is therefore sized
    for the longest replay rather than for recent traffic: 262,144 ids (a 100,000-message
    session 2.6 times over) in 6.1 MiB once full, however long the watch goes on, and 7.1 MiB
    at the peak of its last growth (tracemalloc; ``tests/test_seen_ids_bound.py`` holds it
    to 6.5 and 8, ``bench/bench_seen_ids.py`` compares it with a set).
    A longer history is still shown again on such a reconnect: README's Limits says so.

    Each uuid is kept as its 64-bit ``hash`` in flat arrays, not as an object in a ``set``:
    an open-addressing table at most half full (linear probing; a removal shifts its
    cluster back, so there are no tombstones) and a ring of the same hashes in the order
    they came, which says which to forget next. That is 24 bytes an id, where a ``set`` of
    ints and a ``deque`` take 70 to 100 (and a rebuild of the set briefly doubles it).
    Two uuids of one session sharing a hash (odds near 262,144 / 2**64 per message, with a
    per-process seed no server can aim at) would hide the second.
    """

    __slots__ = ("_mask", "_oldest", "_order", "_table", "capacity")

    def __init__(self, capacity: int = 262_144) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        # Grown by doubling as ids come, so a short watch does not pay for a long one.
        self._table = array("q", [0]) * _SEEN_MIN_SLOTS
        self._mask = _SEEN_MIN_SLOTS - 1
        self._order = array("q")  # a ring once full; ``_oldest`` is the next to forget
        self._oldest = 0

    def first_time(self, message_uuid: str) -> bool:
        key = hash(message_uuid) or 1  # 0 marks an empty slot
        table = self._table
        mask = self._mask
        i = key & mask
        slot = table[i]
        while slot:
            if slot == key:
                return False
            i = (i + 1) & mask
            slot = table[i]
        table[i] = key
        order = self._order
        if len(order) < self.capacity:
            order.append(key)
            if 2 * len(order) > mask + 1:
                self._grow()
        else:
            oldest = self._oldest
            self._forget(order[oldest])
            order[oldest] = key
            self._oldest = oldest + 1 if oldest + 1 < self.capacity else 0
        return True

    def _grow(self) -> None:
        size = 2 * (self._mask + 1)
        table = array("q", [0]) * size
        mask = size - 1
        for key in self._order:
            i = key & mask
            while table[i]:
                i = (i + 1) & mask
            table[i] = key
        self._table = table
        self._mask = mask

    def _forget(self, key: int) -> None:
        table = self._table
        mask = self._mask
        hole = key & mask
        while table[hole] != key:
            hole = (hole + 1) & mask
        j = hole
        while True:
            j = (j + 1) & mask
            moved = table[j]
            if not moved:
                break
            # ``moved`` may fill the hole unless its home slot lies after the hole (up to j).
            if (j - (moved & mask)) & mask >= (j - hole) & mask:
                table[hole] = moved
                hole = j
        table[hole] = 0

    def __len__(self) -> int:
        return len(self._order)


def is_permission_prompt(obj: dict[str, Any]) -> bool:
    """Whether ``obj`` is a permission prompt (a ``can_use_tool`` control request)."""
    request = obj.get("request")
    return (
        obj.get("type") == "control_request"
        and isinstance(obj.get("request_id"), str)
        and isinstance(request, dict)
        and request.get("subtype") == "can_use_tool"
    )


def control_request(subtype: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """A control request envelope with a fresh request id."""
    return {
        "type": "control_request",
        "request_id": str(uuid_module.uuid4()),
        "request": {"subtype": subtype, **(fields or {})},
    }


def control_success(request_id: str, response: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"subtype": "success", "request_id": request_id}
    if response is not None:
        body["response"] = response
    return {"type": "control_response", "response": body}


def control_error(request_id: str, error: str) -> dict[str, Any]:
    return {
        "type": "control_response",
        "response": {"subtype": "error", "request_id": request_id, "error": error},
    }


def encode(obj: dict[str, Any]) -> str:
    return _dumps(obj)


# -- the v2 event envelope (PROTOCOL §8) ----------------------------------------------------------

MAX_SEQUENCE = 2**63 - 1


def user_form(session_id: str) -> str:
    """A v2 id (``cse_x``) in the ``session_x`` form users paste; other ids unchanged."""
    return f"session_{session_id[4:]}" if session_id.startswith("cse_") else session_id


def sequence_number(value: Any) -> int | None:
    """A ``sequence_num`` (an integer, or a decimal string) if it is a sane one, else None."""
    if type(value) is int:
        number = value
    elif type(value) is str and 0 < len(value) <= 19 and value.isascii() and value.isdigit():
        number = int(value)
    else:
        return None
    return number if 0 <= number <= MAX_SEQUENCE else None


_PENDING_FIELDS = ("pending_permission_requests", "pending_user_dialog_requests")


def worker_payload(envelope: dict[str, Any]) -> dict[str, Any] | None:
    """The message a durable v2 event carries, after the source rules of PROTOCOL §8; None
    when it is not to be passed on.

    Only the worker produces output: from another source only ``user`` (without tool results:
    those are the worker's) and ``env_manager_log`` payloads pass, so a ``control_response``
    from another source — which could pose as the answer to a request this client sent — never
    does. A ``control_response`` loses the ``pending_*_requests`` bookkeeping fields.
    """
    payload = envelope.get("payload")
    if type(payload) is not dict or type(payload.get("type")) is not str:
        return None
    kind = payload["type"]
    if envelope.get("source", "worker") != "worker":
        if kind == "env_manager_log":
            return payload
        if kind != "user" or _carries_tool_results(payload):
            return None
        return payload
    if kind == "control_response" and (
        any(f in payload for f in _PENDING_FIELDS)
        or any(f in (payload.get("response") or {}) for f in _PENDING_FIELDS)
    ):
        payload = {k: v for k, v in payload.items() if k not in _PENDING_FIELDS}
        body = payload.get("response")
        if isinstance(body, dict):
            payload["response"] = {k: v for k, v in body.items() if k not in _PENDING_FIELDS}
    return payload


def _carries_tool_results(payload: dict[str, Any]) -> bool:
    message = payload.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def input_encoding(head: bytes) -> tuple[str, int]:
    """The encoding of a JSONL input from its first (four) bytes, and how many of them are a
    BOM: UTF-8 with or without a BOM, or UTF-16 (what PowerShell's ``>`` writes) by its BOM
    or by the NUL bytes ASCII text has in it ("{" is 7B 00 in UTF-16-LE)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    if len(head) >= 4 and head[0] and head[2] and not head[1] and not head[3]:
        return "utf-16-le", 0
    if len(head) >= 4 and head[1] and head[3] and not head[0] and not head[2]:
        return "utf-16-be", 0
    return "utf-8", 0
