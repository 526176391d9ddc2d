"""Every failure sesstail reports, and the exit code each one maps to.

    SesstailError                 exit 1  unexpected, one line unless --debug
    ├── UsageError                exit 2  bad option, session id, org or URL; nothing was sent
    ├── AuthError                 exit 3  no credentials, expired token, rejected twice (4003)
    ├── SessionNotFound           exit 4  4001 after its retries, or 404
    ├── CannotConnect             exit 5  unreachable, TLS failure, retries used up
    ├── ControlError              exit 6  the session answered a control request with an error
    ├── ControlTimeout            exit 7  no answer within the timeout
    └── SessionNotActive          exit 8  the session is not running (v2: 409 session_not_active)

Ctrl-C is 130; SIGTERM ends a command the same way, with 143. The CLI turns these into exit
codes in exactly one place (``cli.run``). Messages never hold a token: they are written from
what we know, not from exception text of libraries that might echo a header.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    CANNOT_CONNECT = 5
    CONTROL_ERROR = 6
    TIMEOUT = 7
    NOT_ACTIVE = 8
    RESULT_ERROR = 9  # --exit-status: the result that ended the wait is an error
    INTERRUPTED = 130
    TERMINATED = 143  # SIGTERM (128 + 15): `timeout`, `kill`, a service manager


class SesstailError(Exception):
    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SesstailError):
    exit_code = ExitCode.USAGE


class AuthError(SesstailError):
    exit_code = ExitCode.AUTH


class SessionNotFound(SesstailError):
    exit_code = ExitCode.NOT_FOUND


class CannotConnect(SesstailError):
    exit_code = ExitCode.CANNOT_CONNECT


class ControlError(SesstailError):
    exit_code = ExitCode.CONTROL_ERROR


class ControlTimeout(SesstailError):
    exit_code = ExitCode.TIMEOUT


class SessionNotActive(SesstailError):
    exit_code = ExitCode.NOT_ACTIVE
