"""The human renderer: a session drawn as a readable conversation (PROTOCOL §5).

One module per family: :mod:`.conversation` (prompts, replies, thinking, tool calls and
results), :mod:`.tools` (the table saying how each tool's call and result are drawn),
:mod:`.system` (status lines and the footer), :mod:`.prompts` (control messages and the
permission banner), :mod:`.markdown` (prose), :mod:`.layout` (frames and wrapping) and
:mod:`.renderer` (dispatch and output).

Remote text only ever enters rich as cleaned ``Text`` (never as a markup string) or, for
assistant prose that looks like Markdown, as cleaned Markdown source.
"""

from __future__ import annotations

from sesstail.render.pretty.renderer import PrettyRenderer

__all__ = ["PrettyRenderer"]
