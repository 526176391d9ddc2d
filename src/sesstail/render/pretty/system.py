"""System and status lines: session start, compaction, retries, rate limits, tasks, hooks,
the v2-era status types of PROTOCOL §5, and the footer each turn ends with.

Live counters (``thinking_tokens``, ``status: requesting``) are folded: one line when they
start, none for each further event, until something else is drawn.
"""

from __future__ import annotations

from typing import Any

from rich.rule import Rule
from rich.style import Style
from rich.text import Text

from sesstail.render.pretty.layout import Row
from sesstail.render.pretty.state import Memory
from sesstail.render.pretty.text import (
    BOLD,
    DIM,
    ERROR,
    ERROR_BOLD,
    MAX_STREAMS,
    OK_BOLD,
    RESULT_LINES,
    WARN,
    WARN_BOLD,
    clock_time,
    compact_json,
    cost,
    count,
    duration,
    excerpt,
    field,
    more_lines,
    number,
    one_line,
    plural,
    remember,
    string,
)
from sesstail.render.sanitize import clean


def _line(text: Text, rest: str = "  ") -> list[Row]:
    """One status line; when it wraps, it continues indented, not at column 0."""
    return [("", rest, None, text)]


def init(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    line = Text("▶ session start", BOLD)
    model = string(obj.get("model"))
    if model:
        remember(memory.models, "", model, MAX_STREAMS)
        line.append(" · model ", DIM)
        line.append(clean(model), BOLD)
    for key, name in (("cwd", "cwd"), ("permissionMode", "permissions")):
        value = string(obj.get(key))
        if value:
            line.append(f" · {name} ", DIM)
            line.append(clean(value))
    tools = obj.get("tools")
    if isinstance(tools, list):
        line.append(" · " + plural(len(tools), "tool"), DIM)
    servers = obj.get("mcp_servers")
    if isinstance(servers, list) and servers:
        line.append(" · mcp ", DIM)
        for index, server in enumerate(servers[:8]):
            name = field(server, "name") or "?"
            status = field(server, "status")
            line.append(", " if index else "")
            line.append(one_line(name, 40))
            if status:
                ok = status == "connected"
                line.append(f" ({one_line(status, 20)})", DIM if ok else WARN)
        if len(servers) > 8:
            line.append(f", +{len(servers) - 8}", DIM)
    version = string(obj.get("claude_code_version"))
    if version:
        line.append(" · Claude Code " + clean(version), DIM)
    return _line(line)


def status(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    value = obj.get("status")
    rows: list[Row] = []
    if value == "compacting":
        rows.append(("", "  ", None, Text("⟳ compacting context…", WARN)))
    elif value == "requesting":
        if memory.folded == "requesting" and not memory.live:
            return []
        memory.folded = "requesting"
        rows.append(("", "  ", None, Text("· requesting…", DIM, no_wrap=True)))
    elif isinstance(value, str) and value:
        rows.append(("", "  ", None, Text("· status " + one_line(value, 60), DIM)))
    mode = obj.get("permissionMode")
    if isinstance(mode, str) and mode:
        rows.append(("", "  ", None, Text("· permission mode " + one_line(mode, 40), DIM)))
    if value is None and rows:
        return rows
    return rows or [("", "  ", None, Text("· status cleared", DIM))]


def thinking_tokens(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    if memory.folded == "thinking" and not memory.live:
        return []
    memory.folded = "thinking"
    tokens = number(obj.get("estimated_tokens"))
    text = "✻ thinking…" + (f" (~{count(tokens)} tokens so far)" if tokens is not None else "")
    return [("", "  ", None, Text(text, DIM, no_wrap=True, overflow="ellipsis"))]


def compact_boundary(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    meta = obj.get("compact_metadata")
    if not isinstance(meta, dict):
        meta = obj.get("compactMetadata")
    meta = meta if isinstance(meta, dict) else obj
    title = "context compacted"
    trigger = field(meta, "trigger")
    if trigger:
        title += " · " + one_line(trigger, 20)
    before = number(meta.get("pre_tokens", meta.get("preTokens")))
    after = number(meta.get("post_tokens", meta.get("postTokens")))
    if before is not None and after is not None:
        title += f" · {count(before)} → {count(after)} tokens"
    elif before is not None:
        title += f" · {count(before)} tokens before"
    elif after is not None:
        title += f" · {count(after)} tokens after"
    return [("", "", None, Rule(Text(title, WARN), style=DIM, characters="─"))]


def api_retry(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    line = Text("⚠ API retry", WARN_BOLD)
    attempt = number(obj.get("attempt"))
    maximum = number(obj.get("max_retries"))
    if attempt is not None:
        line.append(f" {int(attempt)}" + (f"/{int(maximum)}" if maximum is not None else ""))
    delay = number(obj.get("retry_delay_ms"))
    if delay is not None:
        line.append(f" in {duration(delay / 1000)}")
    error_status = obj.get("error_status")
    if isinstance(error_status, (int, str)) and not isinstance(error_status, bool):
        line.append(f" · HTTP {one_line(str(error_status), 10)}")
    error = obj.get("error")
    if isinstance(error, str) and error:
        line.append(" · " + one_line(error, 120))
    line.stylize(WARN)
    return _line(line)


_WINDOWS = {
    "five_hour": "five-hour",
    "seven_day": "weekly",
    "seven_day_opus": "weekly Opus",
    "seven_day_sonnet": "weekly Sonnet",
    "overage": "extra usage",
}


def rate_limit(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    info = obj.get("rate_limit_info")
    info = info if isinstance(info, dict) else obj
    state = field(info, "status") or "?"
    kind = field(info, "rateLimitType")
    window = _WINDOWS.get(kind, one_line(kind.replace("_", " "), 30)) if kind else ""
    limit = f"{window} limit" if window else "limit"
    utilization = number(info.get("utilization"))
    used = f"{utilization * 100:.0f}% of the {limit} used" if utilization is not None else ""
    resets = number(info.get("resetsAt"))
    reset = f"resets {clock_time(resets)}" if resets is not None else ""
    if state == "allowed":
        parts = ["· rate limit ok", used, reset]
        return _line(Text(" · ".join(p for p in parts if p), DIM))
    if state == "allowed_warning":
        parts = ["⚠ close to the rate limit", used or limit, reset]
        return _line(Text(" · ".join(p for p in parts if p), WARN_BOLD))
    if state == "rejected":
        parts = [f"✗ rate limited: {limit} reached", reset]
        return _line(Text(" · ".join(p for p in parts if p), ERROR_BOLD))
    parts = ["⚠ rate limit " + one_line(state, 30), used or limit, reset]
    return _line(Text(" · ".join(p for p in parts if p), WARN))


def _task_tail(obj: dict[str, Any], key: str) -> str:
    tail = ""
    text = field(obj, key)
    if text:
        tail += " · " + one_line(text, 120)
    task_id = field(obj, "task_id")
    if task_id:
        tail += f" ({one_line(task_id, 40)})"
    return tail


def task_started(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    line = Text("⧉ task started", BOLD)
    line.append(_task_tail(obj, "description"))
    return _line(line)


def task_notification(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    state = field(obj, "status") or "update"
    style = ERROR if state in ("failed", "error", "killed") else BOLD
    line = Text("⧉ task " + one_line(state, 30), style)
    line.append(_task_tail(obj, "summary"))
    return _line(line)


def task_progress(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    line = Text("⧉ task progress" + _task_tail(obj, "description"), DIM)
    usage = obj.get("usage")
    if isinstance(usage, dict):
        tools = number(usage.get("tool_uses"))
        tokens = number(usage.get("total_tokens"))
        took = number(usage.get("duration_ms"))
        if tools is not None:
            line.append(" · " + plural(int(tools), "tool use"))
        if tokens is not None:
            line.append(f" · {count(tokens)} tokens")
        if took is not None:
            line.append(" · " + duration(took / 1000))
    last = field(obj, "last_tool_name")
    if last:
        line.append(" · last " + one_line(last, 40))
    return _line(line)


def hook_started(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    return []  # its response says how it went, in one line


def hook_response(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    name = field(obj, "hook_name") or field(obj, "hook_event") or "hook"
    exit_code = number(obj.get("exit_code"))
    outcome = field(obj, "outcome")
    failed = outcome in ("error", "failed", "blocked") or bool(exit_code)
    if not failed:
        text = "· hook " + one_line(name, 80) + (f" {one_line(outcome, 20)}" if outcome else " ok")
        return _line(Text(text, DIM))
    line = Text("✗ hook " + one_line(name, 80) + " failed", ERROR_BOLD)
    if exit_code is not None:
        line.append(f" (exit {int(exit_code)})", ERROR_BOLD)
    output = field(obj, "stderr") or field(obj, "output") or field(obj, "stdout")
    return _with_what_it_said(_line(line), output)


def stop_hook_summary(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    """A local transcript's account of the Stop hooks (hidden when they passed, unless asked
    for): a failure or a stop with what the hooks said, like a failed ``hook_response``."""
    raw = obj.get("hookErrors")
    errors = [e for e in raw if isinstance(e, str)] if isinstance(raw, list) else []
    stopped = obj.get("preventedContinuation") is True
    if not errors and not stopped:
        hooks = number(obj.get("hookCount"))
        ran = f" ({plural(int(hooks), 'hook')})" if hooks is not None and 0 <= hooks < 1e6 else ""
        return _line(Text("· stop hooks ok" + ran, DIM))
    title = "✗ stop hook stopped the session" if stopped else "✗ stop hook failed"
    said = "\n".join([*errors, field(obj, "stopReason")]).strip()
    return _with_what_it_said(_line(Text(title, ERROR_BOLD)), said)


def _with_what_it_said(rows: list[Row], said: str) -> list[Row]:
    """A failed hook's line, and under it the first lines of what it said, in red."""
    lines, hidden = excerpt(said, RESULT_LINES)
    if lines:
        body = Text("\n".join(lines), ERROR)
        if hidden:
            body.append("\n" + more_lines(hidden), DIM)
        rows.append(("    ", "    ", None, body))
    return rows


def hook_attachment(memory: Memory, obj: dict[str, Any]) -> list[Row] | None:
    """A local transcript's ``attachment`` about a hook (``hook_*``: an error is shown, a
    success only when asked for), drawn as the stream's ``hook_response``; None for other
    attachments."""
    attachment = obj.get("attachment")
    kind = field(attachment, "type")
    if not isinstance(attachment, dict) or not kind.startswith("hook_"):
        return None
    code = attachment.get("exitCode")
    blocking = attachment.get("blockingError")
    said = (
        field(attachment, "stderr")
        or field(blocking, "blockingError")
        or field(attachment, "content")
        or field(attachment, "stdout")
    )
    failed = "error" in kind or bool(number(code))
    response = {
        "hook_name": field(attachment, "hookName") or field(attachment, "hookEvent"),
        "exit_code": code,
        "outcome": "error" if failed else "",
        "stderr": said,
    }
    return hook_response(memory, response)


def transcript_progress(memory: Memory, obj: dict[str, Any]) -> list[Row] | None:
    """A local transcript's hook or Bash ``progress`` line, shown under -v or -t: one dim
    line; None for other kinds (drawn compactly)."""
    data = obj.get("data")
    kind = field(data, "type")
    if kind == "hook_progress":
        name = field(data, "hookName") or field(data, "hookEvent") or "hook"
        line = Text("· hook " + one_line(name, 80) + " running", DIM)
        command = field(data, "command")
        if command:
            line.append(": " + one_line(command, 200), DIM)
        return _line(line)
    if kind == "bash_progress":
        seconds = number(data.get("elapsedTimeSeconds")) if isinstance(data, dict) else None
        line = Text("· Bash running", DIM)
        if seconds is not None and 0 <= seconds < 1e9:
            line.append(" " + duration(seconds), DIM)
        last = field(data, "output").rstrip().rpartition("\n")[2]
        if last:
            line.append(": " + one_line(last, 200), DIM)
        return _line(line)
    return None


def queue_operation(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    """A local transcript's ``queue-operation``: a prompt typed while Claude was busy."""
    operation = field(obj, "operation") or "?"
    line = Text("· prompt queue: " + one_line(operation, 40), DIM)
    content = field(obj, "content")
    if content:
        line.append(" " + one_line(content, 200), DIM)
    return _line(line)


def transcript_summary(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    """A local transcript's ``summary`` line (the title /resume lists)."""
    return _line(Text("· summary: " + one_line(field(obj, "summary"), 200), DIM))


def file_history_snapshot(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    """A local transcript's ``file-history-snapshot``: the files backed up for /rewind."""
    snapshot = obj.get("snapshot")
    files = snapshot.get("trackedFileBackups") if isinstance(snapshot, dict) else None
    text = "· file history snapshot"
    if obj.get("isSnapshotUpdate") is True:
        text += " updated"
    if isinstance(files, dict):
        text += f" ({plural(len(files), 'file')})"
    return _line(Text(text, DIM))


def custom_title(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    """A local transcript's ``custom-title`` line: the session renamed (``/rename``)."""
    title = field(obj, "customTitle")
    return _line(Text("· session title: " + one_line(title, 200), DIM)) if title else []


def informational(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    text = field(obj, "content") or field(obj, "message") or field(obj, "text")
    if not text:
        return []
    lines, hidden = excerpt(text, RESULT_LINES)
    body = Text("\n".join(lines), DIM)
    if hidden:
        body.append("\n" + more_lines(hidden), DIM)
    return [("· ", "  ", DIM, body)]


def local_command_output(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    return informational(memory, obj)


def env_manager_log(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    """The cloud environment's set-up log: its last non-empty line."""
    data = obj.get("data")
    text = field(data, "content") or field(obj, "message") or field(obj, "content")
    last = ""
    for line in reversed(text.split("\n")):
        if line.strip(" \t\r"):
            last = line
            break
    return _line(
        Text("· environment: " + (one_line(last, 300) if last else "(empty log line)"), DIM)
    )


def post_turn_summary(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    category = field(obj, "status_category")
    detail = field(obj, "status_detail")
    needs = obj.get("needs_action") is True
    line = Text("◆ turn summary", WARN_BOLD if needs else BOLD)
    if category:
        line.append(" · " + one_line(category.replace("_", " "), 40))
    if detail:
        line.append(" · " + one_line(detail, 300), DIM if not needs else Style())
    if needs:
        line.append(" · needs your action", WARN_BOLD)
    return _line(line)


def active_goal(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    goal = obj.get("goal")
    text = (
        field(obj, "goal")
        or field(goal, "text")
        or field(goal, "description")
        or field(obj, "text")
    )
    if not text:
        return _compact(obj, "◎ goal")
    return _line(Text("◎ goal: " + one_line(text, 300), BOLD))


def autocompact_state(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    return _compact(obj, "· auto-compaction")


def turn_handoff_available(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    return _compact(obj, "· turn hand-off available")


def conversation_reset(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    new_id = field(obj, "new_conversation_id")
    text = "⟲ conversation reset" + (
        f" · new conversation {one_line(new_id, 80)}" if new_id else ""
    )
    return [("", "", None, Rule(Text(text, WARN), style=DIM, characters="─"))]


def session_state_changed(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    state = field(obj, "state")
    if not state:
        return _compact(obj, "· session state")
    style = WARN_BOLD if state == "requires_action" else DIM
    return _line(Text("· session " + one_line(state.replace("_", " "), 40), style))


_QUIET = frozenset({"type", "subtype", "uuid", "session_id"})


def _compact(obj: dict[str, Any], title: str) -> list[Row]:
    """A known type with no shape of its own: its title, then its fields as words
    (``enabled: true · threshold: 0.8``), a nested value as compact JSON."""
    rest = {k: v for k, v in obj.items() if k not in _QUIET}
    line = Text(title, DIM, no_wrap=True, overflow="ellipsis")
    parts = []
    for key, value in list(rest.items())[:12]:
        if isinstance(value, str):
            shown = one_line(value, 80)
        elif value is None or isinstance(value, bool | int | float):
            shown = compact_json(value, 40)
        else:
            shown = compact_json(value, 80)
        parts.append(f"{one_line(str(key), 40)}: {shown}")
    if parts:
        line.append(" · " + " · ".join(parts), DIM)
    return [("", "", None, line)]


# -- the footer -----------------------------------------------------------------------------------


def result(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    subtype = string(obj.get("subtype")) or "result"
    failed = obj.get("is_error") is True or subtype.startswith("error")
    style = ERROR_BOLD if failed else OK_BOLD
    label = subtype if not (failed and subtype == "success") else "error (reported as success)"
    line = Text("■ ", style)
    line.append(clean(label), style)
    parts: list[str] = []
    took = number(obj.get("duration_ms"))
    if took is not None:
        parts.append(duration(took / 1000))
    turns = number(obj.get("num_turns"))
    if turns is not None:
        parts.append(plural(int(turns), "turn"))
    dollars = number(obj.get("total_cost_usd"))
    if dollars is None:
        dollars = number(obj.get("cost_usd"))
    if dollars is not None:
        parts.append(cost(dollars))
    per_model = _model_usage(obj.get("modelUsage"))
    usage = obj.get("usage")
    if per_model:
        parts.extend(_tokens(_sum_usage([u for _, u in per_model])))
    elif isinstance(usage, dict):
        parts.extend(_tokens(usage))
    reason = field(obj, "terminal_reason") or field(obj, "stop_reason")
    if reason and reason not in ("end_turn", "completed"):
        parts.append("ended: " + one_line(reason.replace("_", " "), 60))
    denials = obj.get("permission_denials")
    denials = denials if isinstance(denials, list) else []
    if denials:
        parts.append(plural(len(denials), "permission denial"))
    if parts:
        line.append(" · " + " · ".join(parts))
    rows: list[Row] = [("", "  ", None, line)]
    if len(per_model) > 1:
        for model, model_usage in per_model:
            model_line = Text(clean(model), BOLD)
            model_parts = _tokens(model_usage)
            model_cost = number(model_usage.get("costUSD"))
            if model_cost is not None:
                model_parts.insert(0, cost(model_cost))
            if model_parts:
                model_line.append(" · " + " · ".join(model_parts), DIM)
            rows.append(("  ", "    ", None, model_line))
    for denial in denials[:10]:
        tool = field(denial, "tool_name") or "?"
        tool_input = denial.get("tool_input") if isinstance(denial, dict) else None
        text = Text("✗ denied ", ERROR)
        text.append(one_line(tool, 60), ERROR_BOLD)
        shown = field(tool_input, "command") or field(tool_input, "file_path")
        if not shown and tool_input:
            shown = compact_json(tool_input, 300)
        if shown:
            text.append("  " + one_line(shown, 300))
        rows.append(("  ", "    ", None, text))
    if len(denials) > 10:
        rows.append(
            ("  ", "    ", None, Text(f"… {plural(len(denials) - 10, 'more denial')}", DIM))
        )
    if failed:
        errors = obj.get("errors")
        messages = [e for e in errors if isinstance(e, str)] if isinstance(errors, list) else []
        text_result = obj.get("result")
        if not messages and isinstance(text_result, str) and text_result:
            messages = [text_result]
        for error in messages[:5]:
            lines, hidden = excerpt(error, RESULT_LINES)
            body = Text("\n".join(lines), ERROR)
            if hidden:
                body.append("\n" + more_lines(hidden), DIM)
            rows.append(("  ✗ ", "    ", ERROR, body))
    return rows


def _model_usage(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """``modelUsage`` (every model of the turn, sub-agents included), as (model, usage)."""
    if not isinstance(value, dict):
        return []
    return [(str(k), v) for k, v in value.items() if isinstance(v, dict)][:20]


_USAGE_KEYS = {
    "input": ("input_tokens", "inputTokens"),
    "output": ("output_tokens", "outputTokens"),
    "read": ("cache_read_input_tokens", "cacheReadInputTokens"),
    "written": ("cache_creation_input_tokens", "cacheCreationInputTokens"),
}


def _usage_value(usage: dict[str, Any], key: str) -> float | None:
    for name in _USAGE_KEYS[key]:
        value = number(usage.get(name))
        if value is not None:
            return value
    return None


def _sum_usage(usages: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for key, (snake, _) in _USAGE_KEYS.items():
        values = [_usage_value(u, key) for u in usages]
        present = [v for v in values if v is not None]
        if present:
            total[snake] = sum(present)
    return total


def _tokens(usage: dict[str, Any]) -> list[str]:
    parts = []
    tokens_in = _usage_value(usage, "input")
    tokens_out = _usage_value(usage, "output")
    if tokens_in is not None or tokens_out is not None:
        parts.append(f"tokens {count(tokens_in or 0)} in / {count(tokens_out or 0)} out")
    read = _usage_value(usage, "read")
    written = _usage_value(usage, "written")
    if read or written:
        parts.append(f"cache {count(read or 0)} read / {count(written or 0)} written")
    return parts
