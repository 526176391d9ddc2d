"""Make remote text safe to show in a terminal.

Everything in a message was written on another machine, by a model or by whatever a tool
printed. Raw escape sequences in it could recolour the terminal, retitle the window, move the
cursor, or hide text; bidi overrides could make displayed text read differently from what it
is. :func:`clean` turns every such character into a visible escape, the way Python's ``repr``
spells it (ESC becomes the four characters ``\\x1b``, U+202E becomes ``\\u202e``), so nothing
is lost and nothing acts.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, the C1 controls (U+009B alone is a CSI on some
# terminals), and the bidi embedding, override and isolate characters.
_UNSAFE_CODES = [
    *(c for c in range(0x00, 0x20) if c not in (0x09, 0x0A)),
    *range(0x7F, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_TABLE = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE_CODES}
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Return ``text`` with every control, C1 and bidi character replaced by a visible escape.

    Newlines and tabs are kept. Every other control character is shown, a carriage return
    too, even before a newline: a CR or a backspace left to act would let remote text hide
    what came before it on the screen (a command that pipes curl into sh drawn as ``echo``).
    """
    if _UNSAFE.search(text) is None:
        return text
    return text.translate(_TABLE)


def is_clean(text: str) -> bool:
    """Whether ``text`` holds nothing that :func:`clean` would change."""
    return _UNSAFE.search(text) is None
