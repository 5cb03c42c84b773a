"""Every tool, called through the SDK client with generated arguments (shaped by its own input
schema, or junk), answers with a result or an MCP tool error carrying a reason: never a
protocol error, a traceback or a hang. One bridge process serves all the examples.

Hypothesis drives the examples from a worker thread (its ``@given`` runs synchronously) and
hands each call to the test's event loop, where the MCP session lives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import types

from .conftest import Team, call, open_bridge

# Examples per tool: enough to cross every branch of the argument checks, small enough that
# 23 tools run in well under a minute through one stdio bridge.
EXAMPLES = 15
# A call that takes longer than this is a hang (the slowest legal one waits 1.5 s).
CALL_LIMIT = 60.0
NAMES = st.sampled_from(["Alice", "Bob", "nobody", "", "src/**", "1", "docs/x.md", "a" * 70])
JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
# wait_for_mail may legally block up to 600 s (25 s when the timeout is left out): always
# give it a short one.
OVERRIDES: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "wait_for_mail": {
        "timeout_seconds": st.floats(-5, 1.5, allow_nan=False) | st.text(max_size=5) | st.none()
    },
}
LEAKS = ("Traceback", 'File "', "Exception Group")


def shaped(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the JSON type ``schema`` names, including ones its bounds refuse."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | st.text(max_size=8)
    if "anyOf" in schema:
        return st.one_of([shaped(option) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "string":
        return NAMES | st.text(max_size=40)
    if kind == "integer":
        return st.integers(-3, 5) | st.integers(-(2**70), 2**70)
    if kind == "number":
        return st.floats(-10, 1000, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(shaped(schema.get("items", {})), max_size=4)
    if kind == "null":
        return st.none()
    return JUNK


def arguments(tool: types.Tool) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments for ``tool``: each property shaped or junk; required ones usually present."""
    schema = tool.input_schema
    overrides = OVERRIDES.get(tool.name, {})
    properties = {
        name: overrides.get(name, shaped(prop) | JUNK)
        for name, prop in schema.get("properties", {}).items()
    }
    required = set(schema.get("required", [])) | set(overrides)
    return st.fixed_dictionaries(
        {name: value for name, value in properties.items() if name in required},
        optional={name: value for name, value in properties.items() if name not in required}
        | {"unexpected": JUNK},
    )


def check(tool: str, arguments: dict[str, Any], result: types.CallToolResult) -> None:
    text = "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))
    where = f"{tool}({json.dumps(arguments, default=str)[:300]})"
    assert not any(leak in text for leak in LEAKS), f"{where} leaked: {text}"
    if result.is_error:
        assert len(text.strip()) > 10, f"{where} failed without a reason: {result}"
    else:
        assert result.structured_content is not None, f"{where} returned no content"


async def test_every_tool_answers_generated_arguments_with_a_result_or_a_reason(
    mcp_team: Team,
) -> None:
    loop = asyncio.get_running_loop()
    async with open_bridge(mcp_team) as session:
        await call(session, "register_agent")
        tools = (await session.list_tools()).tools

        def run(tool: types.Tool) -> None:
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(arguments(tool))
            def calls(generated: dict[str, Any]) -> None:
                future = asyncio.run_coroutine_threadsafe(
                    session.call_tool(tool.name, generated), loop
                )
                check(tool.name, generated, future.result(timeout=CALL_LIMIT))

            calls()

        for tool in tools:
            await asyncio.to_thread(run, tool)
        # The bridge still serves normally afterwards.
        assert (await call(session, "whois", agent_name="Bob"))["name"] == "Bob"
