"""Tokens are secrets: they never appear in output, errors, logs, tracebacks or ``repr``.

``Secret`` hides its value from ``repr``/``str``; ``redact`` scrubs every secret seen in this
process from text we are about to show, as a last line of defence for library messages.
"""

from __future__ import annotations

_KNOWN: set[str] = set()


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= 8:
            _KNOWN.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def redact(text: str) -> str:
    for value in _KNOWN:
        if value in text:
            text = text.replace(value, "********")
    return text
