"""`synthloop serve` under hostile requests: 413/400/401 with a reason, never a traceback, and one
failing request never fails the others batched with it. Real HTTP on loopback."""

from __future__ import annotations

import base64
import io
import socket
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from PIL import Image

from synthloop.models.protocols import Generation
from synthloop.models.server import build_app
from synthloop.models.server_request import Limits

KEY = "sk-test-key"


class PickyModel:
    """Fails any batch holding a prompt with 'TOO LONG' (as a model past its context would)."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def generate(self, requests, max_new_tokens=64, temperature=0.0, seed=0):
        self.batches.append(len(requests))
        if any("TOO LONG" in r.messages[-1]["content"] for r in requests):
            raise ValueError("prompt longer than the context")
        time.sleep(0.05)  # long enough for concurrent requests to share a batch
        return [Generation(r.messages[-1]["content"], [-0.5]) for r in requests]

    def next_token_logprobs(self, requests, top_k=20):
        return [[("Yes", -0.1)] for _ in requests]


@pytest.fixture(scope="module")
def server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = PickyModel()
    limits = Limits(max_body_bytes=200_000, max_images=4, max_pixels=1000 * 1000)
    app = build_app(model, "picky", api_key=KEY, limits=limits)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    yield model, f"http://127.0.0.1:{port}/v1"
    srv.should_exit = True
    thread.join(5)


def post(url, body=None, content=None, key=KEY):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{url}/chat/completions", json=body, content=content, headers=headers, timeout=30)


def chat(text="hi", **params):
    return {"model": "picky", "messages": [{"role": "user", "content": text}], **params}


def data_url(png: bytes) -> dict:
    return {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}}


def png(size=(4, 4)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, format="PNG")
    return buffer.getvalue()


def png_header(width, height) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def assert_refused(reply, status, words):
    assert reply.status_code == status, reply.text
    assert words in reply.json()["error"]["message"], reply.json()
    assert "Traceback" not in reply.text and "File \"" not in reply.text


@pytest.mark.parametrize("params, words", [
    ({"max_tokens": -1}, "max_tokens: Input should be greater than or equal to 1"),
    ({"max_tokens": 10**9}, "max_tokens: 1000000000 > this server's limit 4096"),
    ({"temperature": -1}, "temperature: Input should be greater than or equal to 0"),
    ({"temperature": 1e308}, "temperature: Input should be less than or equal to 2"),
    ({"logprobs": True, "top_logprobs": -1}, "top_logprobs: Input should be greater than or equal to 0"),
    ({"logprobs": True, "top_logprobs": 10**6}, "top_logprobs: 1000000 > this server's limit 20"),
    ({"seed": -5}, "seed"),
    ({"messages": "hi"}, "messages"),
])
def test_out_of_range_parameters_get_400(server, params, words):
    _, url = server
    assert_refused(post(url, chat(**params)), 400, words)


def test_nan_infinite_and_deep_bodies_get_400(server):
    _, url = server
    head = b'{"messages": [{"role": "user", "content": "x"}], '
    assert_refused(post(url, content=head + b'"temperature": NaN}'), 400, "temperature")
    assert_refused(post(url, content=head + b'"max_tokens": 1e999}'), 400, "max_tokens")
    deep = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    reply = post(url, content=deep)
    assert reply.status_code in (400, 413) and "Traceback" not in reply.text


def test_body_limit_is_413_and_does_not_stall_the_server(server):
    _, url = server
    assert_refused(post(url, content=b"x" * 300_000), 413, "request body larger than 200000 bytes")
    assert httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_image_limits(server):
    _, url = server
    bomb = chat(); bomb["messages"][0]["content"] = [data_url(png_header(30000, 30000)), {"type": "text", "text": "?"}]
    assert_refused(post(url, bomb), 400, "decompression bomb")
    big = chat(); big["messages"][0]["content"] = [data_url(png_header(2000, 2000))]
    assert_refused(post(url, big), 400, "decompression bomb: 2000x2000 = 4000000 pixels > 1000000")
    many = chat(); many["messages"][0]["content"] = [data_url(png()) for _ in range(5)]
    assert_refused(post(url, many), 400, "more than 4 images in one request")
    ok = chat(); ok["messages"][0]["content"] = [data_url(png()), {"type": "text", "text": "what?"}]
    assert post(url, ok).status_code == 200


def test_api_key_is_required_on_every_endpoint(server):
    _, url = server
    assert_refused(post(url, chat(), key=None), 401, "API key")
    assert_refused(post(url, chat(), key="sk-wrong"), 401, "API key")
    assert httpx.get(f"{url}/models").status_code == 401
    assert post(url, chat()).json()["choices"][0]["message"]["content"] == "hi"


def test_a_failing_request_fails_alone_in_its_batch(server):
    model, url = server
    model.batches.clear()
    texts = [f"good {i}" for i in range(11)] + ["TOO LONG"] + [f"good {i}" for i in range(11, 22)]
    with ThreadPoolExecutor(len(texts)) as pool:
        replies = list(pool.map(lambda text: post(url, chat(text)), texts))
    assert [r.status_code for r in replies] == [200] * 11 + [500] + [200] * 11
    assert [r.json()["choices"][0]["message"]["content"] for r in replies if r.status_code == 200] == \
        [t for t in texts if t != "TOO LONG"]
    assert_refused(replies[11], 500, "the model failed on this request: ValueError: prompt longer than the context")
    assert max(model.batches) > 1  # the bad request was batched with good ones, and they were answered
