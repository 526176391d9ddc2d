"""An embedded remote-sessions server: what `demo`, `serve` and the tests all talk to.

It speaks PROTOCOL §1–4 on loopback: ``/v1/sessions/ws/{id}/subscribe?organization_uuid=…``,
checks the bearer token and org when given (close 4003), closes unknown sessions with 4001,
plays each session's messages with their recorded pacing, then keeps the socket open with
``keep_alive`` frames, and answers control requests. ``Faults`` are the test hooks: drop a
connection, close it with a code, stop answering pings, replay history on reconnect.
"""

from sesstail.server.core import (
    DEMO_SESSION_ID,
    Faults,
    ServedSession,
    SessionsServer,
    demo_session,
    load_session_file,
)

__all__ = [
    "DEMO_SESSION_ID",
    "Faults",
    "ServedSession",
    "SessionsServer",
    "demo_session",
    "load_session_file",
]
