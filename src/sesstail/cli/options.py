"""The options commands share, declared once, and the groups they come in.

A command takes a whole group as one parameter (``conn: Connection``, ``log: Logging``) and
``@grouped`` spreads the group's fields into the command's signature for typer, so each
option's flags, help and environment variable are written here only.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import typer


class OutputFormat(enum.StrEnum):
    pretty = "pretty"
    jsonl = "jsonl"
    json = "json"  # kubectl's and stern's word for it: the same one JSON line per message


class TimestampMode(enum.StrEnum):
    short = "short"  # HH:MM:SS
    full = "full"  # RFC 3339, with the date and the zone


class ApiChoice(enum.StrEnum):
    auto = "auto"
    v1 = "v1"
    v2 = "v2"


class ColorChoice(enum.StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


DEFAULT_BASE_URL = "https://api.anthropic.com"  # protocol.DEFAULT_BASE_URL, without its imports


# TAB completion (sesstail.completion): from a cache `ls` writes, never the network.
def complete_session(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    from sesstail.completion import remote_sessions

    return remote_sessions(ctx.params, incomplete)


def complete_target(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """A remote session id, or a local one (watch follows both)."""
    from sesstail.completion import local_sessions, remote_sessions

    return remote_sessions(ctx.params, incomplete) + local_sessions(incomplete)


def complete_type(incomplete: str) -> list[str]:
    from sesstail.completion import types

    return types(incomplete)


SessionArg = Annotated[
    str,
    typer.Argument(
        metavar="SESSION",
        help="The session id (session_…) or its claude.ai/code address.",
        autocompletion=complete_session,
    ),
]
BaseUrlOpt = Annotated[
    str,
    typer.Option(
        "--base-url",
        envvar="SESSTAIL_BASE_URL",
        metavar="URL",
        help="API base URL (https→wss, http→ws).",
        show_default=True,
    ),
]
OrgOpt = Annotated[
    str | None,
    typer.Option(
        "--org",
        envvar="SESSTAIL_ORG",
        metavar="UUID",
        help="Organization UUID. Default: CLAUDE_CODE_ORGANIZATION_UUID, ~/.claude.json, "
        "then the profile endpoint.",
        show_default=False,
    ),
]
ApiOpt = Annotated[
    ApiChoice,
    typer.Option(
        "--api",
        envvar="SESSTAIL_API",
        metavar="auto|v2|v1",
        case_sensitive=False,
        help="API generation: v2 (event stream), v1 (WebSocket), or auto: v2, else v1.",
    ),
]
FORMAT_ENV = "SESSTAIL_FORMAT"  # read by common.choose_format: --json must beat it
FormatOpt = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "--output",
        "-o",
        metavar="pretty|jsonl|json",
        help="Output format (json is jsonl). Default: $SESSTAIL_FORMAT, else pretty on a "
        "terminal (or with --color always) and jsonl otherwise.",
        show_default=False,
        case_sensitive=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Short for --format jsonl.")]
TypeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--type",
        "-t",
        metavar="TYPE",
        help="Keep only messages of this type or type/subtype (repeatable).",
        show_default=False,
        autocompletion=complete_type,
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-type",
        "-x",
        metavar="TYPE",
        help="Drop messages of this type or type/subtype (repeatable).",
        show_default=False,
        autocompletion=complete_type,
    ),
]
UntilOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--until",
        metavar="TYPE",
        help="Exit 0 after the first message of this type or type/subtype (e.g. result); "
        "repeated: of any of them.",
        show_default=False,
        autocompletion=complete_type,
    ),
]
ExitStatusOpt = Annotated[
    bool,
    typer.Option(
        "--exit-status",
        help="Exit 9 when the result that ends the wait is an error (is_error, error_*).",
    ),
]
ToolOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tool",
        metavar="NAME",
        help="Keep only calls of this tool and their results, e.g. Bash (repeatable).",
        show_default=False,
    ),
]
GrepOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--grep",
        "-e",
        metavar="REGEX",
        help="Keep only messages whose text matches REGEX (RE2 syntax, linear time; "
        "repeatable: any of them).",
        show_default=False,
    ),
]
GrepOutOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-grep",
        metavar="REGEX",
        help="Drop messages whose text matches REGEX (stern's --exclude; repeatable).",
        show_default=False,
    ),
]
KeepaliveOpt = Annotated[
    bool, typer.Option("--keepalive", help="Keep keep_alive frames in the output.")
]
TimestampsOpt = Annotated[
    TimestampMode | None,
    typer.Option(
        "--timestamps",
        metavar="short|full",
        case_sensitive=False,
        help="Each message's time (its own, else when it arrived): short HH:MM:SS (also "
        "plain --timestamps), or full RFC 3339 with date and zone (pretty output).",
        show_default=False,
    ),
]
ColorOpt = Annotated[
    ColorChoice,
    typer.Option(
        "--color",
        envvar="SESSTAIL_COLOR",
        metavar="auto|always|never",
        case_sensitive=False,
        help="Colour: auto honours NO_COLOR, FORCE_COLOR and the terminal; always also draws "
        "pretty output into a pipe.",
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries",
        min=0,
        metavar="N",
        help="Consecutive failed connection attempts before giving up.",
    ),
]
RetryDelayOpt = Annotated[
    float,
    typer.Option(
        "--retry-delay",
        min=0.0,
        metavar="SECONDS",
        help="First reconnect delay in seconds; grows exponentially with jitter, capped at 30 s.",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Connection events and skipped frames on stderr; a local transcript's "
        "bookkeeping lines (snapshots, progress, …) too.",
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No status lines on stderr; errors only.")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Tracebacks on errors.")]
DebugLoudOpt = Annotated[bool, typer.Option("--debug", help="Tracebacks on errors (implies -v).")]
NotifyOpt = Annotated[
    bool,
    typer.Option(
        "--notify",
        help="A desktop notification when a session needs you or a turn ends "
        "(notify-send, osascript, the terminal's, else the bell).",
    ),
]
PingIntervalOpt = Annotated[float, typer.Option("--ping-interval", min=0.01, hidden=True)]
PingTimeoutOpt = Annotated[float, typer.Option("--ping-timeout", min=0.01, hidden=True)]
OpenTimeoutOpt = Annotated[float, typer.Option("--open-timeout", min=0.01, hidden=True)]
MaxSizeOpt = Annotated[int, typer.Option("--max-size", min=1024, hidden=True)]


# -- option groups -------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """Where a session lives and how to reach it: every command that talks to the service."""

    base_url: BaseUrlOpt = DEFAULT_BASE_URL
    org: OrgOpt = None
    api: ApiOpt = ApiChoice.auto
    open_timeout: OpenTimeoutOpt = 10.0


@dataclass(frozen=True)
class Logging:
    """How much a command says on stderr."""

    verbose: VerboseOpt = False
    quiet: QuietOpt = False
    debug: DebugLoudOpt = False

    @property
    def loud(self) -> bool:
        """``-v``, or ``--debug`` (which implies it)."""
        return self.verbose or self.debug


@dataclass(frozen=True)
class Display:
    """How the commands that show messages draw them."""

    fmt: FormatOpt = None
    json_flag: JsonOpt = False
    color: ColorOpt = ColorChoice.auto
    timestamps: TimestampsOpt = None


@dataclass(frozen=True)
class Filters:
    """Which messages the commands that show them keep."""

    types: TypeOpt = None
    excludes: ExcludeOpt = None
    tools: ToolOpt = None
    grep: GrepOpt = None
    grep_out: GrepOutOpt = None


GROUPS: tuple[type[Any], ...] = (Connection, Logging, Display, Filters)

F = TypeVar("F", bound=Callable[..., Any])


def grouped(func: F) -> F:
    """Spread each parameter annotated with an option group into the group's options.

    typer reads a command's options from ``inspect.signature`` and ``get_type_hints``; the
    wrapper offers both with the group's fields in place of the group, and rebuilds the group
    before calling ``func``.
    """
    hints = typing.get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    params: list[inspect.Parameter] = []
    annotations: dict[str, Any] = {}
    spread: dict[str, tuple[type[Any], list[str]]] = {}
    for param in signature.parameters.values():
        kind = hints.get(param.name)
        if kind in GROUPS:
            field_hints = typing.get_type_hints(kind, include_extras=True)
            names = []
            for field in dataclasses.fields(kind):
                if field.name in signature.parameters:
                    raise TypeError(f"{func.__name__}: {field.name} is in {kind.__name__}")
                names.append(field.name)
                params.append(
                    inspect.Parameter(
                        field.name,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=field.default,
                        annotation=field_hints[field.name],
                    )
                )
                annotations[field.name] = field_hints[field.name]
            spread[param.name] = (kind, names)
        else:
            params.append(param.replace(annotation=hints.get(param.name, param.annotation)))
            if param.name in hints:
                annotations[param.name] = hints[param.name]
    # All keyword-only, in the order written: typer passes everything by name.
    params = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        else p
        for p in params
    ]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        for name, (kind, names) in spread.items():
            kwargs[name] = kind(**{n: kwargs.pop(n) for n in names})
        return func(**kwargs)

    del wrapper.__wrapped__  # typer must see the spread signature, not func's
    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**annotations, "return": None}
    return typing.cast(F, wrapper)
