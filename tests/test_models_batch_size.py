"""A model op's `batch_size`: requests per forward pass, given to the backend when the model loads and
part of the op's cache keys; a backend that takes one request per call refuses it in one line."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from synthloop.models.cache import cache_key
from synthloop.models.protocols import ModelError
from synthloop.models.uri import load_fresh, load_model
from synthloop.ops import op_class

FACTORIES = '''
class Counter:
    def __init__(self, device, batch_size=None):
        self.device, self.batch_size = device, batch_size


def batched(device, batch_size=7):
    return Counter(device, batch_size)


def unbatched(device):
    return Counter(device)
'''


@pytest.fixture
def factories(tmp_path, monkeypatch) -> str:
    (tmp_path / "batch_factories.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "batch_factories"


def test_a_py_factory_gets_the_batch_size_or_refuses_it(factories):
    assert load_fresh(f"py:{factories}:batched", device="cpu").batch_size == 7
    assert load_fresh(f"py:{factories}:batched", device="cpu", batch_size=3).batch_size == 3
    assert load_fresh(f"py:{factories}:unbatched", device="cpu").batch_size is None
    with pytest.raises(ModelError, match=rf"^py:{factories}:unbatched: unbatched\(\) takes no batch_size, which the "
                                         r"op sets$"):
        load_fresh(f"py:{factories}:unbatched", device="cpu", batch_size=3)


@pytest.mark.parametrize(("uri", "error"), [
    ("pkg:rapidocr", r"^pkg:rapidocr reads one image per call; batch_size does not apply to it$"),
    ("openai:http://127.0.0.1:9/v1#m", r"^openai:http://127.0.0.1:9/v1#m: the server batches the requests it is sent "
                                       r"\(one per call\); batch_size does not apply to it$")])
def test_backends_that_take_one_request_per_call_refuse_a_batch_size(uri, error):
    with pytest.raises(ModelError, match=error):
        load_fresh(uri, device="cpu", batch_size=4)


def test_an_ops_batch_size_cuts_its_models_forward_passes_and_keys_its_cache(monkeypatch):
    pytest.importorskip("efficientnet_lite_pytorch")
    op, default = op_class("embed")(batch_size=2), op_class("embed")()
    assert op.loaded is not default.loaded  # loaded apart: one model object per (URI, device, batch size)
    assert (op.loaded.batch_size, default.loaded.batch_size) == (2, 32)
    assert op.loaded is load_model("pkg:efficientnet-lite0", device="auto", batch_size=2)
    passes = []
    forward = op.loaded.model.extract_features
    monkeypatch.setattr(op.loaded.model, "extract_features",
                        lambda pixels: passes.append(len(pixels)) or forward(pixels))
    images = [Image.new("RGB", (32, 24), (40 * i, 90, 200 - 30 * i)) for i in range(5)]
    assert np.allclose(op.loaded.embed_images(images), default.loaded.embed_images(images), atol=1e-5)
    assert passes == [2, 2, 1]
    # a cache shared by runs never hands one batch size's outputs to another; without one, the keys are as before
    keys = {}
    for name, each in (("batch 2", op), ("default", default)):
        each._cache = SimpleNamespace(cached=lambda found, compute, name=name: keys.setdefault(name, found))
        each.cached_call("embed_images", [None], [["h"]], lambda indices: [])
    assert keys["default"] == [cache_key(default.model, "embed_images", None, ["h"])]
    assert keys["batch 2"] == [cache_key(op.model, "embed_images", None, ["h"], batch_size=2)] != keys["default"]


def test_a_batch_size_below_one_is_a_recipe_error():
    with pytest.raises(ValueError, match="batch_size"):
        op_class("embed")(batch_size=0)
