"""`openai:` backend against real HTTP servers on loopback: the in-process server over a stub,
and `synthloop serve` over a tiny TinyVLM checkpoint."""

from __future__ import annotations

import contextlib
import math
import os
import socket
import subprocess
import sys
import threading
import time

from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from PIL import Image

from synthloop.models.yes_no import yes_probability
from synthloop.models.backends.openai import OpenAIChatModel, to_openai_messages
from synthloop.models.protocols import Generation, Request
from synthloop.models.server import build_app
from synthloop.models.protocols import ModelError
from synthloop.models.uri import load_model


class EchoModel:
    """Replies with the prompt's last line and the image count; fixed next-token distribution."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def generate(self, requests, max_new_tokens=64, temperature=0.0, seed=0):
        self.batches.append(len(requests))
        return [Generation(f"{r.messages[-1]['content'].splitlines()[-1]} | {len(r.images)} image(s) "
                           f"{r.images[0].size if r.images else ''}", [-0.1, -0.2]) for r in requests]

    def next_token_logprobs(self, requests, top_k=20):
        return [[("Yes", math.log(0.6)), ("No", math.log(0.2)), ("Maybe", math.log(0.2))][:top_k] for _ in requests]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def echo_server():
    model, port = EchoModel(), free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(model, "echo"), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield model, f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(5)


def requests(n: int) -> list[Request]:
    return [Request([Image.new("RGB", (20 + i, 10), "red")], [{"role": "user", "content": f"<image>\nQ{i}?"}])
            for i in range(n)]


def test_generate_and_judge_over_http(echo_server):
    model, url = echo_server
    client = load_model(f"openai:{url}#echo")
    out = client.generate(requests(12), max_new_tokens=8)
    assert [g.text for g in out] == [f"Q{i}? | 1 image(s) {(20 + i, 10)}" for i in range(12)]
    assert out[0].token_logprobs == [-0.1, -0.2]
    assert client.p_yes(requests(2)) == pytest.approx([0.75, 0.75])
    assert max(model.batches) > 1  # concurrent HTTP requests were answered in shared model batches
    assert httpx.get(f"{url}/models").json()["data"][0]["id"] == "echo"


def test_bad_requests_get_400_with_reason(echo_server):
    _, url = echo_server
    bad = {"model": "echo", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]}]}
    reply = httpx.post(f"{url}/chat/completions", json=bad)
    assert reply.status_code == 400 and "data URLs" in reply.json()["error"]["message"]
    assert httpx.post(f"{url}/chat/completions", json={"messages": []}).status_code == 400


def test_message_conversion_keeps_image_order():
    request = Request([Image.new("RGB", (2, 2)), Image.new("RGB", (3, 3))],
                      [{"role": "user", "content": "<image> and <image>\nSame?"}])
    parts = to_openai_messages(request)[0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text", "image_url", "text"]
    assert to_openai_messages(Request([], [{"role": "user", "content": "hi"}])) == [{"role": "user", "content": "hi"}]


def test_retries_with_backoff_then_fails_without_leaking_key(monkeypatch):
    monkeypatch.setenv("SECRET_KEY_ENV", "sk-very-secret")
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["authorization"])
        if len(calls) < 3:
            return httpx.Response(503, text="busy")
        if len(calls) == 3:
            return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})
        return httpx.Response(401, text="bad key")

    client = OpenAIChatModel("http://test/v1", "m", api_key_env="SECRET_KEY_ENV", backoff_s=0.001)
    client.client = httpx.Client(transport=httpx.MockTransport(handler), headers=client.client.headers)
    assert client.generate(requests(1))[0].text == "ok"
    assert calls == ["Bearer sk-very-secret"] * 3
    with pytest.raises(ModelError) as err:
        client.generate(requests(1))
    assert "HTTP 401" in str(err.value) and "sk-very-secret" not in str(err.value) and len(calls) == 4


def tiny_checkpoint(folder) -> None:
    from synthloop.models.tinyvlm.checkpoint import save_checkpoint
    from synthloop.models.tinyvlm.network import TinyVLM, TinyVLMConfig
    from synthloop.models.tinyvlm.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(["Is it red? Yes No yes no red blue cube"] * 5, vocab_size=300, min_frequency=1)
    config = TinyVLMConfig(vocab_size=tokenizer.get_vocab_size(), d_model=32, n_layers=1, n_heads=2,
                           vision_width=8, image_grid=2)
    save_checkpoint(TinyVLM(config), tokenizer, folder)


@contextlib.contextmanager
def served(model: str, *options: str) -> Iterator[str]:
    """`synthloop serve MODEL` on a free loopback port while the block runs; its base URL."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-c", "from synthloop.cli import app; app()", "serve", model,
                               "--port", str(port), "--device", "cpu", *options], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/models", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def test_synthloop_serve_builtin_checkpoint_matches_direct_calls(tmp_path):
    pytest.importorskip("synthloop.models.tinyvlm.checkpoint")
    tiny_checkpoint(tmp_path / "ckpt")
    with served(str(tmp_path / "ckpt"), "--max-logprobs", "300") as url:
        remote = load_model(f"openai:{url}#ckpt")
        local = load_model(f"builtin:{tmp_path / 'ckpt'}")
        reqs = [Request([Image.new("RGB", (64, 64), c)], [{"role": "user", "content": "<image>\nIs it red?"}])
                for c in ("red", "blue")]
        assert [g.text for g in remote.generate(reqs, max_new_tokens=5)] == \
            [g.text for g in local.generate(reqs, max_new_tokens=5)]
        top = remote.next_token_logprobs(reqs, top_k=300)
        assert sum(math.exp(lp) for _, lp in top[0]) == pytest.approx(1.0, abs=1e-3)  # the whole vocabulary
        remote.judge_top_logprobs = 300  # an untrained model's Yes/No are not in the top 20
        expected = [yes_probability(t) for t in local.next_token_logprobs(reqs, 300)]
        assert remote.p_yes(reqs) == pytest.approx(expected, abs=1e-4)
