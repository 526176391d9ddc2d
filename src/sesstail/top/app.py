"""The Textual app of ``sesstail top``: one row per session, live, and keys to act on them.

The only module of sesstail that imports Textual. Every remote string reaches the screen as a
``rich.text.Text`` built from text the model already cleaned, never as markup.

Screens:

* the table — status (a session waiting for you stands out, and is listed first), title,
  model, how long the current turn has run, the last thing said or done, the last cost;
* the watch pane (Enter or ``w``): the session's stream drawn by the same renderer as
  ``sesstail watch``, its recent messages first; Escape comes back. It is a pane rather than a
  suspended terminal running ``watch``, so every other stream keeps being read meanwhile and
  coming back is instant;
* the prompt (``p``): the pending permission prompt whole — tool, every input field, the
  reason, the request id — scrollable, never cut; ``a`` allows, ``d`` denies (with a reason,
  or the default one), ``x`` denies and interrupts the turn, Escape leaves it open;
* ``i`` interrupts the turn, after a yes; ``f`` cycles the status filter; ``r`` refreshes.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, RichLog, Static

from sesstail.control import DEFAULT_DENY_MESSAGE, Decision, allow_response, deny_response
from sesstail.errors import SesstailError
from sesstail.notify import Notifier, choose_channel
from sesstail.protocol import Message
from sesstail.render.sanitize import clean
from sesstail.top.follow import Follower, Transport
from sesstail.top.model import (
    ARCHIVED,
    IDLE,
    REQUIRES_ACTION,
    RUNNING,
    STATUSES,
    Board,
    SessionState,
    format_cost,
    format_duration,
    one_line,
)
from sesstail.top.table import SessionTable

# The status filter cycles through these (None: everything but archived sessions).
FILTERS: tuple[frozenset[str] | None, ...] = (
    None,
    frozenset({REQUIRES_ACTION}),
    frozenset({RUNNING}),
    frozenset({IDLE}),
    frozenset({ARCHIVED}),
    frozenset(STATUSES),
)
COLUMNS = (("status", 11), ("title", 30), ("model", 18), ("turn", 8), ("last", 0), ("cost", 8))
_ACTIVITY_STYLES = {
    "thinking": "dim italic",
    "tool": "cyan",
    "tool_result": "dim",
    "tool_error": "red",
    "prompt": "bold dark_orange3",  # yellow text fades on a light background
    "user": "bold",
    "result": "green",
    "result_error": "bold red",
    "system": "dim",
    "other": "dim",
}


def filter_name(statuses: frozenset[str] | None) -> str:
    if statuses is None:
        return "all but archived"
    if statuses == frozenset(STATUSES):
        return "all"
    return ", ".join(s for s in STATUSES if s in statuses) or ", ".join(sorted(statuses))


def status_cell(state: SessionState) -> Text:
    status = state.status
    if status == REQUIRES_ACTION:
        return Text(" NEEDS YOU ", style="bold black on yellow")
    if status == RUNNING:
        return Text("running", style="bold green")
    if status in (IDLE, ARCHIVED):
        return Text(status, style="dim")
    return Text(one_line(status, 11), style="magenta")


def turn_cell(state: SessionState, now: float) -> Text:
    seconds = state.turn_seconds(now)
    if seconds is not None:
        return Text(format_duration(seconds), style="bold")
    if state.last_turn_seconds is not None:
        return Text(format_duration(state.last_turn_seconds), style="dim")
    return Text("")


def last_cell(state: SessionState) -> Text:
    if state.stream and state.stream not in ("connected", "ended"):
        text = Text("stream: " + state.stream, style="red")
    elif state.status == REQUIRES_ACTION and state.prompts:
        prompt = state.oldest_prompt() or {}
        request = prompt.get("request", {})
        tool = one_line(request.get("tool_name"), 60) or "a tool"
        more = f" (+{len(state.prompts) - 1} more)" if len(state.prompts) > 1 else ""
        text = Text(f"asks to use {tool}{more} · p to answer", style="bold dark_orange3")
    elif state.activity is not None:
        activity = state.activity
        text = Text(activity.text, style=_ACTIVITY_STYLES.get(activity.kind, ""))
    else:
        text = Text("")
    return text


def row_cells(state: SessionState, now: float) -> tuple[Text, ...]:
    title = Text(state.title or state.session_id)
    cost = Text(format_cost(state.cost_usd), style="red" if state.result_error else "")
    return (
        status_cell(state),
        title,
        Text(state.model, style="dim"),
        turn_cell(state, now),
        last_cell(state),
        cost,
    )


def prompt_text(prompt: dict[str, Any]) -> Text:
    """A permission prompt whole: the tool, every input field, the reason, the ids."""
    request = prompt.get("request")
    request = request if isinstance(request, dict) else {}
    text = Text()

    def field(name: str, value: Any) -> None:
        text.append(f"{name}: ", style="bold")
        if isinstance(value, str):
            body = clean(value)
        else:
            body = clean(json.dumps(value, indent=2, ensure_ascii=False))
        text.append(body + "\n")

    field("tool", request.get("tool_name", "?"))
    tool_input = request.get("input")
    if isinstance(tool_input, dict) and tool_input:
        text.append("input:\n", style="bold")
        for key, value in tool_input.items():
            text.append(f"  {clean(str(key))}: ", style="cyan")
            if isinstance(value, str) and "\n" in value:
                indented = "\n".join("    " + line for line in clean(value).split("\n"))
                text.append("\n" + indented + "\n")
            elif isinstance(value, str):
                text.append(clean(value) + "\n")
            else:
                text.append(clean(json.dumps(value, ensure_ascii=False)) + "\n")
    else:
        field("input", tool_input)
    for key in ("description", "decision_reason", "blocked_path", "permission_suggestions"):
        value = request.get(key)
        if value not in (None, "", []):
            field(key.replace("_", " "), value)
    for key in ("tool_use_id",):
        if isinstance(request.get(key), str):
            field(key.replace("_", " "), request[key])
    field("request id", prompt.get("request_id", "?"))
    text.rstrip()
    return text


# -- the prompt -------------------------------------------------------------------------------


class PromptScreen(ModalScreen[Decision | None]):
    """A pending permission prompt, whole; the answer is the screen's result."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    #dialog { width: 90%; height: 85%; border: heavy $warning; background: $surface; }
    #dialog-title { background: $warning; color: $text; text-style: bold; padding: 0 1; }
    #prompt-body { padding: 0 1; }
    #reason { display: none; }
    #reason.asking { display: block; }
    #prompt-keys { color: $text-muted; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "allow", "allow"),
        Binding("d", "deny", "deny"),
        Binding("x", "deny_interrupt", "deny + interrupt"),
        Binding("escape", "leave", "leave open"),
    ]

    def __init__(self, session: SessionState, prompt: dict[str, Any]) -> None:
        super().__init__()
        self.session_id = session.session_id
        self.session_label = session.label
        self.prompt = prompt
        self.request_id = str(prompt.get("request_id"))
        self.withdrawn = False  # the session withdrew it (or someone answered) meanwhile
        self._interrupt = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            title = Text("PERMISSION REQUESTED · ")
            title.append(self.session_label)
            yield Static(title, id="dialog-title")
            with VerticalScroll(id="prompt-scroll"):
                yield Static(prompt_text(self.prompt), id="prompt-body")
            yield Input(
                placeholder="why not? (Enter sends the denial; empty: the default message)",
                id="reason",
            )
            yield Static(
                "a allow · d deny · x deny and interrupt · Esc leave it open", id="prompt-keys"
            )

    def action_allow(self) -> None:
        self.dismiss(Decision(allow=True))

    def _ask_reason(self, interrupt: bool) -> None:
        self._interrupt = interrupt
        reason = self.query_one("#reason", Input)
        reason.add_class("asking")
        reason.focus()

    def action_deny(self) -> None:
        self._ask_reason(interrupt=False)

    def action_deny_interrupt(self) -> None:
        self._ask_reason(interrupt=True)

    @on(Input.Submitted, "#reason")
    def _reason_given(self, event: Input.Submitted) -> None:
        message = event.value.strip() or DEFAULT_DENY_MESSAGE
        self.dismiss(Decision(allow=False, message=message, interrupt=self._interrupt))

    def action_leave(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    #confirm { width: auto; height: auto; border: heavy $error; padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n", "answer(False)", "no"),
        Binding("escape", "answer(False)", "no"),
    ]

    def __init__(self, question: Text) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Static(self.question, id="confirm")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


# -- the watch pane ---------------------------------------------------------------------------


class WatchScreen(Screen[None]):
    """One session's stream, drawn by the ``watch`` renderer."""

    DEFAULT_CSS = """
    #watch-title { background: $primary; color: $text; text-style: bold; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "back"),
        Binding("w", "back", "back", show=False),
        Binding("p", "app.prompt", "answer prompt"),
        Binding("i", "app.interrupt", "interrupt"),
    ]

    def __init__(self, session_id: str, follower: Follower) -> None:
        super().__init__()
        self.session_id = session_id
        self.follower = follower
        self._sink = io.StringIO()
        self._renderer: Any = None
        self.drawn = 0

    def compose(self) -> ComposeResult:
        state = self.follower.board.session(self.session_id)
        title = Text("watching ")
        title.append(state.label)
        title.append(f"  ({self.session_id})", style="dim")
        yield Static(title, id="watch-title")
        yield RichLog(id="watch-log", wrap=False, markup=False, highlight=False, max_lines=5000)
        yield Footer()

    def on_mount(self) -> None:
        from sesstail.render.pretty import PrettyRenderer

        width = max(40, self.app.size.width - 2)
        self._renderer = PrettyRenderer(self._sink, color=True, width=width, bell=False)
        for msg in list(self.follower.board.session(self.session_id).recent):
            self._draw(msg)
        self.follower.message_listeners.append(self._stream_message)
        self.follower.pin(self.session_id)

    def on_unmount(self) -> None:
        if self._stream_message in self.follower.message_listeners:
            self.follower.message_listeners.remove(self._stream_message)
        self.follower.unpin(self.session_id)

    def _stream_message(self, session_id: str, msg: Message) -> None:
        if session_id == self.session_id:
            self._draw(msg)

    def _draw(self, msg: Message) -> None:
        if msg.obj.get("type") in ("keep_alive", "stream_event"):
            return
        self._renderer.message(msg)
        drawn = self._sink.getvalue()
        self._sink.seek(0)
        self._sink.truncate()
        if drawn:
            # The renderer escaped every remote control character: the only escapes left
            # are its own colours.
            self.query_one("#watch-log", RichLog).write(Text.from_ansi(drawn.rstrip("\n")))
            self.drawn += 1

    def action_back(self) -> None:
        self.app.pop_screen()


# -- the app ----------------------------------------------------------------------------------


class TopApp(App[int]):
    """``sesstail top``."""

    TITLE = "sesstail top"
    ENABLE_COMMAND_PALETTE = False  # every action has its key; one less thing to explain
    CSS = """
    #summary { height: 1; padding: 0 1; background: $boost; }
    #header { height: 1; }
    #sessions { height: 1fr; }
    #said { height: 1; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "watch", "watch"),
        Binding("p", "prompt", "answer prompt"),
        Binding("i", "interrupt", "interrupt"),
        Binding("f", "filter", "filter"),
        Binding("r", "refresh", "refresh"),
        Binding("q", "quit", "quit"),
        # As in any command: Ctrl-C ends it, with 130 (Textual only hints at Ctrl-Q).
        Binding("ctrl+c", "quit_interrupted", show=False, priority=True),
    ]

    def __init__(
        self,
        transport: Transport,
        *,
        statuses: frozenset[str] | None = None,
        refresh: float = 5.0,
        notify: bool = False,
        board: Board | None = None,
        tick: float = 0.25,
        follower_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.board = board or Board()
        self.transport = transport
        self.statuses = statuses
        self.refresh_every = refresh
        self.tick = tick
        self.want_notify = notify
        self.follower_options = follower_options or {}
        self.follower: Follower | None = None
        self.notifier: Notifier | None = None
        self._header_width = -1
        self.said: list[str] = []  # what the status line said, oldest first
        self.redraws = 0

    # -- building -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        yield Static(id="header")
        yield SessionTable(COLUMNS, id="sessions")
        yield Static(id="said")
        yield Footer()

    def on_mount(self) -> None:
        if self.want_notify:
            self.notifier = Notifier(choose_channel(terminal_write=self._terminal_write))
        self.follower = Follower(
            self.transport,
            self.board,
            refresh=self.refresh_every,
            notifier=self.notifier,
            **self.follower_options,
        )
        self.run_worker(self.follower.run(), name="follower", group="follower")
        self.set_interval(self.tick, self.redraw)
        self.redraw()

    def _terminal_write(self, data: str) -> None:
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(data)

    # -- drawing ------------------------------------------------------------------------

    def redraw(self) -> None:
        """Bring the rows up to date: only rows that changed are drawn again."""
        self.redraws += 1
        board = self.board
        now = time.time()
        try:
            table = self.query_one("#sessions", SessionTable)
        except NoMatches:
            return  # the view is being built, or torn down on the way out: nothing to draw on
        dirty = board.take_dirty()
        shown = board.ordered(self.statuses)
        if table.size.width != self._header_width:
            self._header_width = table.size.width
            self.query_one("#header", Static).update(table.header())
        if [s.session_id for s in shown] != table.keys:
            table.set_rows([(s.session_id, row_cells(s, now)) for s in shown])
        else:
            for state in shown:
                if state.session_id in dirty or state.turn_started is not None:
                    table.update_row(state.session_id, row_cells(state, now))
        if dirty or self.redraws % 4 == 1:
            self._draw_summary()
        screen = self.screen
        if (
            isinstance(screen, PromptScreen)
            and not screen.withdrawn
            and screen.request_id not in board.session(screen.session_id).prompts
        ):
            screen.withdrawn = True
            screen.dismiss(None)

    def _draw_summary(self) -> None:
        counts = self.board.counts()
        summary = Text("sesstail top", style="bold")
        summary.append(f" · {sum(counts.values())} sessions")
        if counts[REQUIRES_ACTION]:
            summary.append(f" · {counts[REQUIRES_ACTION]} need you", style="bold black on yellow")
        summary.append(f" · {counts[RUNNING]} running · {counts[IDLE]} idle")
        summary.append(f" · filter: {filter_name(self.statuses)}", style="dim")
        if self.board.list_error:
            summary.append(" · cannot list the sessions: ", style="bold red")
            summary.append(self.board.list_error, style="red")
        self.query_one("#summary", Static).update(summary)

    def say(self, text: str, error: bool = False) -> None:
        """One line at the bottom about what an action did (remote text already cleaned)."""
        self.said.append(text)
        self.query_one("#said", Static).update(Text(text, style="bold red" if error else "green"))

    # -- choosing a session -------------------------------------------------------------

    def selected_id(self) -> str | None:
        return self.query_one("#sessions", SessionTable).selected

    def select(self, session_id: str) -> None:
        """Put the cursor on a session's row (for tests and for coming back)."""
        self.redraw()
        self.query_one("#sessions", SessionTable).select(session_id)

    def _target(self) -> str | None:
        """The session an action is about: the watched one, else the row under the cursor."""
        if isinstance(self.screen, WatchScreen):
            return self.screen.session_id
        return self.selected_id()

    # -- actions ------------------------------------------------------------------------

    @on(SessionTable.Chosen, "#sessions")
    def _row_chosen(self, event: SessionTable.Chosen) -> None:
        self.action_watch()

    def action_watch(self) -> None:
        session_id = self.selected_id()
        if session_id is not None and self.follower is not None:
            self.push_screen(WatchScreen(session_id, self.follower))

    def action_filter(self) -> None:
        index = FILTERS.index(self.statuses) if self.statuses in FILTERS else -1
        self.statuses = FILTERS[(index + 1) % len(FILTERS)]
        self.redraw()
        self._draw_summary()

    def action_refresh(self) -> None:
        if self.follower is not None:
            self.follower.refresh_now()

    def action_prompt(self) -> None:
        session_id = self._target()
        if session_id is None:
            return
        state = self.board.session(session_id)
        prompt = state.oldest_prompt()
        if prompt is None:
            if state.status == REQUIRES_ACTION:
                self.say(
                    f"{state.label} waits for input, but its prompt was asked before top "
                    "was listening: answer it where it was asked",
                    error=True,
                )
            else:
                self.say(f"{state.label} has no pending permission prompt", error=True)
            return
        self._answer_prompt(session_id, prompt)

    @work(group="actions")
    async def _answer_prompt(self, session_id: str, prompt: dict[str, Any]) -> None:
        state = self.board.session(session_id)
        screen = PromptScreen(state, prompt)
        decision = await self.push_screen_wait(screen)
        request_id = str(prompt["request_id"])
        if screen.withdrawn or request_id not in state.prompts:
            self.say(
                f"prompt {one_line(request_id, 80)} was withdrawn (answered elsewhere, or the "
                "turn moved on)",
                error=True,
            )
            return
        if decision is None:
            self.say(f"left prompt {one_line(request_id, 80)} open")
            return
        if decision.allow:
            response = allow_response(request_id)
        else:
            response = deny_response(request_id, decision.message, interrupt=decision.interrupt)
        assert self.follower is not None
        verdict = "allowed" if decision.allow else "denied"
        try:
            await self.follower.answer(session_id, response)
        except SesstailError as exc:
            self.say(f"could not answer {state.label}: {one_line(exc.message, 200)}", True)
            return
        tool = one_line(prompt["request"].get("tool_name"), 60) or "the tool"
        self.say(f"{verdict} {tool} for {state.label} ({one_line(request_id, 80)})")

    def action_interrupt(self) -> None:
        session_id = self._target()
        if session_id is not None:
            self._interrupt(session_id)

    @work(group="actions")
    async def _interrupt(self, session_id: str) -> None:
        state = self.board.session(session_id)
        question = Text("Interrupt the current turn of ")
        question.append(state.label, style="bold")
        question.append("?  y / n")
        if not await self.push_screen_wait(ConfirmScreen(question)):
            return
        assert self.follower is not None
        try:
            await self.follower.interrupt(session_id)
        except SesstailError as exc:
            self.say(f"interrupt {state.label}: {one_line(exc.message, 200)}", error=True)
            return
        self.say(f"interrupted {state.label}")

    async def action_quit(self) -> None:
        await self._leave(0)

    async def action_quit_interrupted(self) -> None:
        await self._leave(130)

    async def _leave(self, code: int) -> None:
        # The refresh loop first, so that it cannot start a stream on the way out.
        self.workers.cancel_group(self, "follower")
        if self.follower is not None:
            await self.follower.aclose()
        if self.notifier is not None:
            self.notifier.close(0.5)
        self.exit(code, return_code=code)
