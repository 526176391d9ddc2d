"""Choosing messages by what they hold: ``--tool`` and ``--grep``, and a check of ``--type``
patterns against the message types sesstail knows.

Pure: no I/O. ``re2`` (google-re2) is imported only when a ``--grep`` filter is built, so a
start-up that does not grep does not pay for it.
"""

from __future__ import annotations

import difflib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sesstail.errors import SesstailError, UsageError
from sesstail.local.transcript import TRANSCRIPT_ONLY_TYPES
from sesstail.protocol import is_permission_prompt, shorten

# -- message types -------------------------------------------------------------------------------

# Types a message carries at its top level (PROTOCOL.md §5 and §8, and what the pretty renderer
# draws). New ones keep appearing: an unknown type gets a warning, never an error.
TOP_LEVEL_TYPES: frozenset[str] = frozenset(
    {
        "user",
        "assistant",
        "system",
        "result",
        "stream_event",
        "control_request",
        "control_response",
        "control_cancel_request",
        "keep_alive",
        "tool_progress",
        "rate_limit_event",
        "env_manager_log",
        "auth_status",
        "tool_use_summary",
        "prompt_suggestion",
        # Seen both as types of their own and as system subtypes.
        "post_turn_summary",
        "active_goal",
        "autocompact_state",
        "turn_handoff_available",
        "conversation_reset",
        "session_state_changed",
    }
)
# A local session's transcript lines (sesstail.local.transcript), mostly bookkeeping that
# `-t` brings into view: known, though not listed among the stream's types in a warning.
TRANSCRIPT_TYPES: frozenset[str] = TRANSCRIPT_ONLY_TYPES

# Subtypes carried at the top level, beside ``type`` (what ``TYPE/SUBTYPE`` patterns match).
_SUBTYPES: dict[str, frozenset[str]] = {
    "system": frozenset(
        {
            "init",
            "status",
            "compact_boundary",
            "api_retry",
            "task_started",
            "task_notification",
            "task_progress",
            "thinking_tokens",
            "hook_started",
            "hook_response",
            "informational",
            "local_command_output",
            "files_persisted",
            "post_turn_summary",
            "active_goal",
            "autocompact_state",
            "turn_handoff_available",
            "conversation_reset",
            "session_state_changed",
            # A local transcript's.
            "local_command",
            "stop_hook_summary",
        }
    ),
    "progress": frozenset({"hook_progress", "bash_progress"}),
    "result": frozenset(
        {
            "success",
            "error_during_execution",
            "error_max_turns",
            "error_max_budget_usd",
            "error_max_structured_output_retries",
        }
    ),
}

# A local transcript's lines read under the stream's name (sesstail.local.transcript): the
# transcript's name matches nothing.
_READ_AS = {"system/turn_duration": "result", "system/api_error": "system/api_retry"}

# Types whose subtype sits inside a field, where ``TYPE/SUBTYPE`` patterns never look.
_NESTED_SUBTYPE = {"control_request": "request", "control_response": "response"}

KNOWN_TYPES: frozenset[str] = (
    TOP_LEVEL_TYPES
    | TRANSCRIPT_TYPES
    | frozenset(f"{kind}/{subtype}" for kind, subtypes in _SUBTYPES.items() for subtype in subtypes)
)

# A subtype is new far more often than a type: only a near miss (``innit``) is called a typo.
_SUBTYPE_CUTOFF = 0.85
_TYPE_CUTOFF = 0.6


def _quote(text: str) -> str:
    return repr(shorten(text, 40))


def _closest(word: str, candidates: Iterable[str], cutoff: float) -> str | None:
    """The candidate nearest ``word``, ignoring case; a case-only difference always counts."""
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    lowered = word.lower()
    if lowered in by_lower:
        return by_lower[lowered]
    close = difflib.get_close_matches(lowered, by_lower, n=1, cutoff=cutoff)
    return by_lower[close[0]] if close else None


def type_warning(pattern: str) -> str | None:
    """A one-line warning when a ``--type``-style pattern (``TYPE`` or ``TYPE/SUBTYPE``) names
    no message type sesstail knows, with the nearest known one; ``None`` when it is known.

    Types are matched exactly, so ``System`` is reported as well as ``resutl``. A subtype of a
    known type passes unless it is a near miss of a known subtype (``system/innit``): sessions
    keep adding subtypes. ``control_request/…`` is reported because a control request's
    subtype sits inside ``request``, where the pattern never looks.
    """
    if pattern in KNOWN_TYPES:
        return None
    if pattern in _READ_AS:
        return (
            f"message type pattern {_quote(pattern)} matches nothing: a local transcript's "
            f"{pattern} lines are read as {_READ_AS[pattern]!r}; use that"
        )
    kind, slash, subtype = pattern.partition("/")
    if kind in TOP_LEVEL_TYPES or kind in TRANSCRIPT_TYPES:
        if kind in _NESTED_SUBTYPE:
            return (
                f"message type pattern {_quote(pattern)} matches nothing: the subtype of a "
                f"{kind} is inside its {_NESTED_SUBTYPE[kind]!r} field; use {kind!r}"
            )
        known = _SUBTYPES.get(kind, frozenset())
        guess = _closest(subtype, known, _SUBTYPE_CUTOFF)
        if guess is None:
            return None
        return (
            f"unknown {kind} subtype {_quote(pattern)} (did you mean {f'{kind}/{guess}'!r}?); "
            f"known {kind} subtypes: {', '.join(sorted(known))}"
        )
    suggestion: str | None = None
    guess_kind = _closest(kind, TOP_LEVEL_TYPES, _TYPE_CUTOFF)
    if guess_kind is not None:
        suggestion = guess_kind
        if slash:
            fixed = _closest(subtype, _SUBTYPES.get(guess_kind, frozenset()), _SUBTYPE_CUTOFF)
            suggestion = f"{guess_kind}/{fixed or subtype}"
    elif not slash:
        # A subtype given alone: ``init`` for ``system/init``.
        pairs = {sub: f"{k}/{sub}" for k, subs in _SUBTYPES.items() for sub in subs}
        guess_sub = _closest(kind, pairs, _SUBTYPE_CUTOFF)
        suggestion = pairs[guess_sub] if guess_sub is not None else None
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    return (
        f"unknown message type {_quote(pattern)}{hint}; "
        f"known types: {', '.join(sorted(TOP_LEVEL_TYPES))}"
    )


# -- the text of a message -----------------------------------------------------------------------

TEXT_LIMIT = 1 << 20
"""How many characters of a message ``--grep`` searches: a huge tool result costs no more."""

_TOOL_USES = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
# Blocks whose content is not text: base64 images and documents, redacted thinking.
_OPAQUE_BLOCKS = frozenset({"image", "document", "redacted_thinking"})
# Fields that are ids, kinds or opaque data, never what a reader would call the text.
_NOT_TEXT = frozenset(
    {
        "type",
        "subtype",
        "uuid",
        "session_id",
        "id",
        "request_id",
        "tool_use_id",
        "parent_tool_use_id",
        "signature",
        "encrypted_content",
        "encrypted_index",
        "source",
    }
)


def _strings(value: Any, skip: frozenset[str] = _NOT_TEXT) -> Iterator[str]:
    """Every string value inside ``value``, in order, keys skipped; iterative, so a deeply
    nested message cannot exhaust the stack."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            if item.get("type") in _OPAQUE_BLOCKS:
                continue
            stack.extend(v for k, v in reversed(item.items()) if k not in skip)
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _result_content(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for item in content:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                yield item["text"]
            else:
                yield from _strings(item)


def _block_text(block: Any) -> Iterator[str]:
    if not isinstance(block, dict):
        return
    kind = block.get("type")
    if kind == "text":
        yield from _strings(block.get("text"))
    elif kind == "thinking":
        yield from _strings(block.get("thinking"))
    elif kind in _TOOL_USES:
        yield from _strings(block.get("name"))
        yield from _strings(block.get("input"), frozenset())
    elif isinstance(kind, str) and kind.endswith("tool_result"):
        yield from _result_content(block.get("content"))
    elif kind not in _OPAQUE_BLOCKS:
        yield from _strings(block)


def _pieces(obj: dict[str, Any]) -> Iterator[str]:
    kind = obj.get("type")
    if kind in ("user", "assistant"):
        message = obj.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for block in content:
                yield from _block_text(block)
    elif kind == "result":
        yield from _strings(obj.get("result"))
        yield from _strings(obj.get("errors"))
    elif kind == "stream_event":
        event = obj.get("event")
        if isinstance(event, dict):
            delta = event.get("delta")
            if isinstance(delta, dict):
                for key in ("text", "thinking", "partial_json"):
                    yield from _strings(delta.get(key))
            yield from _block_text(event.get("content_block"))
    elif kind != "keep_alive":
        # System messages and the rest: their text fields, wherever they sit.
        yield from _strings(obj)


def text_of(obj: dict[str, Any], limit: int = TEXT_LIMIT) -> str:
    """The text of a message, as ``--grep`` searches it, pieces joined by newlines, at most
    ``limit`` characters (collection stops there, so a huge message costs no more):

    - ``user``/``assistant``: string content; text and thinking blocks; a tool call's name and
      the string values of its input (not JSON: quotes and newlines stay as the tool saw them);
      a tool result's string content or text blocks;
    - ``result``: its ``result`` text and ``errors``;
    - ``stream_event``: the delta's text, thinking or partial JSON;
    - ``keep_alive``: nothing;
    - any other message (system messages, prompts, …): every string value except ids, kinds
      and opaque data (signatures, images).
    """
    parts: list[str] = []
    room = limit
    for piece in _pieces(obj):
        if len(piece) >= room:
            parts.append(piece[:room])
            break
        parts.append(piece)
        room -= len(piece) + 1
    return "\n".join(parts)


# -- the filter ----------------------------------------------------------------------------------


class _RecentIds:
    """The last ``capacity`` ids added: bounded memory however long the watch runs."""

    __slots__ = ("_ids", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        self._ids[value] = None
        self._ids.move_to_end(value)
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value in self._ids

    def __len__(self) -> int:
        return len(self._ids)


def _compile_grep(patterns: list[str], flag: str = "--grep") -> Callable[[str], bool]:
    try:
        import re2  # type: ignore[import-untyped]
    except ImportError:
        raise SesstailError(
            f"{flag} needs the google-re2 package, which is not installed",
            hint="pip install google-re2",
        ) from None
    options = re2.Options()
    options.log_errors = False  # else RE2 writes its own copy of the error to stderr
    compiled: list[Any] = []
    for pattern in patterns:
        try:
            re2.compile(pattern, options=options)  # errors quote the pattern as given
            # Like grep, ``^`` and ``$`` anchor lines: the text is many lines of many pieces.
            compiled.append(re2.compile("(?m)" + pattern, options=options))
        except (re2.error, UnicodeEncodeError) as error:
            raw = error.args[0] if isinstance(error, re2.error) and error.args else "not UTF-8"
            reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            reason = shorten(reason, 80)
            if not reason.isprintable():
                reason = repr(reason)
            raise UsageError(
                f"invalid {flag} pattern {_quote(pattern)}: {reason}",
                hint="patterns are RE2 syntax: like Python's re, without backreferences "
                "or lookaround",
            ) from None

    def matches(text: str) -> bool:
        try:
            return any(regex.search(text) is not None for regex in compiled)
        except UnicodeEncodeError:
            # A lone surrogate (frames may hold them) cannot be encoded for RE2 as UTF-8.
            data = text.encode("utf-8", "surrogatepass")
            return any(regex.search(data) is not None for regex in compiled)

    return matches


class ContentFilter:
    """``--tool NAME``, ``--grep REGEX`` and ``--exclude-grep REGEX``: which messages to keep
    by their content.

    Each option may repeat: a message passes ``--tool`` if it concerns any of the tools,
    ``--grep`` if its text (:func:`text_of`) matches any of the patterns, and
    ``--exclude-grep`` if it matches none of its patterns (stern's ``--include`` and
    ``--exclude``); given several, it must pass each. Without any, every message is kept.

    ``--tool`` names match case-insensitively; an MCP tool by its full name
    (``mcp__github__create_issue``), and ``mcp__github`` stands for every tool of that server,
    as in Claude Code's permission rules. A message concerns a tool when it is

    - an ``assistant`` message with a ``tool_use`` (or ``server_tool_use``/``mcp_tool_use``)
      block calling it; the call's id is remembered (the last ``memory`` ids);
    - a message holding a result block (``tool_result``, ``*_tool_result``) for a remembered
      call, or whose own ``tool_use_id`` is one (``tool_progress``, system ``task_*``);
    - a ``tool_progress`` naming the tool, or a permission prompt (``can_use_tool``) for it:
      their ``tool_use_id`` is remembered too, for a watch that joined after the call;
    - a ``result``: a watcher wants to see where the turn ended.

    Everything else fails ``--tool``: ``system`` messages, prompts and replies without tool
    calls, ``stream_event`` deltas, ``keep_alive``. ``--grep`` judges every message by its
    text, ``result`` included; ``keep_alive`` has none and is dropped; a ``stream_event`` is
    judged by its own delta, so a match split across deltas is missed there (the complete
    ``assistant`` message follows). Whenever a permission prompt is kept, its answer
    (``control_response``) and withdrawal (``control_cancel_request``) are kept too, so a
    viewer never shows a prompt as open forever.

    Patterns are RE2 syntax, case-sensitive unless they say ``(?i)``; ``^`` and ``$`` anchor
    lines, as in grep. Only the first ``text_limit`` characters of a message are searched, and
    RE2 runs in linear time, so no message or pattern can make a watch stall.

    Call :meth:`keeps` on every message, in order, before other filters drop any: it learns
    call ids as it judges (``content.keeps(obj) and types.keeps(obj)``, in that order).
    """

    __slots__ = ("_calls", "_grep", "_grep_out", "_prompts", "_servers", "_tools", "text_limit")

    def __init__(
        self,
        tools: Iterable[str] = (),
        patterns: Iterable[str] = (),
        excluded: Iterable[str] = (),
        *,
        memory: int = 65_536,
        text_limit: int = TEXT_LIMIT,
    ) -> None:
        names: set[str] = set()
        for tool in tools:
            if not tool.strip():
                raise UsageError("--tool needs a tool name, such as Bash or mcp__github")
            names.add(tool.strip().casefold())
        self._tools = frozenset(names)
        self._servers = frozenset(
            name for name in names if name.startswith("mcp__") and name.count("__") == 1
        )
        pattern_list = list(patterns)
        self._grep = _compile_grep(pattern_list) if pattern_list else None
        excluded_list = list(excluded)
        self._grep_out = _compile_grep(excluded_list, "--exclude-grep") if excluded_list else None
        self.text_limit = text_limit
        self._calls = _RecentIds(memory)
        self._prompts = _RecentIds(memory)

    @property
    def active(self) -> bool:
        """Whether any ``--tool`` or ``--grep`` was given (else :meth:`keeps` keeps all)."""
        return bool(self._tools) or self._grep is not None or self._grep_out is not None

    def keeps(self, obj: dict[str, Any]) -> bool:
        if not self.active:
            return True
        kind = obj.get("type")
        if kind in ("control_response", "control_cancel_request") and self._follows_kept_prompt(
            obj
        ):
            return True
        keep = not self._tools or self._concerns_tool(obj)
        if keep and (self._grep is not None or self._grep_out is not None):
            text = text_of(obj, self.text_limit)
            keep = (self._grep is None or self._grep(text)) and (
                self._grep_out is None or not self._grep_out(text)
            )
        if keep and kind == "control_request":
            self._prompts.add(obj.get("request_id"))
        return keep

    def _names_tool(self, name: Any) -> bool:
        if not isinstance(name, str):
            return False
        folded = name.casefold()
        if folded in self._tools:
            return True
        if self._servers and folded.startswith("mcp__"):
            end = folded.find("__", 5)
            return end > 0 and folded[:end] in self._servers
        return False

    def _concerns_tool(self, obj: dict[str, Any]) -> bool:
        kind = obj.get("type")
        if kind == "result":
            return True
        if self._names_tool(obj.get("tool_name")) and kind == "tool_progress":
            self._calls.add(obj.get("tool_use_id"))
            return True
        if obj.get("tool_use_id") in self._calls:
            return True
        if is_permission_prompt(obj):
            request = obj["request"]
            if self._names_tool(request.get("tool_name")):
                self._calls.add(request.get("tool_use_id"))
                return True
            return request.get("tool_use_id") in self._calls
        if kind not in ("assistant", "user"):
            return False
        message = obj.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            return False
        concerns = False
        for block in content:
            if not isinstance(block, dict):
                continue
            block_kind = block.get("type")
            if block_kind in _TOOL_USES:
                if self._names_tool(block.get("name")):
                    self._calls.add(block.get("id"))
                    concerns = True
            elif (
                isinstance(block_kind, str)
                and block_kind.endswith("tool_result")
                and block.get("tool_use_id") in self._calls
            ):
                concerns = True
        return concerns

    def _follows_kept_prompt(self, obj: dict[str, Any]) -> bool:
        request_id = obj.get("request_id")
        response = obj.get("response")
        if request_id is None and isinstance(response, dict):
            request_id = response.get("request_id")
        return request_id in self._prompts
