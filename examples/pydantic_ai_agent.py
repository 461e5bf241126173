"""A pydantic-ai agent that researches companies through taskgroup-mcp, against the sandbox.

pydantic-ai's own MCP client (``MCPToolset``) launches ``taskgroup-mcp --sandbox`` over stdio
and offers its tools to the agent. The agent's model here is pydantic-ai's ``FunctionModel``,
a scripted stand-in for an LLM: it makes the tool calls a good model would make (``fan_out``
to create a group, add the questions and wait; ``wait_for_task_group`` while the group is
still running; ``get_task_group_results`` to read them) and then writes a short answer. No LLM,
no key, no network: the sandbox's data is synthetic.

Swap ``FunctionModel(...)`` for a real model (``Agent("anthropic:claude-sonnet-4-5", ...)``)
and drop ``--sandbox`` (set ``PARALLEL_API_KEY``) to do real research with the same toolset.

Install from a clone (the package is not on PyPI yet): ``pip install -e ".[examples]"``; run:
``python examples/pydantic_ai_agent.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from fastmcp.client.transports import StdioTransport
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

COMPANIES = ["Acme Robotics", "Bluefin Analytics", "Cobalt Health", "Driftwood Foods", "Ember Energy"]
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "founded_year": {"type": "integer", "description": "year the company was founded"},
        "headquarters": {"type": "string", "description": "city of the headquarters"},
        "one_line_summary": {"type": "string", "description": "what the company does, in one line"},
    },
    "required": ["founded_year", "headquarters", "one_line_summary"],
    "additionalProperties": False,
}


def _as_dict(content: Any) -> dict[str, Any]:
    """A tool's answer as a dict, whether the toolset hands it over parsed or as JSON text."""
    if isinstance(content, dict):
        return content
    if isinstance(content, str):
        try:
            value = json.loads(content)
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def _last_tool_answer(messages: list[ModelMessage]) -> ToolReturnPart | RetryPromptPart | None:
    last = messages[-1]
    if isinstance(last, ModelRequest):
        for part in last.parts:
            if isinstance(part, ToolReturnPart | RetryPromptPart):
                return part
    return None


def scripted_researcher(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """What a good model does with these tools, decided from the last tool answer."""
    offered = {tool.name for tool in info.function_tools}
    returned = _last_tool_answer(messages)
    if isinstance(returned, RetryPromptPart):  # a tool answered with an error: report it, do not loop
        return ModelResponse(parts=[TextPart(f"The tool {returned.tool_name} failed: {returned.content}")])
    if returned is None:  # the user's request: fan the questions out in one call
        assert "fan_out" in offered, f"taskgroup-mcp tools not offered: {sorted(offered)}"
        return ModelResponse(
            parts=[
                ToolCallPart(
                    "fan_out",
                    {
                        "inputs": [
                            f"{name}: when founded, where headquartered, what it does" for name in COMPANIES
                        ],
                        "output": OUTPUT_SCHEMA,
                        "processor": "lite",
                        "wait_seconds": 30,
                    },
                )
            ]
        )
    answer = _as_dict(returned.content)
    group_id = answer.get("task_group_id") or answer.get("status", {}).get("task_group_id")
    if returned.tool_name in ("fan_out", "wait_for_task_group"):
        status = answer.get("status") or (answer.get("wait") or {}).get("status") or {}
        if status.get("active", True):  # not finished inside the window: wait again, same id
            return ModelResponse(parts=[ToolCallPart("wait_for_task_group", {"task_group_id": group_id})])
        return ModelResponse(
            parts=[ToolCallPart("get_task_group_results", {"task_group_id": group_id, "limit": 20})]
        )
    if returned.tool_name == "get_task_group_results":
        lines = [
            f"- {item.get('key', '?')}: {json.dumps(item.get('output'), ensure_ascii=False)}"
            for item in answer.get("items", [])
        ]
        text = f"Researched {len(lines)} companies in task group {group_id} (sandbox data):\n" + "\n".join(
            lines
        )
        return ModelResponse(parts=[TextPart(text)])
    return ModelResponse(parts=[TextPart(f"Unexpected tool answer from {returned.tool_name}.")])


@dataclass
class ExampleRun:
    output: str
    tool_calls: list[str] = field(default_factory=lambda: [])


def build_agent(server_env: dict[str, str] | None = None) -> Agent[None, str]:
    """An agent whose tools are taskgroup-mcp's, served by ``taskgroup-mcp --sandbox`` over stdio."""
    env = {"TASKGROUP_MCP_SANDBOX_SPEED": "30", "TASKGROUP_MCP_LOG_LEVEL": "WARNING", **(server_env or {})}
    transport = StdioTransport(command=sys.executable, args=["-m", "taskgroup_mcp", "--sandbox"], env=env)
    toolset = MCPToolset(transport)
    return Agent(FunctionModel(scripted_researcher), toolsets=[toolset])


async def run_example(server_env: dict[str, str] | None = None) -> ExampleRun:
    agent = build_agent(server_env)
    async with agent:
        result = await agent.run("Find when these companies were founded and where they are based.")
    calls = [
        part.tool_name
        for message in result.all_messages()
        if isinstance(message, ModelResponse)
        for part in message.parts
        if isinstance(part, ToolCallPart)
    ]
    return ExampleRun(output=result.output, tool_calls=calls)


def main() -> None:
    run = asyncio.run(run_example())
    print("Tool calls the agent made:", " -> ".join(run.tool_calls))
    print(run.output)


if __name__ == "__main__":
    main()
