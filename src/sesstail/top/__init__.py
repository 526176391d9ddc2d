"""``sesstail top``: a live view of an organization's sessions (issue 12).

The package is cut so that only :mod:`sesstail.top.app` imports Textual:

* :mod:`~sesstail.top.model` — what is known about each session (status, turn, last
  activity, cost, pending permission prompts), pure state built from list items (PROTOCOL §7)
  and stream messages (§4, §5); no I/O, no drawing;
* :mod:`~sesstail.top.follow` — the :class:`~sesstail.top.follow.Transport` seam (four
  injected callables) and the follower that refreshes the list and keeps one stream per
  session that is running or waiting;
* :mod:`~sesstail.top.jsonl` — ``top --json``: one JSON line per change, no TUI;
* :mod:`~sesstail.top.app` — the Textual app;
* :mod:`~sesstail.top.wiring` — today's transport behind the seam;
* :mod:`~sesstail.top.run` — what the typer command calls.
"""
