"""What the commands that show a stream share: the output format, the filters, the
renderer, and following one stream to its end."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

from sesstail.cli.options import (
    FORMAT_ENV,
    ColorChoice,
    Display,
    Filters,
    OutputFormat,
    TimestampMode,
)
from sesstail.errors import UsageError

if TYPE_CHECKING:
    from sesstail.output import StatusReporter
    from sesstail.transport.stream import StreamSettings
    from sesstail.watch import Renderer, WatchOptions


def _choose_format(
    fmt: OutputFormat | None, json_flag: bool, out: TextIO, color: ColorChoice = ColorChoice.auto
) -> OutputFormat:
    """--json, else --format (-o, --output), else $SESSTAIL_FORMAT, else pretty with
    ``--color always`` or on a terminal, jsonl otherwise. ``json`` is ``jsonl``."""
    if json_flag:
        if fmt is OutputFormat.pretty:
            raise UsageError("--json and --format pretty contradict each other")
        return OutputFormat.jsonl
    if fmt is None:
        fmt = _format_from_env()
    if fmt is not None:
        return OutputFormat.jsonl if fmt is OutputFormat.json else fmt
    if color is ColorChoice.always:
        return OutputFormat.pretty  # `--color always | less -R`, as ls and stern do
    try:
        return OutputFormat.pretty if out.isatty() else OutputFormat.jsonl
    except (AttributeError, ValueError):
        return OutputFormat.jsonl


def _format_from_env() -> OutputFormat | None:
    value = os.environ.get(FORMAT_ENV, "").strip().lower()
    if not value:
        return None
    try:
        return OutputFormat(value)
    except ValueError:
        from sesstail.protocol import shorten

        raise UsageError(
            f"{FORMAT_ENV}={shorten(value)!r}: expected pretty, jsonl or json"
        ) from None


def choose_format(display: Display, out: TextIO | None = None) -> OutputFormat:
    return _choose_format(
        display.fmt, display.json_flag, sys.stdout if out is None else out, display.color
    )


def _build_options(
    types: list[str] | None,
    excludes: list[str] | None,
    until: list[str] | str | None,
    keepalive: bool,
    *,
    tools: list[str] | None = None,
    grep: list[str] | None = None,
    grep_out: list[str] | None = None,
    exit_status: bool = False,
) -> WatchOptions:
    from sesstail.protocol import TypeFilter, validate_type_pattern
    from sesstail.watch import WatchOptions

    include = [validate_type_pattern(t) for t in types or []]
    exclude = [validate_type_pattern(t) for t in excludes or []]
    untils = [until] if isinstance(until, str) else list(until or [])
    until_filter = TypeFilter([validate_type_pattern(u) for u in untils]) if untils else None
    _warn_unknown_types([*include, *exclude, *untils])
    content = None
    if tools or grep or grep_out:
        from sesstail.select import ContentFilter

        content = ContentFilter(tools=tools or (), patterns=grep or (), excluded=grep_out or ())
    return WatchOptions(
        TypeFilter(include, exclude),
        until_filter,
        keepalive,
        content=content,
        exit_status=exit_status,
    )


def build_options(
    filters: Filters,
    until: list[str] | str | None = None,
    keepalive: bool = False,
    *,
    exit_status: bool = False,
) -> WatchOptions:
    return _build_options(
        filters.types,
        filters.excludes,
        until,
        keepalive,
        tools=filters.tools,
        grep=filters.grep,
        grep_out=filters.grep_out,
        exit_status=exit_status,
    )


def _warn_unknown_types(patterns: list[str]) -> None:
    """A typo (`-t resutl`) is warned about, not refused: new types appear."""
    if not patterns:
        return
    from sesstail.output import printable_line
    from sesstail.select import type_warning

    for pattern in dict.fromkeys(patterns):
        warning = type_warning(pattern)
        if warning is not None:
            try:
                sys.stderr.write(f"sesstail: warning: {printable_line(warning)}\n")
                sys.stderr.flush()
            except (BrokenPipeError, ValueError):
                pass


def _build_renderer(fmt: OutputFormat, color: bool, timestamps: TimestampMode | None) -> Renderer:
    out = sys.stdout
    if fmt is OutputFormat.jsonl:
        from sesstail.output import JsonlWriter

        return JsonlWriter(out)
    from sesstail.render.pretty import PrettyRenderer

    return PrettyRenderer(
        out, color=color, timestamps=timestamps.value if timestamps is not None else None
    )


def build_renderer(display: Display, fmt: OutputFormat) -> Renderer:
    from sesstail.output import want_color

    return _build_renderer(fmt, want_color(display.color.value, sys.stdout), display.timestamps)


def _follow(
    settings: StreamSettings,
    renderer: Renderer,
    options: WatchOptions,
    reporter: StatusReporter,
) -> int:
    import asyncio

    from sesstail.output import until_stdout_closes
    from sesstail.transport.stream import SessionStream
    from sesstail.watch import outcome, watch

    async def go() -> int:
        stream = SessionStream(settings, reporter)
        ended_by = await until_stdout_closes(watch(stream, renderer, options))
        return outcome(ended_by, options)

    return asyncio.run(go())


# -- commands ----------------------------------------------------------------------------


def counting(options: WatchOptions, out_format: OutputFormat) -> WatchOptions:
    """A pretty watch counts what it shows, for its summary line (``summed_up``)."""
    if out_format is not OutputFormat.pretty:
        return options
    import dataclasses

    from sesstail.watch import Tally

    return dataclasses.replace(options, tally=Tally())


@contextlib.contextmanager
def summed_up(options: WatchOptions, reporter: StatusReporter, quiet: bool) -> Iterator[None]:
    """One line at the end of a pretty watch — at its end, on ``--until``, on Ctrl-C or
    SIGTERM — saying what was seen; none after an error before anything was shown."""
    ended = False
    try:
        yield
        ended = True
    except KeyboardInterrupt:
        ended = True
        raise
    finally:
        tally = options.tally
        if tally is not None and not quiet and (ended or tally.messages):
            reporter.line(tally.summary())
