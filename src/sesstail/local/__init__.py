"""Local Claude Code sessions: the transcripts a session writes on this machine.

``transcript`` maps the transcript format onto the stream's messages (the one place that knows
the format); ``follow`` reads a transcript, and its sub-agents' files, as they grow, as a
``MessageSource``; ``sessions`` finds and lists the transcripts under
``$CLAUDE_CONFIG_DIR/projects``; ``demo`` writes one as a session would. Nothing here imports
``rich`` or ``websockets``; each module is imported only by the commands that need it.
"""
