"""Real sessions drawn faithfully (issue 9): prompts, tools, who speaks, footers, narrow terminals.

Every message here is composed to have the shape Claude Code sends; every test draws at 120 and
at 60 columns (the ``width`` fixture, which ``render`` and ``render_live`` follow unless told).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sesstail.protocol import Message
from sesstail.render.pretty import PrettyRenderer
from sesstail.render.pretty.prompts import draw_permission_prompt
from sesstail.render.pretty.text import clock_time
from sesstail.render.pretty.tools import TOOLS

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WIDTHS = pytest.mark.parametrize("width", [120, 60])
_drawn_at = [120]


@pytest.fixture(params=[120, 60])
def width(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture(autouse=True)
def _every_test_at_both_widths(width: int) -> Iterator[None]:
    _drawn_at[0] = width
    yield
    _drawn_at[0] = 120


def render(*objs: dict[str, Any], width: int | None = None, color: bool = False) -> str:
    width = width or _drawn_at[0]
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=color, width=width)
    for obj in objs:
        renderer.message(Message(json.dumps(obj), obj, 0.0))
    return out.getvalue()


def banner_text(out: str) -> str:
    """The inside of a permission banner, its lines joined with single spaces."""
    inner = [line[2:-2].rstrip() for line in out.splitlines() if line.startswith("┃")]
    return " ".join(part for part in inner if part)


def ask(name: str, tool_input: dict[str, Any], **extra: Any) -> dict[str, Any]:
    request = {
        "subtype": "can_use_tool",
        "tool_name": name,
        "input": tool_input,
        "tool_use_id": "toolu_01Ask",
        **extra,
    }
    return {"type": "control_request", "request_id": "req_01Ask", "request": request}


def reply(block: dict[str, Any], msg_id: str = "msg_01R", **extra: Any) -> dict[str, Any]:
    message = {"id": msg_id, "role": "assistant", "model": "claude-sonnet-4-5", "content": [block]}
    return {"type": "assistant", "message": message, "parent_tool_use_id": None, **extra}


def call(name: str, tool_input: dict[str, Any], call_id: str = "toolu_01C", **extra: Any) -> Any:
    return reply({"type": "tool_use", "id": call_id, "name": name, "input": tool_input}, **extra)


def result(
    content: Any, call_id: str = "toolu_01C", *, is_error: bool = False, **extra: Any
) -> dict[str, Any]:
    block = {
        "type": "tool_result",
        "tool_use_id": call_id,
        "content": content,
        "is_error": is_error,
    }
    return {"type": "user", "message": {"role": "user", "content": [block]}, **extra}


def user(content: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": content}, **extra}


# -- permission prompts -------------------------------------------------------------------------


@WIDTHS
def test_a_long_command_in_a_prompt_wraps_and_keeps_its_end(width: int) -> None:
    """A long one-line command wraps inside the banner; its dangerous end is shown, never '…'."""
    command = (
        "cd /srv/app && npm ci && npm run build && npm test -- --runInBand "
        "&& git add -A && git commit -m 'release' && git push --force origin main"
    )
    out = render(ask("Bash", {"command": command, "description": "Build and release"}), width=width)
    text = banner_text(out)
    assert "Bash  Build and release" in text
    assert command.replace(" ", "") in text.replace(" ", "")
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= width


@WIDTHS
def test_a_plan_is_drawn_as_markdown(width: int) -> None:
    """ExitPlanMode shows its plan as Markdown text: no literal \\n, no '##', items listed."""
    plan = "## Plan\n\n1. Move the nightly job onto the queue\n2. Delete `cron.py`\n\n**Risk**: low"
    out = render(ask("ExitPlanMode", {"plan": plan}), width=width)
    text = banner_text(out)
    assert "Plan" in text
    assert "1 Move the nightly job onto the queue" in text
    assert "2 Delete cron.py" in text
    assert "Risk: low" in text
    assert "\\n" not in out
    assert "##" not in out


def test_markdown_opening_with_a_list_has_no_blank_line_above(width: int) -> None:
    """Rich opens a list with a blank line: not under a reply's header, a call, or in a banner."""
    plan = {"plan": "1. Queue the job\n2. Drop the cron"}
    assert render(reply({"type": "text", "text": "- one\n- two"})).splitlines() == [
        "● Claude · claude-sonnet-4-5",
        "   • one",
        "   • two",
    ]
    assert render(ask("ExitPlanMode", plan)).splitlines()[1:4] == [
        "┃ ExitPlanMode  plan of 2 lines" + " " * (width - 32) + "┃",
        "┃  1 Queue the job" + " " * (width - 19) + "┃",
        "┃  2 Drop the cron" + " " * (width - 19) + "┃",
    ]


@WIDTHS
def test_write_shows_its_content_head_and_tail(width: int) -> None:
    """Write shows the content: all of a short file; head, a count and tail of a long one."""
    short = render(ask("Write", {"file_path": "/srv/app/.env", "content": "A=1\nB=2\n"}))
    assert "+ A=1 + B=2" in banner_text(short)
    content = "\n".join(f"row {n}" for n in range(100)) + "\n"
    out = render(ask("Write", {"file_path": "/srv/app/data.txt", "content": content}), width=width)
    text = banner_text(out)
    assert "Write  100 lines /srv/app/data.txt" in text
    assert "+ row 0 " in text
    assert "+ row 29 + … 60 more lines + row 90" in text
    assert text.endswith("+ row 99 request id: req_01Ask")


@WIDTHS
def test_mcp_arguments_are_shown_whole_as_key_value(width: int) -> None:
    """An MCP tool shows server · tool, then each argument as key: value, whole and wrapped."""
    body = "Moves the nightly billing job onto the queue, and removes the old scheduler " * 3
    tool_input = {"owner": "acme", "repo": "billing", "title": "Queue the job", "body": body}
    out = render(ask("mcp__github__create_pull_request", tool_input), width=width)
    text = banner_text(out)
    assert text.startswith("github · create_pull_request owner: acme repo:  billing")
    assert body.strip().replace(" ", "") in text.replace(" ", "")
    assert "…" not in out


@WIDTHS
def test_ask_user_question_shows_questions_and_options(width: int) -> None:
    """AskUserQuestion shows each question with its numbered options and their descriptions."""
    questions = [
        {
            "question": "Which queue should the job use?",
            "header": "Queue",
            "multiSelect": False,
            "options": [
                {"label": "SQS", "description": "managed by AWS"},
                {"label": "RabbitMQ", "description": "the one we run"},
            ],
        },
        {
            "question": "Keep the old cron as a fallback?",
            "header": "Fallback",
            "multiSelect": True,
            "options": [{"label": "Yes"}, {"label": "No"}],
        },
    ]
    out = render(ask("AskUserQuestion", {"questions": questions}), width=width)
    text = banner_text(out)
    assert "Queue: Which queue should the job use?" in text
    assert "1. SQS — managed by AWS" in text
    assert "2. RabbitMQ — the one we run" in text
    assert "Fallback: Keep the old cron as a fallback?  (choose any)   1. Yes   2. No" in text
    assert "{" not in text


@WIDTHS
def test_prompt_diff_lines_wrap(width: int) -> None:
    """An Edit in a banner shows each diff line whole, wrapped, not cut."""
    old = "timeout = 30  # seconds before the worker gives up on the upstream billing API call"
    new = "timeout = 90  # seconds before the worker gives up on the upstream billing API call"
    out = render(
        ask("Edit", {"file_path": "/srv/a.py", "old_string": old, "new_string": new}), width=width
    )
    text = banner_text(out).replace(" ", "")
    assert ("-" + old).replace(" ", "") in text
    assert ("+" + new).replace(" ", "") in text
    assert "…" not in out


@WIDTHS
def test_a_prompt_can_be_drawn_on_its_own_before_asking(width: int) -> None:
    """draw_permission_prompt (for watch -i with JSONL or a filter) draws the same banner."""
    prompt = ask("Bash", {"command": "curl -fsSL https://get.example.sh | sh -s -- --yes " * 3})
    for color in (False, True):
        out = io.StringIO()
        draw_permission_prompt(prompt, out, color=color, width=width)
        assert out.getvalue() == render(prompt, width=width, color=color)


# -- tools ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Bash", "Read", "Write", "Edit", "MultiEdit", "NotebookEdit", "NotebookRead", "Grep",
        "Glob", "LS", "WebFetch", "WebSearch", "web_search", "Task", "Agent", "TodoWrite",
        "ExitPlanMode", "AskUserQuestion", "Skill",
    ],
)  # fmt: skip
def test_each_tool_has_one_entry_in_the_table(name: str) -> None:
    """The tool table has an entry for each tool issue 9 names."""
    assert name in TOOLS


@pytest.mark.parametrize(
    ("name", "tool_input", "line"),
    [
        ("LS", {"path": "/srv/app/src"}, "  → LS  /srv/app/src"),
        ("NotebookRead", {"notebook_path": "/n/a.ipynb"}, "  → NotebookRead  /n/a.ipynb"),
        ("Skill", {"skill": "pdf", "args": "report.pdf"}, "  → Skill  pdf  report.pdf"),
        ("WebSearch", {"query": "rich table min_width"}, "  → WebSearch  rich table min_width"),
        (
            "NotebookEdit",
            {"notebook_path": "/n/a.ipynb", "cell_id": "c3", "new_source": "x = 1"},
            "  → NotebookEdit  /n/a.ipynb  cell c3",
        ),
    ],
)
def test_tool_call_lines(name: str, tool_input: dict[str, Any], line: str) -> None:
    """Each tool's call line shows its key input, and its remark."""
    assert line in render(call(name, tool_input)).splitlines()


@pytest.mark.parametrize(
    ("name", "tool_input", "lines"),
    [
        ("Bash", {"command": "npm test", "description": "Run tests"}, ["→ Bash  npm test  Run tests"]),  # noqa: E501
        ("Read", {"file_path": "/a.py", "offset": 10, "limit": 5}, ["→ Read  /a.py  lines 10–14"]),
        ("Write", {"file_path": "/a.txt", "content": "a\nb\n"}, ["→ Write  /a.txt  2 lines"]),
        (
            "Edit",
            {"file_path": "/a.py", "old_string": "x = 1", "new_string": "x = 2"},
            ["→ Edit  /a.py", "    - x = 1", "    + x = 2"],
        ),
        (
            "MultiEdit",
            {"file_path": "/a.py", "edits": [{"old_string": "a", "new_string": "b"}]},
            ["→ MultiEdit  /a.py  1 edit", "    - a", "    + b"],
        ),
        (
            "Grep",
            {"pattern": "charge(", "path": "src", "glob": "*.py"},
            ["→ Grep  charge(  in src · glob *.py"],
        ),
        ("Glob", {"pattern": "**/*.py"}, ["→ Glob  **/*.py"]),
        (
            "Task",
            {"description": "Find callers", "subagent_type": "Explore", "prompt": "Find them"},
            ["→ Task  Find callers  (Explore)"],
        ),
        ("Agent", {"description": "Read docs"}, ["→ Agent  Read docs"]),
        (
            "ExitPlanMode",
            {"plan": "1. Queue the job\n2. Drop the cron"},
            ["→ ExitPlanMode  plan of 2 lines", "     1 Queue the job", "     2 Drop the cron"],
        ),
        (
            "AskUserQuestion",
            {"questions": [{"question": "Which queue?", "header": "Q", "options": [{"label": "SQS"}]}]},  # noqa: E501
            ["→ AskUserQuestion  Which queue?", "    Q: Which queue?", "      1. SQS"],
        ),
        (
            "mcp__github__get_issue",
            {"owner": "acme", "number": 42},
            ["→ github · get_issue", "    owner:  acme", "    number: 42"],
        ),
        (
            "FancyNewTool",
            {"target": "prod", "options": {"dry_run": True}},
            ["→ FancyNewTool", "    target:  prod", '    options: {"dry_run":true}'],
        ),
    ],
)  # fmt: skip
def test_each_tool_draws_its_call_at_both_widths(
    name: str, tool_input: dict[str, Any], lines: list[str]
) -> None:
    """The call of every tool issue 9 names (and an MCP and an unknown tool): its line and body."""
    assert render(call(name, tool_input)).splitlines()[1:] == ["  " + line for line in lines]


def test_web_fetch_shows_its_prompt_whole(width: int) -> None:
    """WebFetch's prompt (what is asked of the page) is shown whole, wrapped, at any width."""
    prompt = "What is the retry limit of the queue, and how is the backoff between tries computed?"
    tool_input = {"url": "https://docs.example.com/queues/retry", "prompt": prompt}
    lines = render(call("WebFetch", tool_input)).splitlines()[1:]
    assert lines[0] == "  → WebFetch  https://docs.example.com/queues/retry"
    assert " ".join(line.strip() for line in lines[1:]) == "prompt: " + prompt
    assert max(len(line) for line in lines) <= width


def test_web_search_results_list_titles_and_urls(width: int) -> None:
    """The WebSearch tool's result (a Links: JSON line) is drawn like the server-side search:
    how many results, the first titles with their URLs, then what the search found."""
    links = [{"title": f"Queues part {n}", "url": f"https://q.example/{n}"} for n in range(5)]
    text = (
        'Web search results for query: "queue retry"\n\nLinks: '
        + json.dumps(links)
        + "\n\nRetries back off exponentially."
    )
    out = render(call("WebSearch", {"query": "queue retry"}), result(text))
    assert out.splitlines()[2:] == [
        "    ⎿ 5 results",
        "      Queues part 0  https://q.example/0",
        "      Queues part 1  https://q.example/1",
        "      Queues part 2  https://q.example/2",
        "      … 2 more results",
        "      Retries back off exponentially.",
    ]
    assert "{" not in out


def test_wrapped_diff_and_checklist_lines_continue_under_their_text(width: int) -> None:
    """A diff line or a checklist item too long for the line wraps under its text, never
    under its sign, so a wrapped diff line cannot pass for an unchanged one."""
    old = "timeout = 30  # seconds before the worker gives up on the upstream billing API call"
    edit = {"file_path": "/srv/a.py", "old_string": old, "new_string": old.replace("30", "90")}
    todo = "Remove the cron job that ran the nightly billing at 02:00 UTC, and its configuration"
    todos = {"todos": [{"content": todo, "status": "in_progress", "activeForm": "Removing"}]}
    stream = render(call("Edit", edit), call("TodoWrite", todos, "toolu_T")).splitlines()
    banner = [line[2:-2].rstrip() for line in render(ask("Edit", edit)).splitlines()]
    if width == 120:
        assert "      - " + old in stream
        assert "      ◐ " + todo in stream
        assert "- " + old in banner
        return
    assert stream[2:4] == [
        "      - timeout = 30  # seconds before the worker gives up",
        "        on the upstream billing API call",
    ]
    assert stream[-2:] == [
        "      ◐ Remove the cron job that ran the nightly billing at",
        "        02:00 UTC, and its configuration",
    ]
    assert banner[3:5] == [
        "- timeout = 30  # seconds before the worker gives up on",
        "  the upstream billing API call",
    ]


def test_server_side_web_search_and_its_results() -> None:
    """A server_tool_use web_search shows its query; its result block lists titles and URLs."""
    use = {
        "type": "server_tool_use",
        "id": "srvtoolu_01",
        "name": "web_search",
        "input": {"query": "uv lock"},
    }
    results = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_01",
        "content": [
            {
                "type": "web_search_result",
                "title": "Locking | uv",
                "url": "https://docs.astral.sh/uv/lock",
            },
            {
                "type": "web_search_result",
                "title": "uv lock reference",
                "url": "https://x.example/ref",
            },
        ],
    }
    out = render(reply(use), reply(results))
    lines = out.splitlines()
    assert "  → web_search  uv lock" in lines
    assert "    ⎿ 2 results" in lines
    assert "      Locking | uv  https://docs.astral.sh/uv/lock" in lines


def test_todowrite_is_a_checklist() -> None:
    """TodoWrite draws each item with a mark for its status, not only counts."""
    todos = [
        {"content": "Add the queue consumer", "status": "completed", "activeForm": "Adding"},
        {"content": "Remove the cron job", "status": "in_progress", "activeForm": "Removing"},
        {"content": "Update the runbook", "status": "pending", "activeForm": "Updating"},
    ]
    lines = render(call("TodoWrite", {"todos": todos})).splitlines()
    assert "  → TodoWrite  3 todos  1 done, 1 in progress" in lines
    assert lines[-3:] == [
        "      ☑ Add the queue consumer",
        "      ◐ Remove the cron job",
        "      ☐ Update the runbook",
    ]


@WIDTHS
def test_long_paths_are_cut_on_the_left(width: int) -> None:
    """A path too long for the line loses its start, so the file name stays visible."""
    path = "/home/dev/work/monorepo/services/billing/src/billing/queue/consumers/nightly_invoice.py"
    line = render(call("Read", {"file_path": path}), width=width).splitlines()[-1]
    assert line.endswith("consumers/nightly_invoice.py")
    assert len(line) <= width
    if width == 60:
        assert "  → Read  …" in line


def test_sgr_colours_are_stripped_and_other_escapes_shown() -> None:
    """Tool output with SGR colour codes shows plain text; other escapes stay visible."""
    out = render(
        call("Bash", {"command": "pytest"}), result("\x1b[32m\x1b[1m12 passed\x1b[0m\x1b]0;t\x07")
    )
    assert out.splitlines()[-1] == "    ⎿ 12 passed\\x1b]0;t\\x07"
    coloured = render(call("Bash", {"command": "pytest"}), result("\x1b[2mdim\x1b[0m"), color=True)
    assert "\x1b[2mdim" not in coloured
    assert "\\x1b[2m" not in coloured


def test_read_result_says_how_many_lines_and_reminders_are_hidden() -> None:
    """A Read result is one line, not the file's numbered head; a <system-reminder> is hidden."""
    numbered = "".join(f"{n:>6}→line {n}\n" for n in range(1, 41))
    numbered += (
        "\n<system-reminder>\nWhenever you read a file, check it for malware.\n</system-reminder>\n"
    )
    lines = render(call("Read", {"file_path": "/srv/a.py"}), result(numbered)).splitlines()
    assert lines[-1] == "    ⎿ read 40 lines"
    tabbed = "".join(f"{n:>6}\tline {n}\n" for n in range(1, 4))
    assert render(call("Read", {"file_path": "/a"}), result(tabbed)).endswith("⎿ read 3 lines\n")
    out = render(
        call("Bash", {"command": "ls"}),
        result("a.py\n<system-reminder>be careful</system-reminder>"),
    )
    assert out.splitlines()[-1] == "    ⎿ a.py"
    assert "careful" not in out


def test_edit_result_drops_the_numbered_snippet() -> None:
    """An Edit's result says the file was updated, without the cat -n snippet of the file."""
    text = (
        "The file /srv/a.py has been updated. Here's the result of running `cat -n` on a "
        "snippet of the edited file:\n     8→def f():\n     9→    return 2"
    )
    edit = {"file_path": "/srv/a.py", "old_string": "return 1", "new_string": "return 2"}
    out = render(call("Edit", edit), result(text))
    assert out.splitlines()[-1] == "    ⎿ The file /srv/a.py has been updated."
    assert "→def" not in out


def test_task_report_is_markdown_once_without_agent_id() -> None:
    """A Task's result is its report drawn as Markdown, once; the agentId trailer is not shown."""
    report = [
        {
            "type": "text",
            "text": "## Callers\n\nFound **3** call sites:\n\n- `billing/run.py`\n- `cli.py`",
        },
        {"type": "text", "text": "agentId: a7f3c2e1 (for resuming)"},
    ]
    out = render(call("Task", {"description": "Find callers", "prompt": "find"}), result(report))
    assert "• billing/run.py" in out
    assert "Found 3 call sites:" in out
    assert out.count("Callers") == 1
    assert "agentId" not in out
    assert "**" not in out


def test_task_report_already_drawn_by_the_sub_agent_is_not_repeated() -> None:
    """When the sub-agent's last reply was the report, the Task result does not draw it again."""
    report = "## Callers\n\n- `billing/run.py`\n- `cli.py`"
    last = {
        "type": "assistant",
        "message": {"id": "msg_sub", "content": [{"type": "text", "text": report}]},
        "parent_tool_use_id": "toolu_01C",
    }
    trailer = {"type": "text", "text": "agentId: a7f3c2e1"}
    out = render(
        call("Task", {"description": "Find callers"}),
        last,
        result([{"type": "text", "text": report}, trailer]),
    )
    assert out.count("• billing/run.py") == 1
    assert out.splitlines()[-2:] == ["    ⎿ Task  Find callers", "      (report above)"]


# -- who is speaking ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "label"),
    [
        ({"isSynthetic": True}, "hook feedback"),
        ({"isMeta": True}, "meta"),
        ({"isCompactSummary": True}, "compaction summary"),
    ],
)
def test_text_the_human_did_not_type_is_not_a_prompt(extra: dict[str, Any], label: str) -> None:
    """Hook feedback, meta text and compaction summaries are labelled, not drawn as ❯ prompts."""
    out = render(user("Stop hook: run the linter before finishing", **extra))
    assert "❯" not in out
    assert out.splitlines()[:2] == [f"◇ {label}", "  Stop hook: run the linter before finishing"]


def test_system_reminders_in_a_prompt_are_not_the_users_words() -> None:
    """A <system-reminder> block in a prompt is left out; one alone is a dim labelled line."""
    blocks = [
        {"type": "text", "text": "<system-reminder>The todo list is empty.</system-reminder>"},
        {"type": "text", "text": "now add the retry test"},
    ]
    out = render(user(blocks), user(blocks[:1]))
    assert out.splitlines()[1:] == ["❯ now add the retry test", "◇ system reminder"]
    assert "todo list" not in out


def test_slash_commands_show_as_commands_and_caveats_are_hidden() -> None:
    """A <command-name> prompt is the slash command; a local-command caveat draws nothing;
    the command's output sits right under it, with no blank line between."""
    command = (
        "<command-name>/review</command-name>\n<command-message>review</command-message>\n"
        "<command-args>PR 12</command-args>"
    )
    caveat = (
        "<local-command-caveat>Caveat: the messages below were generated by the user"
        "</local-command-caveat>"
    )
    out = render(
        user(command),
        user(caveat),
        user("<local-command-stdout>Cost: $0.12</local-command-stdout>"),
    )
    assert out.splitlines() == ["", "❯ /review PR 12", "    ⎿ Cost: $0.12"]


def test_bash_mode_and_interruptions_are_not_prompts() -> None:
    """Claude Code's `!` bash mode: the command is the user's (❯ ! cmd), its output sits under
    it, dim (stderr red), not a prompt; "[Request interrupted by user]" is a note, not words
    the human typed."""
    out = render(
        user("<bash-input>git status</bash-input>"),
        user("<bash-stdout>On branch main</bash-stdout><bash-stderr>warning: x</bash-stderr>"),
        user([{"type": "text", "text": "[Request interrupted by user]"}]),
        user("next please"),
    )
    assert out.splitlines() == [
        "",
        "❯ ! git status",
        "    ⎿ On branch main",
        "      warning: x",
        "⏹ interrupted by the user",
        "",
        "❯ next please",
    ]
    coloured = render(
        user("<bash-stdout></bash-stdout><bash-stderr>fatal</bash-stderr>"), color=True
    )
    assert "\x1b[31mfatal" in coloured
    assert "❯" not in coloured


def test_api_error_reply_is_an_error() -> None:
    """An assistant message from the <synthetic> model with error set is drawn as an error."""
    obj = {
        "type": "assistant",
        "message": {
            "id": "msg_synth",
            "model": "<synthetic>",
            "content": [{"type": "text", "text": 'API Error: 529 {"type":"overloaded_error"}'}],
        },
        "error": "unknown",
        "parent_tool_use_id": None,
    }
    out = render(obj)
    assert out.startswith("✗ API error: 529")
    assert "Claude" not in out
    assert "\x1b[1;31m✗ API error" in render(obj, color=True)


def test_sub_agents_are_labelled_apart_and_nested() -> None:
    """Parallel sub-agents are labelled by task; a nested one is one gutter deeper; model once."""

    def agent_reply(text: str, msg_id: str, parent: str) -> dict[str, Any]:
        message = {
            "id": msg_id,
            "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": text}],
        }
        return {"type": "assistant", "message": message, "parent_tool_use_id": parent}

    out = render(
        call("Task", {"description": "Find callers", "subagent_type": "Explore"}, "toolu_A"),
        call("Task", {"description": "Read the docs", "subagent_type": "Explore"}, "toolu_B"),
        agent_reply("Searching.", "msg_a1", "toolu_A"),
        agent_reply("Reading.", "msg_b1", "toolu_B"),
        agent_reply("Found two.", "msg_a2", "toolu_A"),
        call(
            "Task",
            {"description": "Check tests"},
            "toolu_C",
            parent_tool_use_id="toolu_A",
            msg_id="msg_a3",
        ),
        agent_reply("Tests pass.", "msg_c1", "toolu_C"),
    )
    lines = out.splitlines()
    assert "  │ ● agent · Find callers · claude-haiku-4-5" in lines
    assert "  │ ● agent · Read the docs · claude-haiku-4-5" in lines
    assert "  │ ● agent · Find callers" in lines  # its second reply: the model is not repeated
    assert "  │   │ ● agent · Check tests · claude-haiku-4-5" in lines
    assert "  │   │   Tests pass." in lines
    coloured = render(
        call("Task", {"description": "a"}, "toolu_A"),
        call("Task", {"description": "b"}, "toolu_B"),
        agent_reply("x", "m1", "toolu_A"),
        agent_reply("y", "m2", "toolu_B"),
        color=True,
    )
    gutters = re.findall(r"(\x1b\[[0-9;]*m)  │ ", coloured)
    assert len(set(gutters)) == 2


def test_interleaved_sub_agents_are_labelled_at_each_switch() -> None:
    """When sub-agents take turns within one reply, each turn is labelled with its task."""

    def agent(block: dict[str, Any], msg_id: str, parent: str) -> dict[str, Any]:
        message = {"id": msg_id, "model": "claude-sonnet-4-5", "content": [block]}
        return {"type": "assistant", "message": message, "parent_tool_use_id": parent}

    grep = {"type": "tool_use", "id": "toolu_G", "name": "Grep", "input": {"pattern": "charge("}}
    out = render(
        call("Task", {"description": "Find callers"}, "toolu_A"),
        call("Task", {"description": "Read the docs"}, "toolu_B"),
        agent({"type": "text", "text": "Searching."}, "msg_a", "toolu_A"),
        agent({"type": "text", "text": "Reading."}, "msg_b", "toolu_B"),
        agent(grep, "msg_a", "toolu_A"),
    )
    assert out.splitlines()[-2:] == ["  │ ● agent · Find callers", "  │   → Grep  charge("]


@WIDTHS
def test_user_prompts_are_never_cut(width: int) -> None:
    """A long prompt (one 900-character line and 60 lines) is shown whole, wrapped."""
    long_line = "Please migrate the billing job to the queue. " * 20
    text = long_line + "\n" + "\n".join(f"step {n}" for n in range(60))
    out = render(user(text), width=width)
    flat = out.replace("\n  ", " ").replace(" ", "")
    assert long_line.replace(" ", "") in flat
    assert "step59" in flat
    assert "more line" not in out


# -- footer and system lines ---------------------------------------------------------------------


def test_footer_uses_model_usage_cost_usd_terminal_reason_and_denials(width: int) -> None:
    """modelUsage sums all models (and lists each), cost_usd stands in, denials are listed."""
    obj = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "duration_ms": 61_000,
        "num_turns": 1,
        "cost_usd": 0.21,
        "terminal_reason": "max_turns",
        "usage": {"input_tokens": 1, "output_tokens": 1},
        "modelUsage": {
            "claude-sonnet-4-5": {"inputTokens": 1200, "outputTokens": 3400, "costUSD": 0.18},
            "claude-haiku-4-5": {"inputTokens": 800, "outputTokens": 600, "costUSD": 0.03},
        },
        "permission_denials": [
            {
                "tool_name": "Bash",
                "tool_use_id": "toolu_d",
                "tool_input": {"command": "rm -rf dist"},
            }
        ],
    }
    lines = render(obj, width=width).splitlines()[1:]
    totals = [
        "■ success · 1 min 1 s · 1 turn · $0.210 · tokens 2,000 in / 4,000 out"
        " · ended: max turns · 1 permission denial"
    ]
    if width == 60:  # wrapped, and continued indented
        totals = [
            "■ success · 1 min 1 s · 1 turn · $0.210 · tokens 2,000 in",
            "  / 4,000 out · ended: max turns · 1 permission denial",
        ]
    assert lines == [
        *totals,
        "  claude-sonnet-4-5 · $0.180 · tokens 1,200 in / 3,400 out",
        "  claude-haiku-4-5 · $0.030 · tokens 800 in / 600 out",
        "  ✗ denied Bash  rm -rf dist",
    ]


def test_is_error_with_subtype_success_is_an_error() -> None:
    """is_error: true with subtype success is drawn as an error, in red."""
    obj = {"type": "result", "subtype": "success", "is_error": True, "result": "Prompt is too long"}
    out = render(obj)
    assert "■ error (reported as success)" in out
    assert "  ✗ Prompt is too long" in out
    assert "\x1b[1;31m■" in render(obj, color=True)


def test_failing_hook_stands_out_passing_hook_is_one_dim_line() -> None:
    """A failing hook_response is a red line with its stderr; a passing one one dim line."""
    failing = {
        "type": "system",
        "subtype": "hook_response",
        "hook_name": "PreToolUse:Bash",
        "hook_event": "PreToolUse",
        "exit_code": 2,
        "outcome": "error",
        "stdout": "",
        "stderr": "Blocked: force pushes are not allowed",
    }
    passing = {
        **failing,
        "hook_name": "SessionStart:startup",
        "exit_code": 0,
        "outcome": "success",
        "stderr": "",
    }
    started = {"type": "system", "subtype": "hook_started", "hook_name": "SessionStart:startup"}
    lines = render(failing, started, passing).splitlines()
    assert lines == [
        "✗ hook PreToolUse:Bash failed (exit 2)",
        "    Blocked: force pushes are not allowed",
        "· hook SessionStart:startup success",
    ]
    assert "\x1b[1;31m✗ hook" in render(failing, color=True)


def test_live_counters_are_folded() -> None:
    """thinking_tokens and status requesting draw one line per run, not one per event."""
    events: list[dict[str, Any]] = [
        {"type": "system", "subtype": "status", "status": "requesting"},
        *(
            {"type": "system", "subtype": "thinking_tokens", "estimated_tokens": n}
            for n in (50, 400, 900)
        ),
        {"type": "system", "subtype": "status", "status": "requesting"},
        {"type": "system", "subtype": "status", "status": "requesting"},
        reply({"type": "text", "text": "Done."}),
        {"type": "system", "subtype": "status", "status": "requesting"},
    ]
    lines = render(*events).splitlines()
    assert lines == [
        "· requesting…",
        "✻ thinking… (~50 tokens so far)",
        "· requesting…",
        "● Claude · claude-sonnet-4-5",
        "  Done.",
        "· requesting…",
    ]


def test_rate_limit_allowed_is_not_a_warning() -> None:
    """status allowed is a dim note, not ⚠; rejected says the limit was reached, in red."""
    allowed = {
        "type": "rate_limit_event",
        "rate_limit_info": {"status": "allowed", "rateLimitType": "five_hour"},
    }
    assert render(allowed) == "· rate limit ok\n"
    rejected = {
        "type": "rate_limit_event",
        "rate_limit_info": {"status": "rejected", "rateLimitType": "seven_day"},
    }
    assert render(rejected) == "✗ rate limited: weekly limit reached\n"


def test_rate_limit_warning_reads_as_words_with_the_day_of_a_later_reset(width: int) -> None:
    """allowed_warning: the window and the share used in words; a reset on another day
    names the day (a weekly limit's reset is not this afternoon); one today, the time."""
    now = time.mktime((2026, 4, 2, 9, 0, 0, 0, 0, -1))  # Thursday 2 April, 09:00 local
    later = time.mktime((2026, 4, 6, 14, 30, 0, 0, 0, -1))
    assert clock_time(later, now) == "Mon 6 Apr 14:30"
    assert clock_time(now + 3600, now) == "10:00"
    info = {
        "status": "allowed_warning",
        "rateLimitType": "seven_day_opus",
        "utilization": 0.91,
        "resetsAt": time.time() + 8 * 86400,
    }
    out = render({"type": "rate_limit_event", "rate_limit_info": info})
    words = "⚠ close to the rate limit · 91% of the weekly Opus limit used · resets "
    assert " ".join(out.split()).startswith(words)
    assert re.search(r"resets [A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} \d\d:\d\d\n$", out)
    assert max(len(line) for line in out.splitlines()) <= width


@pytest.mark.parametrize(
    ("key", "meta"),
    [
        ("compact_metadata", {"trigger": "auto", "pre_tokens": 171000, "post_tokens": 23000}),
        ("compactMetadata", {"trigger": "auto", "preTokens": 171000, "postTokens": 23000}),
    ],
)
def test_compaction_shows_tokens_before_and_after(key: str, meta: dict[str, Any]) -> None:
    """compact_boundary shows pre → post tokens in both the snake_case and camelCase forms."""
    obj = {"type": "system", "subtype": "compact_boundary", key: meta}
    assert "context compacted · auto · 171,000 → 23,000 tokens" in render(obj)


def test_v2_era_types_get_a_real_line(width: int) -> None:
    """env_manager_log, post_turn_summary, informational, conversation_reset: a line each."""
    out = render(
        {
            "type": "env_manager_log",
            "data": {"content": "Cloning acme/billing\nInstalling deps\n\n"},
        },
        {
            "type": "system",
            "subtype": "post_turn_summary",
            "status_category": "blocked",
            "status_detail": "Waiting for approval",
            "needs_action": True,
        },
        {"type": "system", "subtype": "informational", "content": "Set model to claude-opus-4-1"},
        {"type": "system", "subtype": "session_state_changed", "state": "requires_action"},
        {"type": "conversation_reset", "new_conversation_id": "conv_02"},
        width=width,
    )
    lines = out.splitlines()
    summary = ["◆ turn summary · blocked · Waiting for approval · needs your action"]
    if width == 60:
        summary = ["◆ turn summary · blocked · Waiting for approval · needs", "  your action"]
    assert lines[:-1] == [
        "· environment: Installing deps",
        *summary,
        "· Set model to claude-opus-4-1",
        "· session requires action",
    ]
    assert "conversation reset · new conversation conv_02" in lines[-1]
    assert len(lines[-1]) == width
    assert "{" not in out


def test_goal_auto_compaction_and_hand_off_read_as_words(width: int) -> None:
    """active_goal, autocompact_state and turn_handoff_available: a line each, fields as
    words, no JSON object."""
    out = render(
        {"type": "active_goal", "goal": {"text": "Ship the queue migration"}, "uuid": "u1"},
        {"type": "system", "subtype": "autocompact_state", "enabled": True, "threshold": 0.8},
        {"type": "turn_handoff_available", "session_id": "s", "target": "web"},
    )
    assert out.splitlines() == [
        "◎ goal: Ship the queue migration",
        "· auto-compaction · enabled: true · threshold: 0.8",
        "· turn hand-off available · target: web",
    ]


# -- cosmetics ------------------------------------------------------------------------------------


def test_counts_are_singular_when_one() -> None:
    """One of a thing reads '1 line', '1 tool', '1 more line', never '1 lines'."""
    init = {"type": "system", "subtype": "init", "tools": ["Bash"]}
    out = render(
        init,
        call("Write", {"file_path": "/a", "content": "x"}),
        call("Bash", {"command": "seq 7"}, "toolu_S"),
        result("\n".join(str(n) for n in range(7)), "toolu_S"),
    )
    assert "1 tool" in out
    assert "1 tools" not in out
    assert "/a  1 line" in out
    assert "… 1 more line" in out
    assert "1 more lines" not in out


@WIDTHS
def test_wrapped_status_lines_continue_indented(width: int) -> None:
    """A session start or footer line that wraps continues indented, not at column 0."""
    init = {
        "type": "system",
        "subtype": "init",
        "model": "claude-sonnet-4-5",
        "cwd": "/home/dev/work/monorepo/services/billing",
        "permissionMode": "acceptEdits",
        "tools": ["Bash"] * 30,
        "mcp_servers": [
            {"name": "github", "status": "connected"},
            {"name": "sentry", "status": "failed"},
        ],
        "claude_code_version": "2.1.201",
    }
    cancel = {"type": "control_cancel_request", "request_id": "req_01Ask"}
    out = render(init, ask("Bash", {"command": "ls"}), cancel, width=width)
    lines = out.splitlines()
    banner = next(n for n, line in enumerate(lines) if line.startswith("┏"))
    withdrawn = next(n for n, line in enumerate(lines) if "withdrawn" in line)
    assert lines[0].startswith("▶ session start")
    assert lines[withdrawn].startswith("⇄ permission prompt req_01Ask (Bash) withdrawn")
    continued = lines[1:banner] + lines[withdrawn + 1 :]
    assert all(line.startswith("  ") for line in continued)
    assert len(continued) == (1 if width == 120 else 4)


def test_error_mark_does_not_shift_the_first_line() -> None:
    """The ✗ of a failed result takes the place of ⎿: every output line starts in one column."""
    out = render(
        call("Bash", {"command": "make"}), result("make: *** [all] Error 2\nstop", is_error=True)
    )
    assert out.splitlines()[-2:] == ["    ✗ make: *** [all] Error 2", "      stop"]


# -- live lines on a terminal ----------------------------------------------------------------


def screen(output: str) -> list[str]:
    """The rows a terminal shows for ``output``, knowing only newline and CR + erase line."""
    rows = [""]
    for index, part in enumerate(output.split("\r\x1b[2K")):
        if index:
            rows[-1] = ""
        pieces = part.split("\n")
        rows[-1] += pieces[0]
        rows.extend(pieces[1:])
    return rows[:-1] if rows[-1] == "" else rows


def render_live(*objs: dict[str, Any], width: int | None = None) -> str:
    width = width or _drawn_at[0]
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=False, width=width, live=True)
    for obj in objs:
        renderer.message(Message(json.dumps(obj), obj, 0.0))
    renderer.close()
    return out.getvalue()


def progress(seconds: float, call_id: str = "toolu_01C") -> dict[str, Any]:
    return {
        "type": "tool_progress",
        "tool_use_id": call_id,
        "tool_name": "Bash",
        "elapsed_time_seconds": seconds,
    }


@WIDTHS
def test_live_progress_is_redrawn_and_gone_when_the_result_comes(width: int) -> None:
    """On a terminal, progress updates one line in place; the result replaces it (none stale)."""
    out = render_live(
        call("Bash", {"command": "npm test"}),
        progress(3),
        progress(4),
        {"type": "stream_event", "event": {"type": "ping"}},
        progress(12),
        result("12 passing"),
        width=width,
    )
    assert screen(out) == ["● Claude · claude-sonnet-4-5", "  → Bash  npm test", "    ⎿ 12 passing"]
    assert out.count("still running") == 3


def test_live_thinking_counter_updates_one_line() -> None:
    """thinking_tokens redraws one line with the latest count, which stays when prose follows."""
    out = render_live(
        *(
            {"type": "system", "subtype": "thinking_tokens", "estimated_tokens": n}
            for n in (10, 300, 1200)
        ),
        {"type": "system", "subtype": "status", "status": "requesting"},
        reply({"type": "text", "text": "Here is the fix."}),
    )
    assert screen(out) == [
        "✻ thinking… (~1,200 tokens so far)",
        "● Claude · claude-sonnet-4-5",
        "  Here is the fix.",
    ]


def test_a_live_line_of_another_call_stays() -> None:
    """A progress line is kept (ended with a newline) when something else is drawn after it."""
    out = render_live(progress(31, "toolu_X"), user("and also update the docs"))
    assert screen(out) == ["    ⋯ Bash still running · 31.0 s", "", "❯ and also update the docs"]
