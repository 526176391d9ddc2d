"""The transcript format of local sessions, read as the stream's messages: one mapping, pinned
line kind by line kind on lines composed in the format Claude Code writes."""

from __future__ import annotations

from typing import Any

from sesstail.local.transcript import (
    Mapped,
    TranscriptMapper,
    epoch_of,
    looks_like_transcript,
)

SID = "6f1c2a9e-4b7d-4e21-9a3c-0d5e8f7b1a22"


def line(kind: str, uuid: str, **fields: Any) -> dict[str, Any]:
    return {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/dev/app",
        "sessionId": SID,
        "version": "2.1.3",
        "gitBranch": "main",
        **fields,
        "type": kind,
        "uuid": uuid,
        "timestamp": "2026-12-01T10:00:00.500Z",
    }


def task_call(call_id: str, prompt: str) -> dict[str, Any]:
    block = {
        "type": "tool_use",
        "id": call_id,
        "name": "Task",
        "input": {"description": "Explore", "prompt": prompt, "subagent_type": "Explore"},
    }
    return line(
        "assistant", "a-task", message={"id": "msg_1", "role": "assistant", "content": [block]}
    )


def test_user_line_gets_the_stream_names_and_its_timestamp() -> None:
    """sessionId → session_id, toolUseResult → tool_use_result, a main-chain parent of None,
    and the line's timestamp as the message time; the camelCase originals stay."""
    result = {"stdout": "ok", "stderr": "", "interrupted": False}
    block = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
    mapped = TranscriptMapper().map(
        line("user", "u1", message={"role": "user", "content": [block]}, toolUseResult=result)
    )
    assert mapped.obj["session_id"] == SID
    assert mapped.obj["tool_use_result"] == result
    assert mapped.obj["toolUseResult"] == result
    assert mapped.obj["parent_tool_use_id"] is None
    assert mapped.key == "u1"
    assert mapped.at == epoch_of("2026-12-01T10:00:00.500+00:00") == 1796119200.5
    assert not mapped.hidden


def test_agent_progress_is_the_sub_agents_message_under_its_task_call() -> None:
    """progress/agent_progress → data.message as a user/assistant message with
    parent_tool_use_id = parentToolUseID, keyed by the inner uuid, at the inner time."""
    inner = {
        "type": "assistant",
        "message": {
            "id": "msg_sub",
            "role": "assistant",
            "content": [{"type": "text", "text": "found"}],
        },
        "uuid": "inner-1",
        "timestamp": "2026-12-01T10:00:07.000Z",
    }
    progress = line(
        "progress",
        "outer-1",
        data={"type": "agent_progress", "message": inner, "agentId": "a77", "prompt": ""},
        toolUseID="agent_msg_1",
        parentToolUseID="toolu_task",
    )
    mapped = TranscriptMapper().map(progress)
    assert mapped.obj["type"] == "assistant"
    assert mapped.obj["message"]["content"][0]["text"] == "found"
    assert mapped.obj["parent_tool_use_id"] == "toolu_task"
    assert mapped.obj["session_id"] == SID
    assert mapped.key == "inner-1"
    assert mapped.at == epoch_of("2026-12-01T10:00:07Z")
    assert not mapped.hidden


def test_sidechain_lines_find_their_task_call_by_prompt_then_by_agent_id() -> None:
    """isSidechain: the sub-agent's first prompt names its Task call (before the result says
    the agentId); later lines of that agent follow it; unknown agents are still sub-agents."""
    mapper = TranscriptMapper()
    mapper.map(task_call("toolu_T", "Look for the rounding"))
    first = mapper.map(
        line(
            "user",
            "s1",
            isSidechain=True,
            agentId="a1",
            message={"role": "user", "content": "Look for the rounding"},
        )
    )
    reply = mapper.map(
        line(
            "assistant",
            "s2",
            isSidechain=True,
            agentId="a1",
            message={"role": "assistant", "content": []},
        )
    )
    stranger = mapper.map(
        line("assistant", "s3", isSidechain=True, message={"role": "assistant", "content": []})
    )
    assert first.obj["parent_tool_use_id"] == "toolu_T"
    assert reply.obj["parent_tool_use_id"] == "toolu_T"
    assert isinstance(stranger.obj["parent_tool_use_id"], str)  # drawn as a sub-agent's


def test_a_task_result_names_the_agent_for_its_later_lines() -> None:
    """toolUseResult.agentId on a Task's result ties that agent's sidechain lines to the call."""
    mapper = TranscriptMapper()
    block = {"type": "tool_result", "tool_use_id": "toolu_X", "content": "done"}
    mapper.map(
        line(
            "user",
            "r",
            message={"role": "user", "content": [block]},
            toolUseResult={"agentId": "b2"},
        )
    )
    late = mapper.map(
        line(
            "assistant",
            "s",
            isSidechain=True,
            agentId="b2",
            message={"role": "assistant", "content": []},
        )
    )
    assert late.obj["parent_tool_use_id"] == "toolu_X"


def test_bookkeeping_lines_are_hidden_and_lean() -> None:
    """file-history-snapshot, queue-operation, summary, hook/bash progress and a passing
    stop-hook summary are hidden; progress gets its data.type as subtype (for -t); the
    envelope fields are left out of what a -v dim line shows."""
    mapper = TranscriptMapper()
    hidden: list[dict[str, Any]] = [
        {
            "type": "file-history-snapshot",
            "messageId": "m",
            "snapshot": {},
            "isSnapshotUpdate": False,
        },
        {"type": "queue-operation", "operation": "enqueue", "sessionId": SID, "content": "x"},
        {"type": "summary", "summary": "Fix the test", "leafUuid": "l"},
        line("attachment", "t1", attachment={"type": "todo_reminder", "content": []}),
        line("progress", "p1", data={"type": "hook_progress", "hookEvent": "PostToolUse"}),
        line(
            "progress", "p2", data={"type": "bash_progress", "output": "…", "elapsedTimeSeconds": 3}
        ),
        line("system", "h1", subtype="stop_hook_summary", hookCount=1, hookErrors=[]),
    ]
    mapped = [mapper.map(obj) for obj in hidden]
    assert all(m.hidden for m in mapped)
    hook = mapped[4].obj
    assert hook["type"] == "progress"
    assert hook["subtype"] == "hook_progress"
    assert "cwd" not in hook
    assert "gitBranch" not in hook
    assert hook["data"]["hookEvent"] == "PostToolUse"


def test_a_failing_stop_hook_is_shown() -> None:
    """A stop-hook summary with hook errors is not bookkeeping: a reader needs it."""
    mapped = TranscriptMapper().map(
        line("system", "h", subtype="stop_hook_summary", hookErrors=["lint failed"])
    )
    assert not mapped.hidden


def test_local_command_and_its_output_are_one_line_each() -> None:
    """system/local_command: the slash command with its arguments, then its output, each
    one small object (a dim line); an empty output is hidden."""
    mapper = TranscriptMapper()
    command = mapper.map(
        line(
            "system",
            "c1",
            subtype="local_command",
            content="<command-name>/model</command-name>\n<command-message>model</command-message>\n<command-args>opus</command-args>",
        )
    )
    output = mapper.map(
        line(
            "system",
            "c2",
            subtype="local_command",
            content="<local-command-stdout>Set model to opus</local-command-stdout>",
        )
    )
    empty = mapper.map(
        line(
            "system",
            "c3",
            subtype="local_command",
            content="<local-command-stdout></local-command-stdout>",
        )
    )
    assert command.obj == {
        "type": "system",
        "subtype": "local_command",
        "uuid": "c1",
        "session_id": SID,
        "command": "/model opus",
    }
    assert output.obj["output"] == "Set model to opus"
    assert not command.hidden
    assert not output.hidden
    assert empty.hidden


def test_compact_boundary_reads_like_the_streams() -> None:
    """compactMetadata (camelCase keys) → compact_metadata with the stream's snake_case keys."""
    mapped = TranscriptMapper().map(
        line(
            "system",
            "b",
            subtype="compact_boundary",
            compactMetadata={"trigger": "auto", "preTokens": 155000},
        )
    )
    assert mapped.obj["compact_metadata"] == {"trigger": "auto", "pre_tokens": 155000}


def test_api_error_reads_as_the_streams_api_retry() -> None:
    """system/api_error → system/api_retry with attempt, max_retries, delay, status and the
    error's message as text."""
    error = {
        "status": 529,
        "error": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    }
    mapped = TranscriptMapper().map(
        line(
            "system",
            "e",
            subtype="api_error",
            level="error",
            error=error,
            retryInMs=4000,
            retryAttempt=2,
            maxRetries=10,
        )
    )
    obj = mapped.obj
    assert (obj["subtype"], obj["attempt"], obj["max_retries"]) == ("api_retry", 2, 10)
    assert (obj["retry_delay_ms"], obj["error_status"], obj["error"]) == (4000, 529, "Overloaded")


def test_turn_duration_is_the_turns_result_with_its_tokens() -> None:
    """system/turn_duration → a result (what --until result and wait look for) with the
    duration, the tokens of the turn's replies (each reply counted once by message id) and
    the text of its last reply as `result`, as a remote session's result has it."""
    mapper = TranscriptMapper()
    mapper.map(line("user", "p", message={"role": "user", "content": "go"}))
    usage = {"input_tokens": 10, "output_tokens": 5}
    for uuid in ("a1", "a2"):  # two blocks of one reply: the same message id
        mapper.map(
            line(
                "assistant",
                uuid,
                message={"id": "msg_A", "role": "assistant", "content": [], "usage": usage},
            )
        )
    mapper.map(
        line(
            "assistant",
            "a3",
            message={"id": "msg_B", "role": "assistant", "content": [], "usage": usage},
        )
    )
    answer = {"type": "text", "text": "All green."}
    reply = {"id": "msg_C", "role": "assistant", "content": [answer]}
    mapper.map(line("assistant", "a4", message=reply))
    mapper.map(line("assistant", "a5", message={**reply, "content": [{**answer, "text": "Done."}]}))
    mapped = mapper.map(line("system", "t", subtype="turn_duration", durationMs=4200))
    assert mapped.obj["result"] == "All green.\n\nDone."
    assert mapped.obj["type"] == "result"
    assert mapped.obj["subtype"] == "success"
    assert mapped.obj["duration_ms"] == 4200
    assert mapped.obj["usage"] == {"input_tokens": 20, "output_tokens": 10}  # msg_C: no usage
    assert mapped.key == "t"
    assert not mapped.hidden


def test_an_interrupted_turn_ends_as_interrupted() -> None:
    """The user's interruption marker makes the turn's result say so, and the next turn
    starts clean."""
    mapper = TranscriptMapper()
    mapper.map(line("user", "p", message={"role": "user", "content": "go"}))
    marker = [{"type": "text", "text": "[Request interrupted by user for tool use]"}]
    mapper.map(line("user", "i", message={"role": "user", "content": marker}))
    first = mapper.map(line("system", "t1", subtype="turn_duration", durationMs=1))
    mapper.map(line("user", "p2", message={"role": "user", "content": "again"}))
    second = mapper.map(line("system", "t2", subtype="turn_duration", durationMs=1))
    assert first.obj["subtype"] == "interrupted"
    assert second.obj["subtype"] == "success"


def test_unknown_types_pass_as_they_are_less_the_envelope() -> None:
    """A type this mapping does not hide (custom-title, or one to come) is kept and shown,
    without the fields every line carries (cwd, version, …) so its one line says what it is."""
    obj = line("custom-title", "x", customTitle="Checkout bug")
    mapped = TranscriptMapper().map(obj)
    assert isinstance(mapped, Mapped)
    assert mapped.obj["customTitle"] == "Checkout bug"
    assert mapped.obj["session_id"] == SID
    assert "cwd" not in mapped.obj
    assert "version" not in mapped.obj
    assert not mapped.hidden


def test_stream_messages_and_recordings_are_not_taken_for_transcript_lines() -> None:
    """Only transcript lines are mapped: a stream message (snake_case session_id) is not one."""
    assert looks_like_transcript(line("user", "u"))
    assert looks_like_transcript({"type": "summary", "summary": "s"})
    assert not looks_like_transcript({"type": "user", "session_id": "s", "uuid": "u"})
    assert not looks_like_transcript({"type": "result", "subtype": "success"})


def test_timestamps_that_are_not_times_give_no_time() -> None:
    """A missing, malformed or absurd timestamp is no time, never an exception."""
    assert epoch_of(None) is None
    assert epoch_of("yesterday") is None
    assert epoch_of("9" * 30) is None
    assert epoch_of(1764583200) is None


def test_older_slash_command_lines_read_like_newer_ones_and_the_caveat_is_hidden() -> None:
    """Older versions: the slash command and its output are user lines with the same tags,
    after an isMeta caveat: read as the same system/local_command lines; the caveat hidden;
    any other isMeta line is kept (for the renderer to dim)."""
    mapper = TranscriptMapper()
    caveat = mapper.map(
        line(
            "user",
            "c0",
            isMeta=True,
            message={
                "role": "user",
                "content": "Caveat: The messages below were generated by the user while running "
                "local commands. DO NOT respond to these messages.",
            },
        )
    )
    command = mapper.map(
        line(
            "user",
            "c1",
            message={"role": "user", "content": "<command-name>/cost</command-name>"},
        )
    )
    output = mapper.map(
        line(
            "user",
            "c2",
            message={
                "role": "user",
                "content": "<local-command-stdout>Total cost: $0.12</local-command-stdout>",
            },
        )
    )
    skill = mapper.map(
        line("user", "c3", isMeta=True, message={"role": "user", "content": "Base directory: x"})
    )
    assert caveat.hidden
    assert command.obj["type"] == "system"
    assert command.obj["command"] == "/cost"
    assert output.obj["output"] == "Total cost: $0.12"
    assert output.key == "c2"
    assert not skill.hidden
    assert skill.obj["type"] == "user"


def test_hook_attachments_are_hidden_when_they_pass_and_shown_when_they_fail() -> None:
    """attachment/hook_success (a passing hook's output) is bookkeeping; a hook error or a
    non-zero exit code is shown."""
    mapper = TranscriptMapper()
    passing = {"type": "hook_success", "hookName": "Stop", "exitCode": 0, "stdout": "ok"}
    failing = {"type": "hook_success", "hookName": "Stop", "exitCode": 2, "stderr": "lint"}
    blocking = {"type": "hook_blocking_error", "hookName": "PreToolUse:Bash"}
    assert mapper.map(line("attachment", "h0", attachment=passing)).hidden
    assert not mapper.map(line("attachment", "h1", attachment=failing)).hidden
    assert not mapper.map(line("attachment", "h2", attachment=blocking)).hidden


def test_system_lines_of_new_subtypes_are_shown_without_the_envelope() -> None:
    """A system subtype this mapping does not know (away_summary) is shown, its content
    kept and the envelope (entrypoint, slug, cwd, …) left out."""
    mapped = TranscriptMapper().map(
        line(
            "system",
            "w",
            subtype="away_summary",
            content="Next: send the list.",
            entrypoint="cli",
            slug="wise-beaver",
        )
    )
    assert not mapped.hidden
    assert mapped.obj["content"] == "Next: send the list."
    assert "entrypoint" not in mapped.obj
    assert "slug" not in mapped.obj
    assert "cwd" not in mapped.obj
