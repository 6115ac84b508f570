"""`hf:` backend on tiny from-config models of real architectures (LLaVA, CLIP), saved and reloaded."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from PIL import Image

from synthloop.models.protocols import Request
from synthloop.models.protocols import ModelError
from synthloop.models.uri import load_model, parse_uri

transformers = pytest.importorskip("transformers")
from tiny_llava import VISION, image_processor, save_tiny_llava, text_config, tiny_tokenizer  # noqa: E402
@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    save_tiny_llava(root / "llava")
    tokenizer = tiny_tokenizer()
    clip_config = transformers.CLIPConfig(text_config=dict(text_config(tokenizer), max_position_embeddings=32),
                                          vision_config=VISION, projection_dim=16)
    transformers.CLIPModel(clip_config).save_pretrained(root / "clip")
    transformers.CLIPProcessor(image_processor=image_processor(), tokenizer=tokenizer).save_pretrained(root / "clip")
    return root


def requests() -> list[Request]:
    return [Request([Image.new("RGB", (40, 30), "red")], [{"role": "user", "content": "<image>\nIs it red?"}]),
            Request([Image.new("RGB", (64, 64), "blue")],
                    [{"role": "user", "content": "<image>\nWhat colour is the cube in this photo?"}])]


def test_llava_generates_deterministically_and_batched_equals_single(tiny_models):
    model = load_model(f"hf:{tiny_models / 'llava'}", device="cpu")
    batched = model.generate(requests(), max_new_tokens=4)
    single = [model.generate([r], max_new_tokens=4)[0] for r in requests()]
    assert [g.text for g in batched] == [g.text for g in single]
    assert np.allclose(batched[1].token_logprobs, single[1].token_logprobs, atol=1e-4)
    assert all(len(g.token_logprobs) == 4 and max(g.token_logprobs) <= 0 for g in batched)


def test_llava_judge_uses_full_next_token_distribution(tiny_models):
    model = load_model(f"hf:{tiny_models / 'llava'}", device="cpu")
    p = model.p_yes(requests())
    inputs = model._encode(model._prompts(requests()[:1]), requests()[:1], "right")
    with torch.no_grad():
        probs = model.model(**inputs).logits[0, -1].float().softmax(-1)
    yes, no = probs[model.yes_ids].sum(), probs[model.no_ids].sum()
    assert model.yes_ids and model.no_ids and p[0] == pytest.approx(float(yes / (yes + no)), abs=1e-5)
    top = model.next_token_logprobs(requests()[:1], top_k=5)[0]
    assert len(top) == 5 and top[0][1] == pytest.approx(float(probs.max().log()), abs=1e-4)


def test_llava_option_scores_batched_equal_single(tiny_models):
    model = load_model(f"hf:{tiny_models / 'llava'}", device="cpu")
    both = model.score_options(requests(), [["red", "blue cube"], ["yes"]])
    alone = model.score_options(requests()[1:], [["yes"]])
    assert len(both[0]) == 2 and both[1][0] == pytest.approx(alone[0][0], abs=1e-4)
    assert all(s < 0 for row in both for s in row)


def test_clip_scores_are_cosines_of_normalised_embeddings(tiny_models):
    model = load_model(f"hf:{tiny_models / 'clip'}", device="cpu")
    images = [Image.new("RGB", (48, 48), "red"), Image.new("RGB", (48, 48), "blue")]
    texts = ["a red cube", "a photo of a cat"]
    image_vectors, text_vectors = model.embed_images(images), model.embed_texts(texts)
    assert image_vectors.shape == (2, 16) and np.allclose(np.linalg.norm(text_vectors, axis=1), 1, atol=1e-5)
    assert model.score(images, texts) == pytest.approx((image_vectors * text_vectors).sum(1).tolist(), abs=1e-5)


def test_uri_errors_are_one_line():
    with pytest.raises(ValueError, match="expected one of"):
        parse_uri("gpt4")
    with pytest.raises(ValueError, match="openai:<http"):
        parse_uri("openai:localhost#m")
    assert parse_uri("openai:http://h:1/v1/#m").target == "http://h:1/v1"
    with pytest.raises(ModelError, match="unknown packaged model"):
        load_model("pkg:nope")
    with pytest.raises(ModelError, match="hf:/definitely/missing"):
        load_model("hf:/definitely/missing")
