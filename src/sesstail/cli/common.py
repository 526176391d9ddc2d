"""What the commands that show a stream share: the output format, the filters, the
renderer, and following one stream to its end."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from sesstail.cli.options import OutputFormat
from sesstail.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from sesstail.output import StatusReporter
    from sesstail.transport.stream import StreamSettings
    from sesstail.watch import Renderer, WatchOptions


def _choose_format(fmt: OutputFormat | None, json_flag: bool, out: TextIO) -> OutputFormat:
    if json_flag:
        if fmt is OutputFormat.pretty:
            raise UsageError("--json and --format pretty contradict each other")
        return OutputFormat.jsonl
    if fmt is not None:
        return fmt
    try:
        return OutputFormat.pretty if out.isatty() else OutputFormat.jsonl
    except (AttributeError, ValueError):
        return OutputFormat.jsonl


def _build_options(
    types: list[str] | None, excludes: list[str] | None, until: str | None, keepalive: bool
) -> WatchOptions:
    from sesstail.protocol import TypeFilter, validate_type_pattern
    from sesstail.watch import WatchOptions

    include = [validate_type_pattern(t) for t in types or []]
    exclude = [validate_type_pattern(t) for t in excludes or []]
    until_filter = TypeFilter([validate_type_pattern(until)]) if until is not None else None
    return WatchOptions(TypeFilter(include, exclude), until_filter, keepalive)


def _build_renderer(fmt: OutputFormat, color: bool, timestamps: bool) -> Renderer:
    out = sys.stdout
    if fmt is OutputFormat.jsonl:
        from sesstail.output import JsonlWriter

        return JsonlWriter(out)
    from sesstail.render.pretty import PrettyRenderer

    return PrettyRenderer(out, color=color, timestamps=timestamps)


def _follow(
    settings: StreamSettings,
    renderer: Renderer,
    options: WatchOptions,
    reporter: StatusReporter,
) -> int:
    import asyncio

    from sesstail.output import until_stdout_closes
    from sesstail.transport.stream import SessionStream
    from sesstail.watch import watch

    async def go() -> int:
        stream = SessionStream(settings, reporter)
        await until_stdout_closes(watch(stream, renderer, options))
        return ExitCode.OK

    return asyncio.run(go())


# -- commands ----------------------------------------------------------------------------
