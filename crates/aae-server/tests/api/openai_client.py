#!/usr/bin/env python3
"""AAE's OpenAI-compatible gateway seen through the official clients (`openai`, `litellm`).

Run by the Rust tests (crates/aae-server/tests/api) with the interpreter of the venv that
scripts/test-servers.sh installs ($AAE_TOOLS_DIR/openai-venv):

    python openai_client.py --base-url http://127.0.0.1:PORT/v1 --api-key KEY --model MODEL \
        --scenario NAME [--embedding-model M] [--expect-status N]

Each scenario makes its requests, checks what it gets, and prints ONE JSON object on stdout
with what it observed (the Rust side asserts on it too). A failed check exits 1 with the reason
on stderr. The replies' texts are scripted by the Rust test; only their shape is checked here.
Anything a library prints goes to stderr, so stdout holds nothing but that JSON object.
"""

import argparse
import base64
import contextlib
import json
import math
import os
import struct
import sys
import traceback

import openai
from openai import OpenAI

SYSTEM = "You write short ad copy."
USER = "Write a tagline for a coffee brand."
WEATHER_QUESTION = "What is the weather in Paris?"
WEATHER_RESULT = {"city": "Paris", "forecast": "sunny", "temperature_c": 21}
FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "function_call"}
ERROR_FIELDS = ("message", "type", "code", "param")
WRONG_KEY = "aae-sk-this-key-does-not-exist-0123456789"
UNKNOWN_MODEL = "no-such-model"
TIMEOUT_SECS = 30
EMBEDDING_TOLERANCE = 1e-6

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name."}},
            "required": ["city"],
        },
    },
}

AD_SCHEMA = {
    "name": "ad",
    "schema": {
        "type": "object",
        "properties": {"headline": {"type": "string"}, "cta": {"type": "string"}},
        "required": ["headline", "cta"],
        "additionalProperties": False,
    },
    "strict": True,
}


class CheckFailed(Exception):
    """A check on what the server answered did not hold."""


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def client_for(args, api_key=None):
    return OpenAI(base_url=args.base_url, api_key=api_key or args.api_key, max_retries=0, timeout=TIMEOUT_SECS)


def ad_messages():
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]


def weather_messages():
    return [{"role": "system", "content": "You answer with the tools you are given."},
            {"role": "user", "content": WEATHER_QUESTION}]


def usage_of(usage, where):
    check(usage is not None, f"{where}: no usage")
    counts = {name: getattr(usage, name, None) for name in ("prompt_tokens", "completion_tokens", "total_tokens")}
    for name, value in counts.items():
        check(isinstance(value, int) and value >= 0, f"{where}: usage.{name} is {value!r}, not a count")
    check(counts["total_tokens"] == counts["prompt_tokens"] + counts["completion_tokens"],
          f"{where}: usage.total_tokens {counts['total_tokens']} != prompt_tokens + completion_tokens {counts}")
    return counts


def only_choice(completion, where):
    check(completion.object == "chat.completion", f"{where}: object is {completion.object!r}, not 'chat.completion'")
    check(isinstance(completion.id, str) and completion.id, f"{where}: no id")
    check(isinstance(completion.model, str) and completion.model, f"{where}: no model")
    check(len(completion.choices) == 1, f"{where}: {len(completion.choices)} choices, expected 1")
    choice = completion.choices[0]
    check(choice.index == 0, f"{where}: choice index {choice.index}")
    check(choice.finish_reason in FINISH_REASONS,
          f"{where}: finish_reason {choice.finish_reason!r} is not one of {sorted(FINISH_REASONS)}")
    check(choice.message.role == "assistant", f"{where}: message role {choice.message.role!r}")
    return choice


def tool_calls_of(message, where):
    calls = message.tool_calls or []
    check(calls, f"{where}: no tool_calls in the message {message.model_dump(exclude_none=True)}")
    out = []
    for call in calls:
        check(call.type == "function", f"{where}: tool call type {call.type!r}, not 'function'")
        check(isinstance(call.id, str) and call.id, f"{where}: tool call without an id")
        out.append(parsed_call(call.id, call.function.name, call.function.arguments, where))
    return out


def parsed_call(call_id, name, arguments, where):
    check(name == "get_weather", f"{where}: tool call names {name!r}; the only tool offered is get_weather")
    try:
        parsed = json.loads(arguments)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"{where}: tool call arguments {arguments!r} are not JSON ({error})") from None
    check(isinstance(parsed, dict), f"{where}: tool call arguments {arguments!r} are not a JSON object")
    return {"id": call_id, "name": name, "arguments": parsed}


def error_details(error, where):
    """The OpenAI-shaped error body of an APIStatusError (the client unwraps {"error": {...}})."""
    body = error.body
    check(isinstance(body, dict), f"{where}: error body is {body!r}, not an OpenAI error object")
    missing = [field for field in ERROR_FIELDS if field not in body]
    check(not missing, f"{where}: error body {body} lacks {missing} (the OpenAI shape has {list(ERROR_FIELDS)})")
    check(isinstance(body["message"], str) and body["message"], f"{where}: error without a message: {body}")
    check(isinstance(body["type"], str) and body["type"], f"{where}: error without a type: {body}")
    return {"status": error.status_code, "type": body["type"], "code": body["code"], "param": body["param"],
            "message": body["message"]}


# ------------------------------------------------------------------ scenarios


def scenario_plain(args):
    completion = client_for(args).chat.completions.create(
        model=args.model, messages=ad_messages(), temperature=0.2, max_tokens=50, stop=["END"])
    choice = only_choice(completion, "plain")
    check(isinstance(choice.message.content, str), f"plain: content is {choice.message.content!r}")
    return {"content": choice.message.content, "finish_reason": choice.finish_reason,
            "usage": usage_of(completion.usage, "plain"), "model": completion.model, "id": completion.id,
            "object": completion.object}


def scenario_stream(args):
    stream = client_for(args).chat.completions.create(
        model=args.model, messages=ad_messages(), temperature=0.2, max_tokens=50, stop=["END"], stream=True,
        stream_options={"include_usage": True})
    chunks, ids, models, text, finish_reason, role, usage = 0, set(), set(), [], None, None, None
    for chunk in stream:
        chunks += 1
        where = f"stream chunk {chunks}"
        check(chunk.object == "chat.completion.chunk", f"{where}: object {chunk.object!r}, not 'chat.completion.chunk'")
        check(usage is None, f"{where}: a chunk after the usage chunk (usage must come last)")
        ids.add(chunk.id)
        models.add(chunk.model)
        if chunk.usage is not None:
            check(chunk.choices == [], f"{where}: the usage chunk has choices {chunk.choices} (must be [])")
            usage = usage_of(chunk.usage, where)
            continue
        check(len(chunk.choices) == 1, f"{where}: {len(chunk.choices)} choices without usage")
        choice = chunk.choices[0]
        if role is None:
            role = choice.delta.role
            check(role == "assistant", f"{where}: the first delta's role is {role!r}, not 'assistant'")
        if choice.delta.content:
            text.append(choice.delta.content)
        if choice.finish_reason is not None:
            check(finish_reason is None, f"{where}: a second finish_reason {choice.finish_reason!r}")
            finish_reason = choice.finish_reason
    check(chunks > 0, "stream: no chunk")
    check(len(ids) == 1, f"stream: chunks carry {len(ids)} different ids {sorted(map(str, ids))}")
    check(finish_reason in FINISH_REASONS, f"stream: finish_reason {finish_reason!r}")
    check(usage is not None, "stream: no usage chunk although stream_options.include_usage was true")
    return {"content": "".join(text), "finish_reason": finish_reason, "usage": usage, "chunks": chunks,
            "id": ids.pop(), "model": sorted(models)[0]}


def scenario_tools(args):
    client = client_for(args)
    messages = weather_messages()
    first = client.chat.completions.create(model=args.model, messages=messages, tools=[WEATHER_TOOL],
                                           tool_choice="auto")
    choice = only_choice(first, "tools (1st request)")
    check(choice.finish_reason == "tool_calls",
          f"tools (1st request): finish_reason {choice.finish_reason!r}, not 'tool_calls'")
    calls = tool_calls_of(choice.message, "tools (1st request)")
    messages.append({
        "role": "assistant",
        "content": choice.message.content,
        "tool_calls": [{"id": c["id"], "type": "function",
                        "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}} for c in calls],
    })
    for call in calls:
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(WEATHER_RESULT)})
    second = client.chat.completions.create(model=args.model, messages=messages, tools=[WEATHER_TOOL])
    final = only_choice(second, "tools (2nd request)")
    check(isinstance(final.message.content, str) and final.message.content,
          f"tools (2nd request): no text after the tool result: {final.message.model_dump(exclude_none=True)}")
    return {"tool_calls": calls, "final_content": final.message.content, "final_finish_reason": final.finish_reason,
            "usage": usage_of(second.usage, "tools (2nd request)")}


def scenario_stream_tools(args):
    stream = client_for(args).chat.completions.create(
        model=args.model, messages=weather_messages(), tools=[WEATHER_TOOL], tool_choice="auto", stream=True)
    calls, chunks, finish_reason, text = {}, 0, None, []
    for chunk in stream:
        chunks += 1
        where = f"stream_tools chunk {chunks}"
        check(chunk.object == "chat.completion.chunk", f"{where}: object {chunk.object!r}")
        # Many clients read chunk.choices[0]: a usage chunk nobody asked for breaks them.
        check(len(chunk.choices) == 1, f"{where}: {len(chunk.choices)} choices (no usage was asked for)")
        choice = chunk.choices[0]
        if choice.delta.content:
            text.append(choice.delta.content)
        for fragment in choice.delta.tool_calls or []:
            check(isinstance(fragment.index, int), f"{where}: tool call fragment without an index")
            call = calls.setdefault(fragment.index, {"id": None, "name": "", "arguments": ""})
            if fragment.id:
                check(call["id"] in (None, fragment.id), f"{where}: call {fragment.index} changes id")
                call["id"] = fragment.id
            if fragment.function is not None:
                call["name"] += fragment.function.name or ""
                call["arguments"] += fragment.function.arguments or ""
        if choice.finish_reason is not None:
            finish_reason = choice.finish_reason
    check(finish_reason == "tool_calls", f"stream_tools: finish_reason {finish_reason!r}, not 'tool_calls'")
    check(calls, "stream_tools: no tool call fragments")
    check(sorted(calls) == list(range(len(calls))), f"stream_tools: tool call indexes {sorted(calls)}")
    assembled = []
    for index in sorted(calls):
        call = calls[index]
        check(call["id"], f"stream_tools: call {index} never got an id")
        assembled.append(parsed_call(call["id"], call["name"], call["arguments"], f"stream_tools call {index}"))
    return {"tool_calls": assembled, "finish_reason": finish_reason, "chunks": chunks, "content": "".join(text)}


def scenario_tool_choice_required(args):
    completion = client_for(args).chat.completions.create(
        model=args.model, messages=weather_messages(), tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = only_choice(completion, "tool_choice_required")
    # OpenAI itself answers finish_reason "stop" to a named tool_choice: not checked.
    return {"tool_calls": tool_calls_of(choice.message, "tool_choice_required"),
            "finish_reason": choice.finish_reason}


def parsed_content(completion, where):
    choice = only_choice(completion, where)
    content = choice.message.content
    try:
        parsed = json.loads(content)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"{where}: content {content!r} is not JSON ({error})") from None
    check(isinstance(parsed, dict), f"{where}: content {content!r} is not a JSON object")
    return parsed, choice.finish_reason


def scenario_json_schema(args):
    completion = client_for(args).chat.completions.create(
        model=args.model, messages=ad_messages(), response_format={"type": "json_schema", "json_schema": AD_SCHEMA})
    parsed, finish_reason = parsed_content(completion, "json_schema")
    for field in AD_SCHEMA["schema"]["required"]:
        check(isinstance(parsed.get(field), str), f"json_schema: {field} is {parsed.get(field)!r}, not a string")
    return {"parsed": parsed, "finish_reason": finish_reason}


def scenario_json_object(args):
    completion = client_for(args).chat.completions.create(
        model=args.model, messages=ad_messages() + [{"role": "user", "content": "Answer in JSON."}],
        response_format={"type": "json_object"})
    parsed, finish_reason = parsed_content(completion, "json_object")
    return {"parsed": parsed, "finish_reason": finish_reason}


def scenario_models(args):
    page = client_for(args).models.list()
    check(page.object == "list", f"models: object {page.object!r}, not 'list'")
    models = []
    for model in page.data:
        fields = model.to_dict()
        where = f"models: {fields}"
        check(isinstance(fields.get("id"), str) and fields["id"], f"{where} has no id")
        check(fields.get("object") == "model", f"{where}: object is not 'model'")
        check(isinstance(fields.get("created"), int), f"{where}: created is not an integer timestamp")
        check(isinstance(fields.get("owned_by"), str) and fields["owned_by"], f"{where}: no owned_by")
        models.append({"id": fields["id"], "owned_by": fields["owned_by"], "created": fields["created"]})
    ids = [m["id"] for m in models]
    check(len(set(ids)) == len(ids), f"models: duplicate ids in {ids}")
    check(args.model in ids, f"models: {args.model!r} is not listed: {ids}")
    return {"object": page.object, "ids": ids, "models": models}


def vectors(response, count, where, base64_asked=False):
    """The response's vectors in index order, and whether the items came in that order."""
    check(response.object == "list", f"{where}: object {response.object!r}, not 'list'")
    check(len(response.data) == count, f"{where}: {len(response.data)} embeddings for {count} inputs")
    for item in response.data:
        check(item.object == "embedding", f"{where}: item object {item.object!r}, not 'embedding'")
    indexes = [item.index for item in response.data]
    check(sorted(indexes) == list(range(count)), f"{where}: indexes {indexes}")
    out = []
    for item in sorted(response.data, key=lambda i: i.index):
        vector = item.embedding
        # Asked for base64 explicitly, the client hands the server's string over as it is.
        check(isinstance(vector, str) == base64_asked,
              f"{where}: embedding {item.index} is {type(vector).__name__}, "
              f"expected {'a base64 string' if base64_asked else 'a list of floats'}")
        if base64_asked:
            raw = base64.b64decode(vector)
            check(len(raw) % 4 == 0, f"{where}: base64 embedding of {len(raw)} bytes is not float32s")
            vector = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        check(vector and all(isinstance(x, (int, float)) and math.isfinite(x) for x in vector),
              f"{where}: embedding {item.index} is not a list of finite numbers")
        out.append(vector)
    check(len({len(v) for v in out}) == 1, f"{where}: dimensions differ: {[len(v) for v in out]}")
    check(response.usage is not None and response.usage.prompt_tokens >= 0, f"{where}: no usage")
    return out, indexes == sorted(indexes)


def max_difference(left, right, where):
    check(len(left) == len(right) and all(len(a) == len(b) for a, b in zip(left, right)),
          f"{where}: shapes differ")
    return max(abs(a - b) for u, v in zip(left, right) for a, b in zip(u, v))


def scenario_embeddings(args):
    client = client_for(args)
    inputs = ["a", "b c"]
    # No encoding_format: the client asks for base64 and decodes it itself (its default).
    default = client.embeddings.create(model=args.embedding_model, input=inputs)
    batch, ordered = vectors(default, len(inputs), "embeddings (default, base64 decoded by the client)")
    floats, _ = vectors(client.embeddings.create(model=args.embedding_model, input=inputs, encoding_format="float"),
                        len(inputs), "embeddings (float)")
    b64, _ = vectors(client.embeddings.create(model=args.embedding_model, input=inputs, encoding_format="base64"),
                     len(inputs), "embeddings (base64)", base64_asked=True)
    single, _ = vectors(client.embeddings.create(model=args.embedding_model, input=inputs[0]), 1,
                        "embeddings (one string)")
    float_vs_base64 = max_difference(floats, b64, "float vs base64")
    float_vs_default = max_difference(floats, batch, "float vs default")
    single_vs_batch = max_difference(single, batch[:1], "one string vs the batch's first")
    check(float_vs_base64 <= EMBEDDING_TOLERANCE, f"embeddings: float and base64 differ by {float_vs_base64}")
    check(float_vs_default <= EMBEDDING_TOLERANCE, f"embeddings: float and default differ by {float_vs_default}")
    check(single_vs_batch <= 1e-4, f"embeddings: input 'a' alone and in a batch differ by {single_vs_batch}")
    return {"count": len(batch), "dims": len(batch[0]), "single_count": len(single), "single_dims": len(single[0]),
            "ordered": ordered, "model": default.model,
            "usage": {"prompt_tokens": default.usage.prompt_tokens, "total_tokens": default.usage.total_tokens},
            "max_diff": {"float_vs_base64": float_vs_base64, "float_vs_default": float_vs_default,
                         "single_vs_batch": single_vs_batch}}


def scenario_errors(args):
    try:
        client_for(args, api_key=WRONG_KEY).chat.completions.create(model=args.model, messages=ad_messages())
        raise CheckFailed("errors: a wrong API key was accepted")
    except openai.AuthenticationError as error:
        unauthorized = error_details(error, "errors (wrong key)")
    check(unauthorized["status"] == 401, f"errors: wrong key answered {unauthorized['status']}")
    check(WRONG_KEY not in unauthorized["message"], "errors: the 401 message repeats the whole key")
    try:
        client_for(args).chat.completions.create(model=UNKNOWN_MODEL, messages=ad_messages())
        raise CheckFailed(f"errors: model {UNKNOWN_MODEL!r} was accepted")
    except openai.NotFoundError as error:
        not_found = error_details(error, "errors (unknown model)")
    check(not_found["status"] == 404, f"errors: unknown model answered {not_found['status']}")
    check(args.model in not_found["message"],
          f"errors: the 404 message does not list the valid model {args.model!r}: {not_found['message']!r}")
    return {"unauthorized": unauthorized, "not_found": not_found}


def scenario_expect_status(args):
    check(args.expect_status is not None, "expect_status needs --expect-status N")
    try:
        completion = client_for(args).chat.completions.create(model=args.model, messages=ad_messages(), max_tokens=50)
        raise CheckFailed(f"expect_status: expected {args.expect_status}, the request succeeded ({completion.id})")
    except openai.APIStatusError as error:
        details = error_details(error, f"expect_status {args.expect_status}")
        retry_after = error.response.headers.get("retry-after")
    check(details["status"] == args.expect_status,
          f"expect_status: got {details['status']} ({details['message']}), expected {args.expect_status}")
    if args.expect_status == 429:
        check(retry_after is not None and retry_after.strip().isdigit(),
              f"expect_status: 429 without a Retry-After of whole seconds (got {retry_after!r})")
    return dict(details, retry_after=retry_after)


def scenario_litellm(args):
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no internet: never fetch the cost map
    import litellm  # noqa: PLC0415 - only this scenario needs it, and only after the line above

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    common = {"model": "openai/" + args.model, "api_base": args.base_url, "api_key": args.api_key,
              "messages": ad_messages(), "max_tokens": 50, "timeout": TIMEOUT_SECS, "max_retries": 0}
    response = litellm.completion(**common)
    check(response.choices, "litellm: no choices")
    content = response.choices[0].message.content
    check(isinstance(content, str) and content, f"litellm: content {content!r}")
    streamed, chunks, finish_reason = [], 0, None
    for chunk in litellm.completion(**common, stream=True):
        chunks += 1
        for choice in chunk.choices:
            if choice.delta.content:
                streamed.append(choice.delta.content)
            if choice.finish_reason is not None:
                finish_reason = choice.finish_reason
    check(streamed, f"litellm: the stream ({chunks} chunks) had no text")
    return {"content": content, "finish_reason": response.choices[0].finish_reason,
            "usage": {"prompt_tokens": response.usage.prompt_tokens,
                      "completion_tokens": response.usage.completion_tokens},
            "stream_content": "".join(streamed), "stream_finish_reason": finish_reason, "stream_chunks": chunks}


SCENARIOS = {
    "plain": scenario_plain,
    "stream": scenario_stream,
    "tools": scenario_tools,
    "stream_tools": scenario_stream_tools,
    "tool_choice_required": scenario_tool_choice_required,
    "json_schema": scenario_json_schema,
    "json_object": scenario_json_object,
    "models": scenario_models,
    "embeddings": scenario_embeddings,
    "errors": scenario_errors,
    "expect_status": scenario_expect_status,
    "litellm": scenario_litellm,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the gateway, e.g. http://127.0.0.1:8080/v1")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--model", required=True, help="a chat model the gateway serves")
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    parser.add_argument("--embedding-model", help="an embedding model (scenario embeddings)")
    parser.add_argument("--expect-status", type=int, help="the HTTP status expected (scenario expect_status)")
    args = parser.parse_args()
    if args.scenario == "embeddings" and not args.embedding_model:
        parser.error("--scenario embeddings needs --embedding-model")
    if args.scenario == "expect_status" and args.expect_status is None:
        parser.error("--scenario expect_status needs --expect-status")

    try:
        # Whatever a library prints must not land next to the JSON object.
        with contextlib.redirect_stdout(sys.stderr):
            result = SCENARIOS[args.scenario](args)
    except CheckFailed as failure:
        print(f"openai_client.py {args.scenario}: check failed: {failure}", file=sys.stderr)
        return 1
    except openai.APIStatusError as error:
        print(f"openai_client.py {args.scenario}: unexpected HTTP {error.status_code}: {error.body}", file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 - any other failure: the traceback says where
        traceback.print_exc()
        print(f"openai_client.py {args.scenario}: failed with an exception (above)", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
