"""Renderers: turn session messages into terminal output (the only place rich is used)."""
