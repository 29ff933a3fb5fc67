"""Orchestration overhead of Strands Agents (the peer of issue 5; driven by bench/orchestration.sh).

The same agents-as-tools script as crates/aae-agents/examples/orchestration_bench.rs, against the
same scripted OpenAI-compatible server (crates/aae-testkit/examples/scripted_openai.rs): an
orchestrator whose three tools are specialist agents, each with one plain tool; 10 model calls
and 6 tool-using turns per conversation. Strands' OpenAIModel provider (streaming, as it always
asks for) talks to the server.

  python orchestration_strands.py --upstream URL --mode documented|tuned
                                  [--conversations N] [--warmup W] [--concurrency C]

Modes:
  documented  Strands' documented agents-as-tools pattern: each specialist is a sync `@tool`
              function that builds its Agent and calls it (`agent(query)`); the orchestrator is
              called with `orchestrator(request)`. The OpenAIModel is built the normal way
              (`client_args`), so Strands makes a new AsyncOpenAI client (httpx pool, connection)
              for every model call.
  tuned       One AsyncOpenAI client injected into the OpenAIModel (`client=`) and reused by
              every call, async tools (`async def`, `await agent.invoke_async(query)`), the whole
              run on one event loop.
In both, every agent has callback_handler=None (no console printing), and each conversation
and each specialist call starts a fresh Agent (a fresh conversation, as AAE's AgentTool does).

Prints one JSON line with the same keys as the AAE example: counts (tool executions seen here,
model calls and tool-call replies seen by the server over the measured conversations), CPU time
of this process over them (getrusage RUSAGE_SELF, user + system, all threads), per tool-using
turn and per conversation, RSS after set-up (VmRSS) and peak (VmHWM), wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import threading
import time
import urllib.request
from importlib.metadata import version

import openai
from strands import Agent, tool
from strands.models.openai import OpenAIModel

# The prompts and the request are the same text as in orchestration_bench.rs.
ORCHESTRATOR_PROMPT = (
    "You run advertising campaigns. Ask market_insights_agent for insights, then ad_creative_agent for the copy, "
    "then campaign_automation_agent to publish, and finish with a short summary."
)
INSIGHTS_PROMPT = "You are a market analyst. Look the audience up with lookup_audience and answer with concise insights."
CREATIVE_PROMPT = "You are an ad copywriter. Write the copy with write_copy and answer with it."
AUTOMATION_PROMPT = "You publish campaigns. Publish the landing page with publish_page and answer with what was published."
REQUEST = (
    "Run the Lumen Roast launch campaign: a specialty coffee subscription for remote workers in Berlin, "
    "budget 5,000 EUR, warm tone."
)

_lock = threading.Lock()
_tool_calls = 0


def _count() -> None:
    global _tool_calls
    with _lock:
        _tool_calls += 1


# ---------------------------------------------------------------- the plain tools (same answers as AAE's)


def _audience(segment: str, region: str) -> dict:
    _count()
    return {
        "segment": segment,
        "region": region,
        "size": 1000 * (len(segment) + len(region)),
        "interests": ["coffee", "productivity", "home office"],
    }


def _copy(product: str, tone: str) -> dict:
    _count()
    return {"headline": f"{product}: fresh beans, brighter mornings", "tone": tone, "call_to_action": "Start tasting"}


def _page(title: str, slug: str) -> dict:
    _count()
    return {"url": f"https://lumen.example/{slug}", "title": title, "status": "published"}


@tool
def lookup_audience(segment: str, region: str) -> dict:
    """Looks up an audience segment in a region.

    Args:
        segment: the audience segment
        region: the region
    """
    return _audience(segment, region)


@tool
def write_copy(product: str, tone: str) -> dict:
    """Writes ad copy for a product in a tone.

    Args:
        product: the product
        tone: the tone
    """
    return _copy(product, tone)


@tool
def publish_page(title: str, slug: str) -> dict:
    """Publishes a landing page.

    Args:
        title: the page title
        slug: the URL slug
    """
    return _page(title, slug)


@tool(name="lookup_audience")
async def lookup_audience_async(segment: str, region: str) -> dict:
    """Looks up an audience segment in a region.

    Args:
        segment: the audience segment
        region: the region
    """
    return _audience(segment, region)


@tool(name="write_copy")
async def write_copy_async(product: str, tone: str) -> dict:
    """Writes ad copy for a product in a tone.

    Args:
        product: the product
        tone: the tone
    """
    return _copy(product, tone)


@tool(name="publish_page")
async def publish_page_async(title: str, slug: str) -> dict:
    """Publishes a landing page.

    Args:
        title: the page title
        slug: the URL slug
    """
    return _page(title, slug)


# ---------------------------------------------------------------- the agents


def build(mode: str, upstream: str, model_id: str):
    """The orchestrator factory (one fresh orchestrator per conversation) for `mode`."""
    if mode == "documented":
        model = OpenAIModel(client_args={"api_key": "scripted-key", "base_url": upstream}, model_id=model_id)
    else:
        client = openai.AsyncOpenAI(api_key="scripted-key", base_url=upstream)
        model = OpenAIModel(client=client, model_id=model_id)

    def specialist(prompt: str, plain_tool) -> Agent:
        return Agent(model=model, system_prompt=prompt, tools=[plain_tool], callback_handler=None)

    if mode == "documented":

        @tool
        def market_insights_agent(query: str) -> str:
            """Researches the audience and the market; answers with insights.

            Args:
                query: a self-contained request
            """
            _count()
            return str(specialist(INSIGHTS_PROMPT, lookup_audience)(query))

        @tool
        def ad_creative_agent(query: str) -> str:
            """Writes the ad copy; answers with it.

            Args:
                query: a self-contained request
            """
            _count()
            return str(specialist(CREATIVE_PROMPT, write_copy)(query))

        @tool
        def campaign_automation_agent(query: str) -> str:
            """Publishes the landing page; answers with what was published.

            Args:
                query: a self-contained request
            """
            _count()
            return str(specialist(AUTOMATION_PROMPT, publish_page)(query))

    else:

        @tool
        async def market_insights_agent(query: str) -> str:
            """Researches the audience and the market; answers with insights.

            Args:
                query: a self-contained request
            """
            _count()
            return str(await specialist(INSIGHTS_PROMPT, lookup_audience_async).invoke_async(query))

        @tool
        async def ad_creative_agent(query: str) -> str:
            """Writes the ad copy; answers with it.

            Args:
                query: a self-contained request
            """
            _count()
            return str(await specialist(CREATIVE_PROMPT, write_copy_async).invoke_async(query))

        @tool
        async def campaign_automation_agent(query: str) -> str:
            """Publishes the landing page; answers with what was published.

            Args:
                query: a self-contained request
            """
            _count()
            return str(await specialist(AUTOMATION_PROMPT, publish_page_async).invoke_async(query))

    tools = [market_insights_agent, ad_creative_agent, campaign_automation_agent]

    def orchestrator() -> Agent:
        return Agent(model=model, system_prompt=ORCHESTRATOR_PROMPT, tools=tools, callback_handler=None)

    return orchestrator


def check(result) -> None:
    cycles = result.metrics.cycle_count
    if cycles != 4:
        raise RuntimeError(f"the orchestrator took {cycles} model turns, not 4")


def run_documented(orchestrator, count: int, concurrency: int) -> None:
    if concurrency <= 1:
        for _ in range(count):
            check(orchestrator()(REQUEST))
        return

    async def many() -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                check(await orchestrator().invoke_async(REQUEST))

        await asyncio.gather(*(one() for _ in range(count)))

    asyncio.run(many())


async def run_tuned(orchestrator, count: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(max(concurrency, 1))

    async def one() -> None:
        async with gate:
            check(await orchestrator().invoke_async(REQUEST))

    if concurrency <= 1:
        for _ in range(count):
            check(await orchestrator().invoke_async(REQUEST))
    else:
        await asyncio.gather(*(one() for _ in range(count)))


# ---------------------------------------------------------------- measuring


def server_stats(upstream: str) -> dict:
    base = upstream.rstrip("/").removesuffix("/v1")
    with urllib.request.urlopen(f"{base}/stats", timeout=10) as reply:
        return json.load(reply)


def delta(after, before):
    if isinstance(after, dict):
        return {k: delta(v, before.get(k, 0)) for k, v in after.items()}
    return after - before


def status_mib(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(args, rss_setup: float, server: dict, tool_calls: int, cpu_ms: float, wall: float) -> dict:
    turns = server["tool_call_replies"]
    return {
        "side": "strands",
        "variant": args.mode,
        "strands_version": version("strands-agents"),
        "openai_version": version("openai"),
        "python": sys.version.split()[0],
        "concurrency": args.concurrency,
        "conversations": args.conversations,
        "warmup": args.warmup,
        "tool_calls": tool_calls,
        "server": server,
        "tool_using_turns": turns,
        "cpu_ms": cpu_ms,
        "cpu_ms_per_tool_turn": cpu_ms / max(turns, 1),
        "cpu_ms_per_conversation": cpu_ms / max(args.conversations, 1),
        "threads": threading.active_count(),
        "rss_setup_mib": rss_setup,
        "peak_rss_mib": status_mib("VmHWM"),
        "wall_s": wall,
    }


def documented(args, upstream: str) -> dict:
    orchestrator = build(args.mode, upstream, args.model)
    rss_setup = status_mib("VmRSS")
    run_documented(orchestrator, args.warmup, args.concurrency)
    before, tools_before = server_stats(upstream), _tool_calls
    cpu_before, started = cpu_seconds(), time.perf_counter()
    run_documented(orchestrator, args.conversations, args.concurrency)
    wall, cpu_ms = time.perf_counter() - started, (cpu_seconds() - cpu_before) * 1000
    server = delta(server_stats(upstream), before)
    return summary(args, rss_setup, server, _tool_calls - tools_before, cpu_ms, wall)


async def tuned(args, upstream: str) -> dict:
    # One event loop for the whole run: the injected client must not cross loops.
    orchestrator = build(args.mode, upstream, args.model)
    rss_setup = status_mib("VmRSS")
    await run_tuned(orchestrator, args.warmup, args.concurrency)
    before, tools_before = server_stats(upstream), _tool_calls
    cpu_before, started = cpu_seconds(), time.perf_counter()
    await run_tuned(orchestrator, args.conversations, args.concurrency)
    wall, cpu_ms = time.perf_counter() - started, (cpu_seconds() - cpu_before) * 1000
    server = delta(server_stats(upstream), before)
    return summary(args, rss_setup, server, _tool_calls - tools_before, cpu_ms, wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--mode", choices=["documented", "tuned"], required=True)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--model", default="scripted")
    args = parser.parse_args()
    upstream = args.upstream.rstrip("/")
    if args.mode == "documented":
        report = documented(args, upstream)
    else:
        report = asyncio.run(tuned(args, upstream))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
