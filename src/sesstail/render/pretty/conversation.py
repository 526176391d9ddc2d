"""The conversation: prompts, replies, thinking, tool calls and their results (PROTOCOL §5).

Who is speaking is drawn faithfully: only what the human typed is a prompt (``❯``, bold);
hook feedback, meta and skill text, compaction summaries and slash commands each look like
what they are, and an API error reply is an error, not Claude's prose.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text

from sesstail.render.pretty.layout import Row
from sesstail.render.pretty.markdown import prose
from sesstail.render.pretty.state import Call, Memory
from sesstail.render.pretty.text import (
    ARROW,
    BOLD,
    DIM,
    DIM_BOLD,
    ERROR,
    ERROR_BOLD,
    ERROR_HEAD_LINES,
    ERROR_TAIL_LINES,
    MAX_CALLS,
    MAX_STREAMS,
    RESULT_LINES,
    SUBAGENT_PROMPT_LINES,
    SUMMARY_CHARS,
    THINKING_LINES,
    WARN,
    Malformed,
    compact_json,
    drop_tagged,
    duration,
    excerpt,
    field,
    head_and_tail,
    more_lines,
    number,
    one_line,
    one_row,
    parent,
    remember,
    string,
    strip_sgr,
    styled,
    tagged,
)
from sesstail.render.pretty.tools import (
    call_body,
    call_line,
    display_name,
    is_report,
    result_text,
)
from sesstail.render.sanitize import clean

_THINKING = Style(dim=True, italic=True)
_COMMAND = Style(color="cyan", bold=True)


# -- assistant ------------------------------------------------------------------------------------


def assistant(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    message = obj.get("message")
    if not isinstance(message, dict):
        raise Malformed
    content = message.get("content")
    if isinstance(content, str):
        blocks: list[Any] = [{"type": "text", "text": content}]
    elif isinstance(content, list):
        blocks = content
    else:
        raise Malformed
    error = obj.get("error")
    if message.get("model") == "<synthetic>" or (isinstance(error, str) and error):
        return _api_error(obj, blocks)
    stream = parent(obj)
    rows: list[Row] = []
    reply_id = message.get("id")
    # A header again when another agent spoke in between: parallel sub-agents told apart.
    switched = bool(stream) and memory.last_stream != stream
    memory.last_stream = stream
    if switched or not isinstance(reply_id, str) or memory.reply_ids.get(stream) != reply_id:
        rows.append(("", "", None, _reply_header(memory, message, stream)))
        if isinstance(reply_id, str):
            remember(memory.reply_ids, stream, reply_id, MAX_STREAMS)
    for block in blocks:
        rows.extend(_assistant_block(memory, block, stream))
    return rows


def _api_error(obj: dict[str, Any], blocks: list[Any]) -> list[Row]:
    """A reply the client made up for a failed API call: an error line, not Claude's prose."""
    texts = [field(b, "text") for b in blocks if isinstance(b, dict) and field(b, "text")]
    texts = [t[len("API Error: ") :] if t.startswith("API Error: ") else t for t in texts]
    error = string(obj.get("error"))
    line = Text("✗ API error", ERROR_BOLD)
    if error and error not in ("unknown",):
        line.append(" (" + one_line(error, 60) + ")", ERROR_BOLD)
    lines, hidden = excerpt("\n".join(texts), RESULT_LINES)
    if lines:
        line.append(": " + "\n".join(lines), ERROR)
    if hidden:
        line.append("\n" + more_lines(hidden), DIM)
    return [("", "  ", None, line)]


def _reply_header(memory: Memory, message: dict[str, Any], stream: str) -> Text:
    header = Text("● ", ARROW)
    if stream:
        header.append("agent", BOLD)
        description = agent_description(memory, stream)
        if description:
            header.append(" · " + description, DIM)
    else:
        header.append("Claude", BOLD)
    model = message.get("model")
    known = memory.models.get(stream) or memory.models.get("")
    if isinstance(model, str) and model and model != known:
        # Named once per stream when first seen (or when it changes), not on every reply.
        header.append(" · " + clean(model), DIM)
    if isinstance(model, str) and model:
        remember(memory.models, stream, model, MAX_STREAMS)
    return header


def agent_description(memory: Memory, stream: str) -> str:
    call = memory.calls.get(stream)
    if call is None:
        return ""
    tool_input = call.input
    return one_line(field(tool_input, "description") or field(tool_input, "subagent_type"), 80)


def _assistant_block(memory: Memory, block: Any, stream: str) -> list[Row]:
    if not isinstance(block, dict):
        raise Malformed
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            raise Malformed
        if not text.strip():
            return []
        if stream:  # a sub-agent's last words are its report: the Task result repeats them
            remember(memory.last_words, stream, _fingerprint(text), MAX_STREAMS)
        return [("  ", "  ", None, prose(text))]
    if kind == "thinking":
        thinking = block.get("thinking")
        lines, hidden = excerpt(thinking if isinstance(thinking, str) else "", THINKING_LINES)
        body = Text("\n".join(lines) or "thinking…", _THINKING)
        if hidden:
            body.append("\n" + more_lines(hidden), DIM)
        return [("  ✻ ", "    ", DIM, body)]
    if kind == "redacted_thinking":
        return [("  ✻ ", "    ", DIM, Text("(redacted thinking)", DIM))]
    if kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
        return _tool_use(memory, block, stream)
    if kind == "web_search_tool_result":
        return _web_search_results(block)
    if isinstance(kind, str) and kind.endswith("_tool_result"):
        text = _result_text(block.get("content"))
        lines, hidden = excerpt(text, RESULT_LINES)
        body = Text("\n".join(lines) or "(no output)")
        if hidden:
            body.append("\n" + more_lines(hidden), DIM)
        return [("    ⎿ ", "      ", DIM, body)]
    summary = compact_json({k: v for k, v in block.items() if k != "type"}, SUMMARY_CHARS)
    return [("  ", "  ", None, one_row(f"[{string(kind) or '?'}] {summary}", DIM))]


def _web_search_results(block: dict[str, Any]) -> list[Row]:
    """The server-side search's results: how many, and the first titles with their sites."""
    content = block.get("content")
    if isinstance(content, dict):  # an error
        code = field(content, "error_code") or compact_json(content, 120)
        return [
            ("    ✗ ", "      ", ERROR, Text("web search failed: " + one_line(code, 120), ERROR))
        ]
    results = [r for r in content if isinstance(r, dict)] if isinstance(content, list) else []
    body = Text(f"{len(results):,} result{'s' if len(results) != 1 else ''}", DIM)
    for result in results[:5]:
        body.append("\n" + one_line(field(result, "title") or "(untitled)", 120))
        url = field(result, "url")
        if url:
            body.append("  " + one_line(url, 160), DIM)
    if len(results) > 5:
        body.append("\n" + f"… {len(results) - 5} more", DIM)
    return [("    ⎿ ", "      ", DIM, body)]


def _tool_use(memory: Memory, block: dict[str, Any], stream: str) -> list[Row]:
    call_id = string(block.get("id"))
    name = string(block.get("name")) or "?"
    tool_input = block.get("input")
    if call_id:
        remember(memory.calls, call_id, Call(name, tool_input, stream), MAX_CALLS)
        memory.last_call = call_id
    rows: list[Row] = [("  → ", "    ", ARROW, call_line(name, tool_input))]
    rows.extend(
        ("      ", "      ", None, part) for part in call_body(name, tool_input, whole=False)
    )
    return rows


# -- user -----------------------------------------------------------------------------------------


def is_prompt(obj: dict[str, Any]) -> bool:
    """Whether a user message is something the human typed (drawn with a blank line before)."""
    message = obj.get("message")
    if not isinstance(message, dict) or _not_typed(obj):
        return False
    content = message.get("content")
    if isinstance(content, str):
        # A command's output belongs under its command, not after a blank line.
        return not content.startswith(_NOT_TYPED)
    return isinstance(content, list) and any(
        isinstance(b, dict)
        and b.get("type") == "text"
        and not field(b, "text").startswith(("<system-reminder>", *_NOT_TYPED))
        for b in content
    )


# What the client writes in the user's name: a local command's output (slash or `!` bash),
# and the note that the user interrupted.
_NOT_TYPED = ("<local-command-", "<bash-stdout>", "<bash-stderr>", "[Request interrupted by user")
_INTERRUPTED = ("[Request interrupted by user]", "[Request interrupted by user for tool use]")


def _not_typed(obj: dict[str, Any]) -> str:
    """Why a user message is not the human's own words, or "" when it is."""
    if obj.get("isCompactSummary") is True:
        return "compaction summary"
    if obj.get("isSynthetic") is True:
        return "hook feedback"
    if obj.get("isMeta") is True:
        return "meta"
    if obj.get("isVisibleInTranscriptOnly") is True:
        return "transcript note"
    return ""


def user(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    message = obj.get("message")
    if not isinstance(message, dict):
        raise Malformed
    content = message.get("content")
    sub_agent = bool(parent(obj))
    replay = obj.get("isReplay") is True
    if isinstance(content, str):
        return _prompt_rows(obj, content, replay=replay, sub_agent=sub_agent)
    if not isinstance(content, list):
        raise Malformed
    texts: list[str] = []
    results: list[Row] = []
    adjacent = memory.adjacent_call
    for block in content:
        if not isinstance(block, dict):
            raise Malformed
        kind = block.get("type")
        if kind == "tool_result":
            results.extend(_tool_result(memory, block, adjacent))
            adjacent = None
        elif kind == "text":
            texts.append(string(block.get("text")))
        else:
            texts.append(f"[{string(kind) or '?'}]")
    rows = _prompt_rows(obj, "\n".join(texts), replay=replay, sub_agent=sub_agent) if texts else []
    return rows + results


def _prompt_rows(obj: dict[str, Any], text: str, *, replay: bool, sub_agent: bool) -> list[Row]:
    why = _not_typed(obj)
    if why:
        return _note_rows(why, text)
    command = _slash_command(text)
    if command is not None:
        return command
    # Reminders the client adds to a prompt are not the human's words.
    text, reminders = drop_tagged(text, "system-reminder")
    if reminders and not text.strip(" \t\n"):
        return [("◇ ", "  ", DIM, Text(f"system reminder{'s' if reminders > 1 else ''}", DIM_BOLD))]
    if sub_agent:
        lines, hidden = excerpt(text, SUBAGENT_PROMPT_LINES, cut=False)
    else:  # the human's words: whole, never cut
        lines, hidden = excerpt(text, 1 << 30, cut=False)
    body = Text()
    if replay:
        body.append("(replay) ", DIM)
    body.append("\n".join(lines) or "(empty prompt)", DIM if replay or sub_agent else BOLD)
    if hidden:
        body.append(f"\n{more_lines(hidden)} (--json shows them)", DIM)
    return [("❯ ", "  ", DIM if replay else BOLD, body)]


def _note_rows(why: str, text: str) -> list[Row]:
    """Text the human did not type: dim, under what it is."""
    text, _ = drop_tagged(text, "system-reminder")
    lines, hidden = excerpt(text, RESULT_LINES)
    body = Text(why, DIM_BOLD)
    if lines:
        body.append("\n" + "\n".join(lines), DIM)
    if hidden:
        body.append(f"\n{more_lines(hidden)} (--json shows them)", DIM)
    return [("◇ ", "  ", DIM, body)]


def _slash_command(text: str) -> list[Row] | None:
    """``<command-name>`` prompts as the slash command they are, ``<bash-input>`` as the
    ``!`` command; local command output and its caveat dim, not the user's words; the note
    of an interruption as what it is."""
    if text.strip(" \t\n") in _INTERRUPTED:
        return [("", "  ", None, Text("⏹ interrupted by the user", WARN))]
    bash = tagged(text, "bash-input")
    if bash is not None:
        lines, _ = excerpt(bash, 1 << 30, cut=False)
        line = Text("! ", _COMMAND)
        line.append("\n".join(lines), BOLD)
        return [("❯ ", "  ", BOLD, line)]
    stdout, stderr = tagged(text, "bash-stdout"), tagged(text, "bash-stderr")
    if stdout is not None or stderr is not None:
        return _bash_output(stdout or "", stderr or "")
    name = tagged(text, "command-name")
    if name is not None:
        return _command_rows(name, tagged(text, "command-args"))
    output = tagged(text, "local-command-stdout")
    if output is None:
        output = tagged(text, "local-command-stderr")
    if output is not None:
        return _command_output_rows(output)
    caveat = tagged(text, "local-command-caveat")
    if (
        caveat is not None
        and not text.replace(f"<local-command-caveat>{caveat}</local-command-caveat>", "").strip()
    ):
        return []
    return None


def _bash_output(stdout: str, stderr: str) -> list[Row]:
    """A ``!`` command's output under it: its first lines dim, its stderr in red."""
    body = Text()
    for text, style in ((strip_sgr(stdout), DIM), (strip_sgr(stderr), ERROR)):
        lines, hidden = excerpt(text, RESULT_LINES)
        if lines:
            body.append(("\n" if body else "") + "\n".join(lines), style)
        if hidden:
            body.append("\n" + more_lines(hidden), DIM)
    return [("    ⎿ ", "      ", DIM, body if body else Text("(no output)", DIM))]


def local_command(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    """A local transcript's ``system/local_command`` (``sesstail.local.transcript``): the
    slash command, or its output, drawn as the stream's ``<command-name>`` prompt is."""
    command = obj.get("command")
    if isinstance(command, str) and command.strip():
        name, _, args = command.strip().partition(" ")
        return _command_rows(name, args)
    output = obj.get("output")
    if isinstance(output, str):
        return _command_output_rows(output)
    return []


def _command_rows(name: str, args: str | None) -> list[Row]:
    line = Text(one_line(name, 80), _COMMAND)
    if args and args.strip():
        line.append(" " + one_line(args, 400))
    return [("❯ ", "  ", BOLD, line)]


def _command_output_rows(output: str) -> list[Row]:
    return _bash_output(output, "")


def _result_text(content: Any) -> str:
    """A tool result's text: its ``content`` is a string or a list of blocks."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "text" and isinstance(block.get("text"), str):
                    parts.append(block["text"])
                else:
                    parts.append(f"[{string(block.get('type')) or '?'}]")
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return compact_json(content, SUMMARY_CHARS)


def _fingerprint(text: str) -> int:
    return hash(text.strip(" \t\n"))


def _untag_error(text: str) -> str:
    """The message inside ``<tool_use_error>…</tool_use_error>``, or ``text`` as it is."""
    stripped = text.strip(" \t\n")
    opening, closing = "<tool_use_error>", "</tool_use_error>"
    if stripped.startswith(opening) and stripped.endswith(closing):
        return stripped[len(opening) : -len(closing)]
    return text


def _tool_result(memory: Memory, block: dict[str, Any], adjacent: str | None) -> list[Row]:
    call_id = string(block.get("tool_use_id"))
    is_error = block.get("is_error") is True
    answered = _prompt_answered(memory, call_id, is_error, block.get("content"))
    rows: list[Row] = list(answered)
    call = memory.calls.get(call_id)
    if call_id != adjacent and call is not None:
        # Not right under its call (parallel calls, a sub-agent in between): say whose.
        rows.append(("    ⎿ ", "      ", DIM, call_line(call.name, call.input, quiet=True)))
        first, rest = "      ", "      "
    else:
        first, rest = "    ⎿ ", "      "
    text = strip_sgr(_result_text(block.get("content")))
    text, _ = drop_tagged(text, "system-reminder")
    name = call.name if call is not None else ""
    if is_error:
        text = _untag_error(text)
        # A failure says what went wrong at the end (tracebacks, test summaries).
        head, hidden, tail = head_and_tail(text, ERROR_HEAD_LINES, ERROR_TAIL_LINES)
        body = Text(style=ERROR)
        body.append("\n".join(head) if head else "(error)")
        if hidden:
            body.append("\n" + more_lines(hidden), DIM)
        if tail:
            body.append("\n" + "\n".join(tail))
        # The mark takes the place of the ⎿, so the output's first line does not shift.
        mark = first[:-2] + "✗ "
        rows.append((mark, rest, ERROR_BOLD, body))
        return rows
    text = result_text(name, text)
    if is_report(name) and text.strip():
        if memory.last_words.get(call_id) == _fingerprint(text):
            # Drawn already, as the sub-agent's last reply: once is enough.
            rows.append((first, rest, DIM, Text("(report above)", DIM)))
        else:
            rows.append((first, rest, DIM, prose(text)))
        return rows
    head, hidden = excerpt(text, RESULT_LINES)
    body = Text("\n".join(head)) if head else Text("(no output)", DIM)
    if hidden:
        body.append("\n" + more_lines(hidden), DIM)
    rows.append((first, rest, DIM, body))
    return rows


def _prompt_answered(memory: Memory, call_id: str, is_error: bool, content: Any) -> list[Row]:
    """The line that closes an open prompt once its tool's result shows the answer."""
    request_id = memory.prompted_calls.pop(call_id, None) if call_id else None
    if request_id is None or memory.open_prompts.pop(request_id, None) is None:
        return []
    text = _result_text(content).lower()
    if not is_error:
        line = Text(f"✓ permission prompt {one_line(request_id, 80)} answered: allowed")
        return [("  ", "    ", None, styled(line, "green"))]
    verdict = "denied" if ("denied" in text or "rejected" in text) else "answered"
    line = Text(f"✗ permission prompt {one_line(request_id, 80)} {verdict}")
    return [("  ", "    ", None, styled(line, "red"))]


def tool_progress(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    call_id = string(obj.get("tool_use_id"))
    elapsed = number(obj.get("elapsed_time_seconds")) or 0.0
    step = progress_step(elapsed)
    if memory.progress_shown.get(call_id, -1) >= step and not memory.live:
        return []
    remember(memory.progress_shown, call_id, step, MAX_CALLS)
    call = memory.calls.get(call_id)
    name = string(obj.get("tool_name")) or (call.name if call is not None else "tool")
    line = Text(f"{display_name(name)} still running · {duration(elapsed)}", DIM)
    line.no_wrap, line.overflow = True, "ellipsis"  # a live line is one row, to redraw it
    return [("    ⋯ ", "      ", DIM, line)]


def progress_step(elapsed: float) -> int:
    """Which progress line a running tool is due: the first one, then 10 s, 30 s, each minute."""
    if elapsed < 10:
        return 0
    if elapsed < 30:
        return 1
    if elapsed < 60:
        return 2
    return 2 + int(min(elapsed, 1e9) // 60)
