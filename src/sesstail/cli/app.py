"""The typer app, its entry point, and ``run``: the one place errors become exit codes.

Every command module registers itself on ``app``; none imports another command module.
Heavy modules (websockets, rich, the renderers) are imported inside the commands that need
them, so ``--help``, ``--version`` and every TAB completion stay fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any, NoReturn, TypeVar

import typer
import typer.core
from typer._types import TyperChoice

from sesstail import __version__
from sesstail.errors import ExitCode, SesstailError

OPTIONAL_VALUES = {"--timestamps": ("short", ("short", "full"))}


def optional_values(args: list[str]) -> list[str]:
    """``--timestamps`` alone means ``--timestamps short``; typer has no option whose value
    may be left out, so a bare one gets its value here (before ``--``, and only where the
    next word is not one of its values)."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        spec = OPTIONAL_VALUES.get(arg)
        if spec is not None:
            implied, values = spec
            following = args[i + 1].lower() if i + 1 < len(args) else None
            if following not in values:
                out.append(f"{arg}={implied}")
                continue
        out.append(arg)
    return out


class _Group(typer.core.TyperGroup):
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        return name, command, optional_values(rest)


_OUTPUT_ALIAS = "output_alias"


class _Choice(TyperChoice[Any]):
    """typer's choice, answering a missing or wrong value with the choices as they are spelled
    (``acceptEdits``, not the casefolded ``acceptedits`` it matches against) and the nearest
    one, as the type filters do (``'reslt' is not one of …; did you mean 'result'?``)."""

    def _spelled(self) -> list[str]:
        return [str(getattr(choice, "value", choice)) for choice in self.choices]

    def get_missing_message(self, param: Any, ctx: Any) -> str:
        return "Choose from: " + ", ".join(self._spelled())  # typer's: one a line, casefolded

    def get_invalid_choice_message(self, value: Any, ctx: Any) -> str:
        import difflib

        spelled = self._spelled()
        text = f"{value!r} is not one of {', '.join(map(repr, spelled))}"
        folded = {s.casefold(): s for s in spelled}
        near = difflib.get_close_matches(str(value).casefold(), list(folded), n=1, cutoff=0.6)
        return text + (f"; did you mean {folded[near[0]]!r}?" if near else ".")


class _Command(typer.core.TyperCommand):
    """A command whose usage line reads as words (``SESSION``, not ``{SESSION}``), whose
    missing choice lists the choices on one line, and whose wrong choice names the nearest."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param.type) is TyperChoice:
                param.type = _Choice(param.type.choices, param.type.case_sensitive)
        self._json_name = self._add_output_alias()

    def _add_output_alias(self) -> str | None:
        """A command with ``--json`` and no ``--format`` (ls, wait, the control commands,
        top) also takes kubectl's and stern's ``-o json`` / ``--output json`` / ``--format
        json`` for it, as watch does."""
        flags = [getattr(param, "opts", []) for param in self.params]
        if any("--format" in opts or "-o" in opts for opts in flags):
            return None
        where = next((i for i, opts in enumerate(flags) if "--json" in opts), None)
        if where is None:
            return None
        alias = typer.core.TyperOption(
            param_decls=["--format", "--output", "-o", _OUTPUT_ALIAS],
            type=_Choice(["json", "jsonl"], case_sensitive=False),
            metavar="json",
            help="The same as --json (as kubectl's -o json).",
        )
        self.params.insert(where + 1, alias)
        return self.params[where].name

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        rest = list(super().parse_args(ctx, args))
        if self._json_name is not None and ctx.params.pop(_OUTPUT_ALIAS, None) is not None:
            ctx.params[self._json_name] = True
        return rest

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [
            piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
            for piece in super().collect_usage_pieces(ctx)
        ]


_F = TypeVar("_F", bound=Callable[..., Any])


class _Typer(typer.Typer):
    def command(self, *args: Any, **kwargs: Any) -> Callable[[_F], _F]:
        kwargs.setdefault("cls", _Command)
        decorate: Callable[[_F], _F] = super().command(*args, **kwargs)
        return decorate


_APP_SETTINGS: dict[str, Any] = {
    "cls": _Group,
    "name": "sesstail",
    "help": "Follow a remote Claude Code session live from a terminal.",
    "epilog": "\b\nEnvironment (an option beats its variable):\n"
    "  SESSTAIL_API       auto, v2 or v1 (--api)\n"
    "  SESSTAIL_ORG       organization UUID (--org)\n"
    "  SESSTAIL_FORMAT    pretty, jsonl or json (--format)\n"
    "  SESSTAIL_COLOR     auto, always or never (--color)\n"
    "  SESSTAIL_BASE_URL  API base URL (--base-url)\n"
    "  CLAUDE_CODE_OAUTH_TOKEN  a token; else Claude Code's own login",
    "no_args_is_help": True,
    "pretty_exceptions_enable": False,
    "pretty_exceptions_show_locals": False,
    "add_completion": True,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}
app = _Typer(**_APP_SETTINGS)


# -- the one place errors become exit codes ----------------------------------------------


def _say(text: str) -> None:
    # Errors can quote remote text (a close reason, an error answer): escaped like the rest,
    # on one line, tokens scrubbed (output.printable_line); on a terminal wrapped between
    # words like a status line.
    from sesstail.output import printable_line, wrap_for_terminal

    try:
        sys.stderr.write(wrap_for_terminal(printable_line(text), sys.stderr) + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


def _silence_stdout() -> None:
    # Further writes (and the interpreter's final flush) go nowhere instead of raising again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


_terminated = False  # SIGTERM arrived: the interrupt that follows is its


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (`timeout`, `kill`, a service manager) ends a command as Ctrl-C does —
    cleanups run, a pretty watch says its summary, asyncio cancels its main task — by
    raising SIGINT in its place; ``run`` then says "terminated" and exits 143."""
    global _terminated
    import signal

    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
        # Ctrl-C is ignored here (a job started with `&` by a script): SIGTERM must still
        # end the command, as it did before it was handled.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        return
    _terminated = True
    signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs: SIGTERM as Ctrl-C (the handler before it is put back after, so
    a test runner that runs commands in its own process keeps its own)."""
    import signal
    import threading

    previous: Any = None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        with contextlib.suppress(ValueError, OSError):
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        if previous is not None:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGTERM, previous)


def run(job: Callable[[], int], *, debug: bool = False) -> NoReturn:
    """Run a command body and exit with its code; every failure ends here."""
    try:
        with _sigterm_as_interrupt():
            code = int(job())
            if _terminated:  # a command that ends on Ctrl-C by itself (top's view)
                raise KeyboardInterrupt
    except SesstailError as exc:
        _say(f"sesstail: error: {exc.message}")
        if exc.hint:
            _say(f"sesstail: hint: {exc.hint}")
        if debug:
            _print_traceback()
        code = exc.exit_code
    except KeyboardInterrupt:
        if _terminated:
            _say("sesstail: terminated")
            code = ExitCode.TERMINATED
        else:
            _say("sesstail: interrupted")
            code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`sesstail … | head`): that is how a pipe says "enough".
        _silence_stdout()
        code = ExitCode.OK
    except Exception as exc:  # the last resort, by design
        _say(f"sesstail: unexpected error: {type(exc).__name__}: {exc}")
        if debug:
            _print_traceback()
        else:
            _say("sesstail: run again with --debug for a traceback")
        code = ExitCode.ERROR
    raise typer.Exit(code)


def _print_traceback() -> None:
    """The traceback, a line of ours per line; an exception's own text (which can quote a
    close reason or an error answer holding newlines) stays one line, as in every error."""
    import traceback

    exc = sys.exc_info()[1]
    if exc is None:
        return
    report = traceback.TracebackException.from_exception(exc)
    messages: set[str] = set()
    link: traceback.TracebackException | None = report
    while link is not None:
        messages.update(link.format_exception_only())
        link = link.__cause__ or link.__context__
    for chunk in report.format():
        if chunk in messages:
            _say(chunk.rstrip("\n"))
        else:
            for line in chunk.rstrip("\n").splitlines():
                _say(line)


# -- the app's own option ---------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sesstail {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Follow a remote Claude Code session live from a terminal."""


def _app_for(args: list[str]) -> typer.Typer:
    """The app to run ``args`` with: just the command named, when there is one.

    typer turns every registered command into a click command on each run, about 20 ms for
    all of them, which `sesstail interrupt` and every other short command would pay.
    Top-level help needs them all, and so does TAB on the command's own name; TAB after
    it needs only that command (each TAB is a whole start: 20 ms is a sixth of its budget).
    """
    if os.environ.get("_SESSTAIL_COMPLETE"):
        from sesstail.completion import completed_words

        shell = "bash" if "COMP_WORDS" in os.environ else "zsh"  # zsh and fish alike
        found = completed_words(shell, os.environ)
        args = found[0] if found is not None else []
    name = next((arg for arg in args if not arg.startswith("-")), None)
    for info in app.registered_commands:
        command_name = info.name or (info.callback.__name__ if info.callback else None)
        if name is not None and command_name == name:
            single = typer.Typer(**_APP_SETTINGS)
            single.registered_callback = app.registered_callback
            single.registered_commands = [info]
            return single
    return app


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    _app_for(args)(args=args, prog_name="sesstail")
