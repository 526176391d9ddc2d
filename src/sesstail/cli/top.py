"""``sesstail top``: a live view of the organization's sessions (``sesstail.top``).

Only typer is imported at load; Textual comes in with the view itself, only for ``top``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from sesstail.cli.app import (
    _say,
    app,
    run,
)
from sesstail.cli.options import (
    DEFAULT_BASE_URL,
    ApiChoice,
    ApiOpt,
    BaseUrlOpt,
    DebugOpt,
    NotifyOpt,
    OrgOpt,
)
from sesstail.cli.targets import (
    resolve_account,
)


@app.command("top")
def top_command(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            metavar="STATUS",
            help="Only sessions in this state (requires_action, running, idle, archived); "
            "repeatable, or a,b.",
            show_default=False,
        ),
    ] = None,
    refresh: Annotated[
        float, typer.Option("--refresh", metavar="SECONDS", help="How often the list is read.")
    ] = 5.0,
    json_flag: Annotated[
        bool, typer.Option("--json", help="No view: one JSON line per change, for other tools.")
    ] = False,
    notify: NotifyOpt = False,
    base_url: BaseUrlOpt = DEFAULT_BASE_URL,
    org: OrgOpt = None,
    api: ApiOpt = ApiChoice.auto,
    debug: DebugOpt = False,
) -> None:
    """A live view of your sessions: who waits for you, what each is doing, what it cost.

    Keys: Enter/w watch (Esc back); p answer prompt: it is shown whole, then a allow,
    d deny, x deny + interrupt; i interrupt; f filter (by status); r refresh; q quit.
    """

    def job() -> int:
        from sesstail.top.run import check_refresh, parse_statuses, require_terminal, run_top

        statuses = parse_statuses(status or [])
        check_refresh(refresh)
        if not json_flag:
            require_terminal()  # before any credential is looked up
        account = resolve_account(base_url, org, api.value)
        from sesstail.top.wiring import v1_transport

        transport = v1_transport(
            account.base_url, account.org_uuid, account.token, account.env, api=account.api
        )
        return run_top(
            transport,
            statuses=statuses,
            refresh=refresh,
            notify=notify,
            json_lines=json_flag,
            report=lambda text: _say(f"sesstail: {text}"),
        )

    run(job, debug=debug)


__all__ = ["top_command"]
