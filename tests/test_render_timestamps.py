"""--timestamps short|full: each message's own time when it has a believable one (its
``timestamp`` or ``created_at``), else its receive time, in the local zone."""

from __future__ import annotations

import datetime
import io
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sesstail.output import StatusReporter
from sesstail.protocol import Message
from sesstail.render.pretty import PrettyRenderer
from sesstail.render.pretty.renderer import message_time, timestamp_mode

LAST_YEAR = datetime.datetime.now().year - 1
RECEIVED_AT = time.time()


@pytest.fixture(autouse=True)
def two_hours_east(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The local zone is UTC+2 (a POSIX TZ, no tz database needed)."""
    monkeypatch.setenv("TZ", "XYZ-2")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def prompt(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": text}, **extra}


def render(timestamps: bool | str | None, *objs: dict[str, Any]) -> list[str]:
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=False, width=100, timestamps=timestamps)
    for obj in objs:
        renderer.message(Message(json.dumps(obj), obj, RECEIVED_AT))
    renderer.close()
    return [line for line in out.getvalue().splitlines() if line]


REPLAYED = prompt("from the archive", timestamp=f"{LAST_YEAR}-03-14T13:09:26.535Z")


def test_full_mode_shows_a_replayed_message_with_last_years_date_and_the_zone() -> None:
    """A message from last year shows its own date and time, in local time (UTC+2)."""
    assert render("full", REPLAYED) == [f"{LAST_YEAR}-03-14T15:09:26+02:00 ❯ from the archive"]


def test_short_mode_shows_the_replayed_message_time_not_the_receive_time() -> None:
    """Short mode shows the message's own HH:MM:SS, local."""
    assert render("short", REPLAYED) == ["15:09:26 ❯ from the archive"]


def test_true_is_still_short() -> None:
    """timestamps=True, the old spelling, is the short mode."""
    assert render(True, REPLAYED) == render("short", REPLAYED)
    assert timestamp_mode(True) == "short"
    assert timestamp_mode(False) is None
    assert timestamp_mode(None) is None


def test_off_shows_no_time() -> None:
    assert render(None, REPLAYED) == ["❯ from the archive"]
    assert render(False, REPLAYED) == ["❯ from the archive"]


def test_created_at_and_an_offset_are_read_too() -> None:
    """created_at, with its own zone offset, is converted to the local zone."""
    obj = prompt("hi", created_at=f"{LAST_YEAR}-12-31T23:30:00-05:00")
    assert render("full", obj) == [f"{LAST_YEAR + 1}-01-01T06:30:00+02:00 ❯ hi"]


def test_a_message_without_a_time_shows_its_receive_time() -> None:
    local = datetime.datetime.fromtimestamp(int(RECEIVED_AT)).astimezone()
    assert render("full", prompt("now")) == [f"{local.isoformat(timespec='seconds')} ❯ now"]
    assert render("short", prompt("now")) == [f"{local:%H:%M:%S} ❯ now"]


@pytest.mark.parametrize(
    "junk",
    [
        "yesterday",
        "",
        "9" * 30,
        "x" * 10_000,
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1969-07-20T20:17:00Z",
        "2026-13-45T99:99:99Z",
        f"{LAST_YEAR + 5}-01-01T00:00:00Z",  # from the future: a wrong clock
        1_764_583_200,
        None,
        ["2026-01-01"],
        {"at": "2026-01-01"},
    ],
)
def test_junk_or_absurd_times_fall_back_to_the_receive_time(junk: Any) -> None:
    """An untrusted time that is not one, or not a believable one, never raises: the receive
    time is shown instead."""
    assert message_time({"timestamp": junk}, RECEIVED_AT) == RECEIVED_AT
    lines = render("full", prompt("x", timestamp=junk))
    local = datetime.datetime.fromtimestamp(int(RECEIVED_AT)).astimezone()
    assert lines == [f"{local.isoformat(timespec='seconds')} ❯ x"]


def test_a_junk_timestamp_leaves_created_at_to_be_read() -> None:
    obj = {"timestamp": "soon", "created_at": f"{LAST_YEAR}-06-01T00:00:00Z"}
    expected = datetime.datetime(LAST_YEAR, 6, 1, tzinfo=datetime.UTC).timestamp()
    assert message_time(obj, RECEIVED_AT) == expected


def test_continuation_lines_line_up_under_a_full_stamp() -> None:
    """The lines after the first are indented by the width of the stamp."""
    lines = render("full", prompt("one\ntwo", timestamp=f"{LAST_YEAR}-03-14T13:09:26Z"))
    assert lines[1] == " " * len(f"{LAST_YEAR}-03-14T15:09:26+02:00 ") + "  two"


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="timestamps"):
        PrettyRenderer(io.StringIO(), color=False, timestamps="long")


def test_status_lines_take_the_modes_too() -> None:
    """StatusReporter: "full" puts the date and the zone before the text, True/"short" HH:MM:SS."""
    for mode, pattern in (
        ("full", r"sesstail: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+02:00 up"),
        ("short", r"sesstail: \d\d:\d\d:\d\d up"),
        (True, r"sesstail: \d\d:\d\d:\d\d up"),
        (False, r"sesstail: up"),
    ):
        err = io.StringIO()
        StatusReporter(err, timestamps=mode).line("up")
        assert re.fullmatch(pattern, err.getvalue().rstrip("\n")), (mode, err.getvalue())
