"""ls, context and mcp-status pictures: hostile numbers and narrow terminals (issues 8 and 9)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from rich.console import Console

from sesstail.render.control_view import context_chart, mcp_table
from sesstail.render.sessions_table import ago, render_sessions

NOW = 1_775_000_000.0
ID = "session_01HqR7vXw9LmN3pK2sT8uYzA"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def draw(picture: Any, width: int) -> str:
    out = io.StringIO()
    # A height too: without one, rich takes TERM=dumb (set by conftest) as 80 columns.
    console = Console(
        file=out, width=width, height=50, force_terminal=True, color_system="truecolor"
    )
    console.print(picture)
    return re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())


def sessions_out(sessions: list[dict[str, Any]], width: int, monkeypatch: Any) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("TERM", "xterm-256color")  # rich takes a dumb terminal as 80 columns
    out = Terminal()
    render_sessions(sessions, out, color=False, now=NOW)
    return out.getvalue()


@pytest.mark.parametrize(
    "when",
    [
        *(float("-inf"), float("inf"), float("nan"), 10**400, -(10**400), -1e308, 1e308),
        *("10000-01-01T00:00:00", "0001-01-01T00:00:00Z"),
    ],
)
def test_ago_reads_hostile_times_as_unknown(when: Any) -> None:
    """An update time of -Infinity, NaN, a 400-digit integer, ±1e308, year 10000 or year 1
    reads as '', no crash (nor a 300-digit number of years)."""
    assert ago(when, NOW) == ""


@pytest.mark.parametrize("width", [120, 60])
def test_ls_survives_hostile_times_and_keeps_id_and_status(width: int, monkeypatch: Any) -> None:
    """ls draws every row whole in id and status at 120 and 60 columns, whatever updated_at is."""
    sessions = [
        {
            "id": ID,
            "title": "Migrate the billing service to the new queue and remove the old cron jobs",
            "session_status": "requires_action",
            "session_context": {"model": "claude-sonnet-4-5-20250929"},
            "updated_at": float("-inf"),
        },
        {"id": ID[:-1] + "B", "title": "t", "session_status": "running", "updated_at": 10**400},
        {"id": ID[:-1] + "C", "session_status": "idle", "updated_at": NOW - 180},
    ]
    out = sessions_out(sessions, width, monkeypatch)
    lines = out.splitlines()
    assert lines[1].startswith(ID + " ")
    assert "requires_action" in lines[1]
    assert lines[2].startswith(ID[:-1] + "B ")
    assert "running" in lines[2]
    assert "3 min ago" in lines[3]
    assert max(len(line) for line in lines) <= width


@pytest.mark.parametrize("width", [120, 60])
def test_context_with_extreme_numbers_draws_sane_values(width: int) -> None:
    """context with 1e308 and 1e-308 values draws, with no inf/nan and no 309-digit number."""
    response = {
        "totalTokens": 1e308,
        "maxTokens": 1e-308,
        "categories": [
            {"name": "Messages", "tokens": 1e308, "color": "claude"},
            {"name": "System prompt", "tokens": 1e-308},
            {"name": "Free space", "tokens": float("inf")},
        ],
        "model": "claude-sonnet-4-5",
    }
    out = draw(context_chart(response), width)
    assert "1e+308 / 0 tokens" in out
    assert "inf" not in out
    assert "nan" not in out
    assert not re.search(r"\d{16}", out)
    assert max(len(line) for line in out.splitlines()) <= width, out


def test_context_bars_shrink_before_numbers_are_cut() -> None:
    """At 60 columns the bars get shorter; each category keeps its whole count and share."""
    response = {
        "totalTokens": 63_200,
        "maxTokens": 200_000,
        "categories": [
            {"name": "System prompt", "tokens": 3_100},
            {"name": "Messages", "tokens": 41_280},
            {"name": "Free space", "tokens": 136_800},
        ],
    }
    wide, narrow = draw(context_chart(response), 120), draw(context_chart(response), 60)
    for out in (wide, narrow):
        assert "63,200 / 200,000 tokens  (32%)" in out
        messages = next(line for line in out.splitlines() if line.startswith("Messages"))
        assert messages.rstrip().endswith("41,280  20.6%")
        assert max(len(line) for line in out.splitlines()) <= (120 if out is wide else 60)
    bar = next(line for line in narrow.splitlines() if line.startswith("Free space"))
    assert bar.count("█") < 40


@pytest.mark.parametrize("width", [120, 60])
def test_mcp_status_does_not_split_a_host_and_port(width: int) -> None:
    """A failed server's error keeps '127.0.0.1:5432' on one line at 120 and 60 columns."""
    github_info = {"name": "github-mcp-server", "version": "0.9.1"}
    response = {
        "mcpServers": [
            {"name": "github", "status": "connected", "serverInfo": github_info, "tools": [{}]},
            {"name": "sentry", "status": "needs-auth", "error": "OAuth sign-in required"},
            {
                "name": "postgres",
                "status": "failed",
                "error": "connect ECONNREFUSED 127.0.0.1:5432 after three attempts",
            },
        ]
    }
    out = draw(mcp_table(response), width)
    assert re.search(r"(^| )127\.0\.0\.1:5432( |$)", out, re.MULTILINE), out
    assert "1 of 3 connected" in out
    assert max(len(line) for line in out.splitlines()) <= width
    # The version says something whole, or gives way to the detail: never a cut fragment.
    assert ("github-mcp-server 0.9.1" in out) == (width == 120)
    assert "…" not in out
