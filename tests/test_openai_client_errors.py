"""The `openai:` client's errors: no key, no echoed reply or headers, no credentials from the URL, and an
unreachable server in one line."""

import socket

import httpx
import pytest

from synthloop.models.backends.openai import OpenAIChatModel, redacted_url
from synthloop.models.protocols import ModelError, Request

KEY = "sk-very-secret-key"
REQUEST = [Request([], [{"role": "user", "content": "hi"}])]


def test_errors_never_show_the_key_the_reply_or_url_credentials(monkeypatch):
    monkeypatch.setenv("SECRET_KEY_ENV", KEY)

    def echo(request: httpx.Request) -> httpx.Response:  # a server that echoes what it got, key included
        return httpx.Response(403, text=f"denied: {dict(request.headers)} {request.url}")

    client = OpenAIChatModel("http://user:url-password@test:8000/v1?api_key=query-secret", "m",
                             api_key_env="SECRET_KEY_ENV", retries=0)
    client.client = httpx.Client(transport=httpx.MockTransport(echo), headers=client.client.headers)
    with pytest.raises(ModelError) as err:
        client.generate(REQUEST)
    message = str(err.value)
    assert message == "openai:http://test:8000/v1#m: HTTP 403 Forbidden"
    for secret in (KEY, "url-password", "query-secret", "denied"):
        assert secret not in message


def test_malformed_reply_is_a_model_error():
    client = OpenAIChatModel("http://test/v1", "m", retries=0)
    client.client = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, json={"x": 1})))
    with pytest.raises(ModelError, match=r"^openai:http://test/v1#m: the reply is not a chat completion$"):
        client.generate(REQUEST)


def test_redacted_url():
    assert redacted_url("https://u:p@h.example:443/v1/?key=s#frag") == "https://h.example:443/v1/"
    assert redacted_url("http://[::1]:8000/v1") == "http://[::1]:8000/v1"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_one_line(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    client = OpenAIChatModel(f"http://127.0.0.1:{closed_port()}/v1", "m", retries=1, backoff_s=0.001)
    with pytest.raises(ModelError) as err:
        client.generate(REQUEST)
    assert "cannot reach the server (ConnectError" in str(err.value) and "\n" not in str(err.value)
