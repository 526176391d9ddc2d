"""Tools: for each tool, how its call and its result are drawn, in one table.

A call is drawn as one line in the stream (``→ Bash  npm test  Run tests``), with a body under
it where the input is more than one line can say (an Edit's diff, a TodoWrite checklist, an
MCP tool's arguments). In a permission prompt the same entry draws the input whole: whatever
is being approved is shown, wrapped, never cut (a Write's long content and long edits show
their head and tail, with a count of the lines between). Adding a tool is one entry in
:data:`TOOLS` and its test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from sesstail.render.pretty.layout import Fitted, Hanging
from sesstail.render.pretty.markdown import prose
from sesstail.render.pretty.text import (
    BOLD,
    DIFF_LINES,
    DIM,
    DIM_BOLD,
    MULTIEDIT_EDITS,
    PROMPT_HEAD_LINES,
    PROMPT_TAIL_LINES,
    TOOL_STYLE,
    compact_json,
    excerpt,
    field,
    head_and_tail,
    more_lines,
    number,
    one_line,
    plural,
)
from sesstail.render.sanitize import clean

_REMOVED = Style(color="red")
_ADDED = Style(color="green")
_VALUE_LINES = 6  # lines of one argument's value in the stream; whole in a prompt


@dataclass(frozen=True, slots=True)
class CallSummary:
    """A call's key input (cleaned, maybe long) and a dim remark; ``path``: cut on the left."""

    main: str = ""
    remark: str = ""
    path: bool = False


Input = dict[str, Any]
Summarise = Callable[[Input], CallSummary]
Body = Callable[[Input, bool], list[RenderableType]]
ResultText = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Tool:
    """How one tool is drawn.

    ``summary``: the call line's key input. ``body``: what goes under the call line (called
    with ``whole=True`` in a permission prompt). ``result``: the result's text as it is worth
    showing (Read's line numbers gone). ``report``: the result is a report, drawn as Markdown.
    ``body_says_all``: in a prompt, the body alone (the key input would repeat it).
    """

    summary: Summarise
    body: Body | None = None
    result: ResultText | None = None
    report: bool = False
    # In a prompt the body may say all the key input says (AskUserQuestion's questions).
    body_says_all: bool = False


# -- call lines -----------------------------------------------------------------------------------


class CallLine(Fitted):
    """``Name  main  remark`` on one line; a long path is cut on the left, keeping the file."""

    __slots__ = ("_name", "_quiet", "_summary")

    def __init__(self, name: str, summary: CallSummary, *, quiet: bool = False) -> None:
        self._name = name
        self._summary = summary
        self._quiet = quiet  # dim, without the remark: a result's reminder of its call

    def fit(self, width: int) -> Text:
        summary = self._summary
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(self._name, DIM_BOLD if self._quiet else TOOL_STYLE)
        main = summary.main
        if main:
            first, newline, _ = main.partition("\n")
            main = first + (" …" if newline else "")
            room = width - len(self._name) - 2
            if summary.path and len(main) > room:
                main = "…" + main[len(main) - max(room - 1, 8) :]
                line.append("  " + main, DIM if self._quiet else None)
                return line
            line.append("  " + main, DIM if self._quiet else None)
        if summary.remark and not self._quiet:
            line.append("  " + summary.remark, DIM)
        return line


def display_name(name: str) -> str:
    """``mcp__github__get_issue`` as ``github · get_issue``; other names as they are."""
    if name.startswith("mcp__"):
        server, _, tool = name[5:].partition("__")
        if server and tool:
            return clean(f"{server} · {tool}")
    return clean(name)


def call_line(name: str, tool_input: Any, *, quiet: bool = False) -> CallLine:
    return CallLine(one_line(display_name(name), 80), summarise(name, tool_input), quiet=quiet)


def prompt_call_line(name: str, tool_input: Any) -> Text:
    """The call of a permission prompt: the tool and its remark, then the whole key input
    on lines of its own, wrapped."""
    summary = summarise(name, tool_input)
    line = Text()
    line.append(display_name(name), TOOL_STYLE)
    if summary.remark:
        line.append("  " + summary.remark, DIM)
    if summary.main and not (isinstance(tool_input, dict) and tool_for(name).body_says_all):
        line.append("\n" + summary.main)
    return line


def summarise(name: str, tool_input: Any) -> CallSummary:
    """The key input of a tool call; unknown shapes fall back to compact JSON."""
    if not isinstance(tool_input, dict):
        return CallSummary(compact_json(tool_input, 120))
    try:
        return tool_for(name).summary(tool_input)
    except Exception:
        return CallSummary(compact_json(tool_input, 120))


def call_body(name: str, tool_input: Any, *, whole: bool) -> list[RenderableType]:
    """What goes under a call line: a diff, a checklist, arguments; empty for most tools."""
    if not isinstance(tool_input, dict):
        return [Text(compact_json(tool_input))] if whole else []
    body = tool_for(name).body
    return body(tool_input, whole) if body is not None else []


def tool_for(name: str) -> Tool:
    tool = TOOLS.get(name)
    if tool is not None:
        return tool
    if name.startswith("mcp__"):
        return _MCP
    return _UNKNOWN


# -- summaries ------------------------------------------------------------------------------------


def _bash(tool_input: Input) -> CallSummary:
    command = field(tool_input, "command")
    remark = one_line(field(tool_input, "description"), 80)
    if tool_input.get("run_in_background") is True:
        remark = (remark + " " if remark else "") + "(background)"
    timeout = number(tool_input.get("timeout"))
    if timeout is not None:
        remark = (remark + " " if remark else "") + f"(timeout {timeout / 1000:g} s)"
    return CallSummary(clean(command.strip("\n")), remark)


def _path(key: str, remark: Callable[[Input], str] | None = None) -> Summarise:
    def summary(tool_input: Input) -> CallSummary:
        value = field(tool_input, key)
        return CallSummary(clean(value), remark(tool_input) if remark else "", path=True)

    return summary


def _read_remark(tool_input: Input) -> str:
    offset = number(tool_input.get("offset"))
    limit = number(tool_input.get("limit"))
    if offset is None and limit is None:
        return ""
    start = int(offset or 1)
    if limit:
        return f"lines {start:,}–{start + int(limit) - 1:,}"
    return f"from line {start:,}"


def _line_count(text: str) -> int:
    return text.count("\n") + (not text.endswith("\n")) if text else 0


def _write_remark(tool_input: Input) -> str:
    content = tool_input.get("content")
    return plural(_line_count(content), "line") if isinstance(content, str) else ""


def _edit_remark(tool_input: Input) -> str:
    return "(replace all)" if tool_input.get("replace_all") is True else ""


def _multiedit_remark(tool_input: Input) -> str:
    edits = tool_input.get("edits")
    return plural(len(edits), "edit") if isinstance(edits, list) else ""


def _notebook_remark(tool_input: Input) -> str:
    parts = [field(tool_input, "edit_mode"), field(tool_input, "cell_type")]
    cell = field(tool_input, "cell_id")
    if cell:
        parts.append("cell " + cell)
    return one_line(" · ".join(p for p in parts if p), 80)


def _search(tool_input: Input) -> CallSummary:
    remarks = []
    path = field(tool_input, "path")
    if path:
        remarks.append("in " + one_line(path, 80))
    for option in ("glob", "type", "output_mode"):
        value = field(tool_input, option)
        if value:
            remarks.append(f"{option} {one_line(value, 30)}")
    if tool_input.get("-i") is True:
        remarks.append("ignoring case")
    return CallSummary(one_line(field(tool_input, "pattern"), 200), " · ".join(remarks))


def _web_fetch(tool_input: Input) -> CallSummary:
    # The prompt (what is asked of the page) goes in the body, where no width cuts it.
    return CallSummary(one_line(field(tool_input, "url"), 300))


def _web_search(tool_input: Input) -> CallSummary:
    remarks = []
    for key in ("allowed_domains", "blocked_domains"):
        domains = tool_input.get(key)
        if isinstance(domains, list) and domains:
            names = ", ".join(one_line(str(d), 40) for d in domains[:5])
            remarks.append(key.split("_")[0] + " " + names)
    return CallSummary(one_line(field(tool_input, "query"), 200), " · ".join(remarks))


def _task(tool_input: Input) -> CallSummary:
    description = field(tool_input, "description")
    agent = field(tool_input, "subagent_type")
    remark = f"({one_line(agent, 40)})" if description and agent else ""
    return CallSummary(one_line(description or agent, 120), remark)


def _todos(tool_input: Input) -> CallSummary:
    todos = tool_input.get("todos")
    if not isinstance(todos, list):
        return CallSummary(compact_json(tool_input, 120))
    done = sum(1 for t in todos if field(t, "status") == "completed")
    active = sum(1 for t in todos if field(t, "status") == "in_progress")
    return CallSummary(plural(len(todos), "todo"), f"{done} done, {active} in progress")


def _plan(tool_input: Input) -> CallSummary:
    plan = field(tool_input, "plan")
    return CallSummary("", f"plan of {plural(_line_count(plan), 'line')}" if plan else "")


def _questions(tool_input: Input) -> CallSummary:
    questions = tool_input.get("questions")
    if isinstance(questions, list) and questions:
        first = questions[0]
        text = field(first, "question") or field(first, "header")
        more = f"(+{plural(len(questions) - 1, 'question')})" if len(questions) > 1 else ""
        return CallSummary(one_line(text, 200), more)
    return CallSummary(one_line(field(tool_input, "question"), 200))


def _skill(tool_input: Input) -> CallSummary:
    name = field(tool_input, "skill") or field(tool_input, "command") or field(tool_input, "name")
    return CallSummary(one_line(name, 80), one_line(field(tool_input, "args"), 120))


def _arguments_only(tool_input: Input) -> CallSummary:
    return CallSummary()


# -- bodies ---------------------------------------------------------------------------------------


def _lines(
    text: str, style: Style | None, whole: bool, limit: int, sign: str = ""
) -> Text | Hanging:
    """``text`` as lines behind ``sign``: all of them (head and tail when very long) in a
    prompt, the first ``limit`` in the stream; wrapped (behind a sign, under the text, not
    under the sign), never cut."""
    if whole:
        head, hidden, tail = head_and_tail(text, PROMPT_HEAD_LINES, PROMPT_TAIL_LINES, cut=False)
    else:
        head, hidden = excerpt(text, limit, cut=False)
        tail = []
    if sign:
        count = (style + DIM) if style else DIM
        lines = [(sign, style, line, style) for line in head]
        if hidden:
            lines.append((sign, style, more_lines(hidden), count))
        lines.extend((sign, style, line, style) for line in tail)
        return Hanging(lines)
    body = Text(style=style or "")
    body.append("\n".join(head))
    if hidden:
        body.append(("\n" if head else "") + more_lines(hidden), DIM)
    if tail:
        body.append("\n" + "\n".join(tail))
    return body


def _diff(edits: list[Any], whole: bool) -> list[RenderableType]:
    """Edits as a small diff: removed lines red, added lines green."""
    parts: list[RenderableType] = []
    shown = edits if whole else edits[:MULTIEDIT_EDITS]
    for edit in shown:
        for sign, key, style in (("- ", "old_string", _REMOVED), ("+ ", "new_string", _ADDED)):
            text = field(edit, key)
            if text.strip(" \t\n"):
                parts.append(_lines(text, style, whole, DIFF_LINES, sign))
    if len(edits) > len(shown):
        parts.append(Text(f"… {plural(len(edits) - len(shown), 'more edit')}", DIM))
    return parts


def _edit_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    return _diff([tool_input], whole)


def _multiedit_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    edits = tool_input.get("edits")
    return _diff(edits, whole) if isinstance(edits, list) else []


def _write_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    content = field(tool_input, "content")
    if not whole or not content:
        return []
    return [_lines(content, _ADDED, True, 0, "+ ")]


def _notebook_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    source = field(tool_input, "new_source")
    if not source:
        return []
    return [_lines(source, _ADDED, whole, DIFF_LINES, "+ ")]


def _web_fetch_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    """The prompt, wrapped: whole in a permission prompt, its first lines in the stream."""
    prompt = field(tool_input, "prompt")
    if not prompt.strip(" \t\n"):
        return []
    body = _lines(prompt, None, whole, _VALUE_LINES)
    return [Text("prompt: ", BOLD) + body if isinstance(body, Text) else body]


def _task_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    prompt = field(tool_input, "prompt")
    if not whole or not prompt:
        return []
    return [Text("prompt: ", BOLD) + Text(clean(prompt))]


_TODO_MARKS = {
    "completed": ("☑ ", Style(color="green"), Style(dim=True, strike=True)),
    "in_progress": ("◐ ", Style(color="magenta", bold=True), Style(bold=True)),
}
_PENDING = ("☐ ", Style(dim=True), Style())


def _todo_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    todos = tool_input.get("todos")
    if not isinstance(todos, list) or not todos:
        return []
    lines = []
    for todo in todos:
        status = field(todo, "status")
        mark, mark_style, text_style = _TODO_MARKS.get(status, _PENDING)
        content = field(todo, "content") or field(todo, "activeForm") or compact_json(todo, 200)
        lines.append((mark, mark_style, one_line(content, 400), text_style))
    return [Hanging(lines)]


def _plan_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    plan = field(tool_input, "plan")
    return [prose(plan)] if plan.strip() else []


def _questions_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    questions = tool_input.get("questions")
    if not isinstance(questions, list):
        return _arguments_body(tool_input, whole)
    parts: list[RenderableType] = []
    for question in questions:
        if not isinstance(question, dict):
            parts.append(Text(compact_json(question)))
            continue
        line = Text()
        header = field(question, "header")
        if header:
            line.append(clean(header) + ": ", BOLD)
        line.append(clean(field(question, "question")), BOLD)
        if question.get("multiSelect") is True:
            line.append("  (choose any)", DIM)
        options = question.get("options")
        for number_, option in enumerate(options if isinstance(options, list) else [], 1):
            label = field(option, "label") or compact_json(option)
            line.append(f"\n  {number_}. ")
            line.append(clean(label))
            description = field(option, "description")
            if description:
                line.append(" — " + clean(description), DIM)
        parts.append(line)
    return parts


def _arguments_body(tool_input: Input, whole: bool) -> list[RenderableType]:
    """Every argument as ``key: value``, each value whole and wrapped under itself (strings as
    text, the rest as JSON); in the stream a value of many lines shows its first few."""
    if not tool_input:
        return []
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style=BOLD, no_wrap=True, max_width=30, overflow="ellipsis")
    grid.add_column(overflow="fold")
    for key, value in tool_input.items():
        text = value if isinstance(value, str) else compact_json(value)
        grid.add_row(Text(clean(str(key)) + ":"), _lines(text, None, whole, _VALUE_LINES))
    return [grid]


# -- results --------------------------------------------------------------------------------------


def _read_result(text: str) -> str:
    """A Read result without its ``   12→`` (or ``   12<TAB>``) line numbers: a count says
    what was read."""
    lines = text.split("\n")
    numbered = 0
    for line in lines:
        for mark in ("→", "\t"):
            head, found, _ = line.partition(mark)
            if found and head.strip(" ").isdigit():
                numbered += 1
                break
    if numbered and numbered >= len([line for line in lines if line.strip(" ")]) - 1:
        return f"read {plural(numbered, 'line')}"
    return text


def _edit_result(text: str) -> str:
    """An edit's result without the numbered snippet of the file the tool appends (the diff
    above already says what changed)."""
    head, found, _ = text.partition(" Here's the result of running `cat -n`")
    return head if found else text


def _report_result(text: str) -> str:
    """A sub-agent's report without the ``agentId: …`` trailer the tool adds."""
    kept = [line for line in text.split("\n") if not line.startswith("agentId:")]
    return "\n".join(kept).rstrip(" \t\n")


_LINKS = "Links: "
_SHOWN_LINKS = 3  # and the first lines of the findings, within a result's six lines


def _web_search_result(text: str) -> str:
    """WebSearch's result (``Web search results for query: "…"``, then ``Links: [{title,
    url}…]`` as one JSON line, then what the search found) as the server-side search's is
    drawn: how many results and the first titles with their URLs, then the findings. Any
    other shape is shown as it is."""
    lines = text.split("\n")
    for index, line in enumerate(lines[:4]):
        if not line.startswith(_LINKS):
            continue
        try:
            links = json.loads(line[len(_LINKS) :])
        except ValueError:
            return text
        if not isinstance(links, list) or not all(isinstance(link, dict) for link in links):
            return text
        shown = [
            one_line(field(link, "title") or "(untitled)", 120)
            + ("  " + one_line(field(link, "url"), 160) if field(link, "url") else "")
            for link in links[:_SHOWN_LINKS]
        ]
        if len(links) > _SHOWN_LINKS:
            shown.append(f"… {plural(len(links) - _SHOWN_LINKS, 'more result')}")
        rest = "\n".join(lines[index + 1 :]).strip(" \t\n")
        return "\n".join([plural(len(links), "result"), *shown, *([rest] if rest else [])])
    return text


_BASH = Tool(_bash)
_READ = Tool(_path("file_path", _read_remark), result=_read_result)
_MCP = Tool(_arguments_only, _arguments_body)
_UNKNOWN = Tool(_arguments_only, _arguments_body)
_TASK = Tool(_task, _task_body, result=_report_result, report=True)
_WEB_SEARCH = Tool(_web_search, result=_web_search_result)

TOOLS: dict[str, Tool] = {
    "Bash": _BASH,
    "BashOutput": Tool(lambda i: CallSummary(one_line(field(i, "bash_id"), 80))),
    "KillShell": Tool(lambda i: CallSummary(one_line(field(i, "shell_id"), 80))),
    "Read": _READ,
    "Write": Tool(_path("file_path", _write_remark), _write_body),
    "Edit": Tool(_path("file_path", _edit_remark), _edit_body, result=_edit_result),
    "MultiEdit": Tool(_path("file_path", _multiedit_remark), _multiedit_body, result=_edit_result),
    "NotebookEdit": Tool(_path("notebook_path", _notebook_remark), _notebook_body),
    "NotebookRead": Tool(_path("notebook_path")),
    "Grep": Tool(_search),
    "Glob": Tool(_search),
    "LS": Tool(_path("path")),
    "WebFetch": Tool(_web_fetch, _web_fetch_body),
    "WebSearch": _WEB_SEARCH,
    "web_search": _WEB_SEARCH,
    "Task": _TASK,
    "Agent": _TASK,
    "TodoWrite": Tool(_todos, _todo_body),
    "ExitPlanMode": Tool(_plan, _plan_body),
    "AskUserQuestion": Tool(_questions, _questions_body, body_says_all=True),
    "Skill": Tool(_skill),
    "SlashCommand": Tool(_skill),
}


def result_text(name: str, text: str) -> str:
    """A successful result's text as its tool wants it shown."""
    shape = tool_for(name).result
    if shape is None:
        return text
    try:
        return shape(text)
    except Exception:
        return text


def is_report(name: str) -> bool:
    return tool_for(name).report
