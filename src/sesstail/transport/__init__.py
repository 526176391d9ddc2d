"""The only network code: one session's messages, whichever API generation carries them.

    stream.py   SessionStream: each message once, in order, across reconnects; the reconnect
                policy, budgets and dedupe (PROTOCOL §3, §8, §9), written once for both APIs
    ws_v1.py    the v1 WebSocket (PROTOCOL §1–3), live-only, and its gap fill from history
    sse_v2.py   the v2 event stream over SSE (PROTOCOL §8), resumed by sequence number
    rest_v1.py  the v1 REST calls (PROTOCOL §7): sessions, history, prompts
    rest_v2.py  the v2 REST calls (PROTOCOL §8): sessions, history, posted events
    http.py     the one HTTP client (headers, proxies, TLS, timeouts, sizes, redirects)

Each API generation only knows how to open, read and close its own connection, and where to
resume from (a sequence number, or a gap to fill from history); everything else is here once.
"""
