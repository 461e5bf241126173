"""Where the sandbox knowingly differs from (or decides what the docs leave open about) the real API.

Kept as data so the differences are visible, documented and tested (tests/sandbox/test_divergences.py).
Only what still differs is listed, each row with its reason; behaviour that follows the docs is not here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Divergence:
    topic: str
    api: str
    """What the real API does (or what its docs say or leave open)."""
    sandbox: str
    """What the sandbox does."""
    reason: str
    """Why it does that instead."""


DIVERGENCES: tuple[Divergence, ...] = (
    Divergence(
        "data",
        "Real web research by the chosen processor.",
        "Synthetic outputs, deterministic per input and seed; every output says it is sandbox data and "
        "citations point at https://example.com/sandbox/...",
        "Offline, free and repeatable is what the sandbox is for.",
    ),
    Divergence(
        "group events on connect",
        "Undocumented which events come first.",
        "Without last_event_id the stream opens with a task_group_status snapshot whose event_id is '0.<n>' "
        "(resuming after it replays everything); then every run termination in order, and a "
        "task_group_status each time the group goes idle.",
        "Undocumented; a snapshot first shows the status at once, and its '0.<n>' id keeps resuming exact.",
    ),
    Divergence(
        "event ids",
        "Opaque strings.",
        "Group events: the group's event sequence number as a string; runs stream: the run's position in the "
        "group. Both are opaque to clients; an unparseable last_event_id is a 422.",
        "Opaque in the API; sequence numbers make resuming exact and cheap.",
    ),
    Divergence(
        "stream timeouts",
        "Group events stay open up to an hour while active; run events up to 570 s; the meaning of the "
        "group events `timeout` query is undocumented.",
        "The same bounds, counted on the sandbox clock (real time, unless a test drives a manual clock); a "
        "`timeout` query shortens the group events stream, in real seconds (capped at 3,600).",
        "A test on a manual clock reaches the bounds without waiting an hour.",
    ),
    Divergence(
        "output without a task spec",
        "Docs (specify-a-task, task-deep-research): plain text below pro, auto (deep research) from pro up; "
        "the OpenAPI says an absent task_spec means auto for every processor; what an explicit auto schema "
        "gives below pro is undocumented.",
        "No task spec: text below pro (one basis for 'output', confidence ''), nested auto JSON with its "
        "output_schema from pro up; an explicit auto schema gives auto JSON on every processor.",
        "The sources disagree; the newer docs pages are concrete and their MCP samples show text below pro.",
    ),
    Divergence(
        "run event trace",
        "The processor's own reasoning messages; they may be absent for lite and base.",
        "exec_status, plan, search, one tool_call per recorded MCP call and result, at fixed fractions of the "
        "run's span, for every processor unless the run was created with enable_events false.",
        "No reasoning happens offline; fixed fractions of the run keep the trace deterministic.",
    ),
    Divergence(
        "MCP header values",
        "Write-only in the SPEC; whether /input echoes them is undocumented.",
        "Never echoed: /input and include_input return mcp_servers with headers null.",
        "They are write-only secrets; never echoing them is the safe reading.",
    ),
    Divergence(
        "billing and rate limits",
        "402 without credit. 429 above 2,000 run-creating POSTs per minute per key (rate-limits page; the "
        "lifecycle page says all POSTs and GETs count); how the minute is measured is undocumented.",
        "Never 402. The documented limit is on by default (--rate-limit, TASKGROUP_MCP_SANDBOX_RATE_LIMIT_PER_MINUTE; "
        "0 turns it off): POST /v1/tasks/runs and add-runs per x-api-key, any 60 s on the sandbox clock, a refused "
        "POST not counted, Retry-After in whole seconds; the throttle fault adds 429s at will.",
        "No account or credit offline; a sliding minute is the strict reading of an undocumented window.",
    ),
    Divergence(
        "MCP tool choice",
        "The processor decides which tools to call and with what arguments.",
        "The first allowed tool of each server, the run's input in every string argument; lite and core "
        "call one tool in all, other processors one per server up to three.",
        "No model offline; a deterministic choice still makes real MCP calls.",
    ),
    Divergence(
        "statuses",
        "action_required, cancelling and cancelled exist; their triggers are undocumented.",
        "Runs only go queued -> running -> completed | failed (--fail-rate).",
        "Their triggers are undocumented and there is no cancel endpoint.",
    ),
    Divergence(
        "webhook retries",
        "First retry after 5 s, doubling per failed request, 'multiple attempts over 48 hours'; the exact "
        "number of attempts is not given.",
        "16 attempts, 5 s, 10 s, ... 81,920 s apart counted from the first (the last about 45.5 h after it), "
        "every interval divided by --speed; any non-2xx answer or connection failure is retried.",
        "'Multiple attempts' is not a number; doubling from 5 s within 48 hours gives 16.",
    ),
    Divergence(
        "webhook event_types",
        "Only value task_run.status; whether an empty list means no deliveries is undocumented.",
        "Any run with a webhook gets one task_run.status delivery when it finishes, whatever event_types says.",
        "Undocumented; delivering is the useful reading for a client under test.",
    ),
    Divergence(
        "output-schema rules",
        "The Task Spec guide's rules: nesting at most 5 levels (the errors page says 3), a cap on the "
        "'total string length for names and values', warnings for every object type; how levels and "
        "characters are counted is not said.",
        "Refuses what the guide lists with a 422 naming each field (wire.schema_problems); the root object "
        "is level 1, every key and string value counts as characters, a recursive or dangling $ref is "
        "refused; the required/additionalProperties/basis-name warnings cover the root object only.",
        "The docs leave the counting open and disagree on depth; the Task Spec guide is the detailed source.",
    ),
    Divergence(
        "status_message",
        "A human-readable string or null; its wording is undocumented.",
        "'<k> of <n> runs active' while active, '' once idle, null for a group with no runs.",
        "The API's wording is undocumented.",
    ),
)
