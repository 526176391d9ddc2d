"""sesstail: follow a remote Claude Code session live from a terminal."""

__version__ = "0.1.0"
