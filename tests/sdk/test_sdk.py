"""The official `anthropic` SDK against the gateway (run by tests/sdk/run.sh).

usage: test_sdk.py PROXY_URL

The gateway relays to mock-upstream, which answers every Messages request
with SDK_MOCK_TEXT (default below) cut into small deltas and body frames.
The gateway must mask the email and the GitHub token in that text in the
streaming and the non-streaming answer, reject a prompt holding the token,
and pass count_tokens and the model list through untouched. Every check
runs; each one's name is printed as it passes; the exit status is 1 if
any failed.
"""

import os
import re
import sys
import traceback

import anthropic

MODEL = "claude-sonnet-4-5"
MOCK_MODEL = "claude-mock-1"
TOKEN = "ghp_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh"
DEFAULT_TEXT = f"Contact jane.doe@northwind-mail.com; token {TOKEN} is live."
HI = [{"role": "user", "content": "hi"}]

# The patterns of rules/pii.rules `email` and rules/secrets.rules `github-token`.
EMAIL = re.compile(
    r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,4}\.[A-Za-z]{2,24}\b"
)
GITHUB_TOKEN = re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b")


def redacted(text):
    text = EMAIL.sub("[redacted:email]", text)
    return GITHUB_TOKEN.sub("[redacted:github-token]", text)


def final_text(message):
    assert message.role == "assistant", message
    kinds = [block.type for block in message.content]
    assert kinds == ["text"], f"content block types {kinds}"
    return message.content[0].text


def check_stream_helper(client, expected):
    with client.messages.stream(model=MODEL, max_tokens=256, messages=HI) as stream:
        pieces = list(stream.text_stream)
        message = stream.get_final_message()
    text = "".join(pieces)
    assert text == expected, f"text_stream {text!r} != {expected!r}"
    assert final_text(message) == expected, f"final message {message!r}"
    assert message.stop_reason == "end_turn", message.stop_reason
    assert len(pieces) > 1, f"one text piece only: {pieces!r}"


def check_raw_stream(client, expected):
    events = client.messages.create(model=MODEL, max_tokens=256, messages=HI, stream=True)
    kinds = []
    pieces = []
    for event in events:
        kinds.append(event.type)
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            pieces.append(event.delta.text)
    text = "".join(pieces)
    assert text == expected, f"text_delta texts {text!r} != {expected!r}"
    assert kinds[0] == "message_start", kinds
    assert kinds[-1] == "message_stop", kinds
    for kind in ("content_block_start", "content_block_stop", "message_delta"):
        assert kinds.count(kind) == 1, f"{kind} x{kinds.count(kind)} in {kinds}"


def check_non_streaming(client, expected):
    message = client.messages.create(model=MODEL, max_tokens=256, messages=HI)
    assert final_text(message) == expected, f"message {message!r}"
    assert message.stop_reason == "end_turn", message.stop_reason


def leaky_prompt():
    return [{"role": "user", "content": f"please use my token {TOKEN} to push"}]


def check_reject(client, _expected):
    try:
        client.messages.create(model=MODEL, max_tokens=256, messages=leaky_prompt())
    except anthropic.BadRequestError as error:
        assert error.status_code == 400, error.status_code
        assert "github-token" in error.message, error.message
        assert TOKEN not in error.message, error.message
    else:
        raise AssertionError("a prompt with a GitHub token was not rejected")


def check_reject_stream(client, _expected):
    try:
        with client.messages.stream(
            model=MODEL, max_tokens=256, messages=leaky_prompt()
        ) as stream:
            stream.until_done()
    except anthropic.BadRequestError as error:
        assert "github-token" in error.message, error.message
    else:
        raise AssertionError("a streamed prompt with a GitHub token was not rejected")


def check_count_tokens(client, _expected):
    count = client.messages.count_tokens(model=MODEL, messages=HI)
    assert isinstance(count.input_tokens, int), count
    assert count.input_tokens > 0, count


def check_models_list(client, _expected):
    models = list(client.models.list())
    ids = [model.id for model in models]
    assert MOCK_MODEL in ids, f"model ids {ids}"


CHECKS = [
    ("messages.stream: text_stream and get_final_message redacted", check_stream_helper),
    ("messages.create(stream=True): raw text_delta events redacted", check_raw_stream),
    ("messages.create: non-streaming content[0].text redacted", check_non_streaming),
    ("messages.create: GitHub token in prompt -> BadRequestError", check_reject),
    ("messages.stream: GitHub token in prompt -> BadRequestError", check_reject_stream),
    ("messages.count_tokens", check_count_tokens),
    ("models.list", check_models_list),
]


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    client = anthropic.Anthropic(
        base_url=sys.argv[1], api_key="test-key", max_retries=0, timeout=30.0
    )
    expected = redacted(os.environ.get("SDK_MOCK_TEXT", DEFAULT_TEXT))
    assert "[redacted:email]" in expected and "[redacted:github-token]" in expected, expected
    failed = []
    for name, check in CHECKS:
        try:
            check(client, expected)
        except Exception:  # report every failing check, not just the first
            failed.append(name)
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
        else:
            print(f"ok   {name}", flush=True)
    if failed:
        print(f"{len(failed)} of {len(CHECKS)} SDK checks failed", file=sys.stderr)
        return 1
    print(f"all {len(CHECKS)} SDK checks passed (anthropic {anthropic.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
