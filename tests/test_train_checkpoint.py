import pytest
import torch
from safetensors.torch import load_file

from synthloop.images import decode
from synthloop.lab.toy import toy_samples
from synthloop.models.protocols import Generator, Judge, OptionScorer, Request
from synthloop.models.tinyvlm.checkpoint import load_checkpoint, load_model, save_checkpoint
from synthloop.models.tinyvlm.encoding import encode_messages, pil_pixels
from synthloop.train.trainer import train

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "vision_width": 8, "image_size": 16, "image_grid": 2,
        "vocab_size": 300, "micro_batch_size": 4}


@pytest.fixture(scope="module", params=[False, True], ids=["all_cells", "drop_background"])
def checkpoint(tmp_path_factory, request):
    out = tmp_path_factory.mktemp("ck") / "a"
    return train(toy_samples(24, seed=5, image_size=16), out, stage="both", global_batch_size=8, seed=7,
                 show_progress=False, drop_background=request.param, **TINY)


def requests():
    samples = toy_samples(6, seed=11, image_size=16)
    # mixed prompt lengths and image counts, so batching pads and images interleave
    return [Request([decode(im["bytes"]) for im in s["images"]], s["messages"][:-1] if s["task"] == "dialogue"
                    else s["messages"][:1]) for s in samples]


def test_same_seed_gives_identical_weights(checkpoint, tmp_path):
    settings = {**TINY, "drop_background": load_model(checkpoint)[0].cfg.drop_background}
    again = train(toy_samples(24, seed=5, image_size=16), tmp_path / "b", stage="both", global_batch_size=8,
                  seed=7, show_progress=False, **settings)
    first, second = load_file(checkpoint / "model.safetensors"), load_file(again / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert (checkpoint / "tokenizer.json").read_bytes() == (again / "tokenizer.json").read_bytes()
    other = train(toy_samples(24, seed=5, image_size=16), tmp_path / "c", stage="2", global_batch_size=8,
                  seed=8, show_progress=False, **settings)
    assert not torch.equal(first["projector.0.weight"], load_file(other / "model.safetensors")["projector.0.weight"])


def test_training_continues_from_a_checkpoint(checkpoint, tmp_path):
    net, _ = load_model(checkpoint)
    start = load_file(checkpoint / "model.safetensors")
    samples = toy_samples(16, seed=9, image_size=16)
    still = train(samples, tmp_path / "still", stage="2", global_batch_size=8, show_progress=False, init=checkpoint,
                  lr=0.0)  # no step size: the checkpoint's weights come through (batch-norm statistics move)
    kept = load_file(still / "model.safetensors")
    assert all(torch.equal(start[name], kept[name]) for name, _ in net.named_parameters())
    assert (still / "tokenizer.json").read_bytes() == (checkpoint / "tokenizer.json").read_bytes()
    moved = [train(samples, tmp_path / name, stage="2", global_batch_size=8, show_progress=False, init=checkpoint,
                   d_model=TINY["d_model"]) for name in ("m1", "m2")]
    first, second = (load_file(path / "model.safetensors") for path in moved)
    assert all(torch.equal(first[k], second[k]) for k in first)  # deterministic for a seed
    assert not torch.equal(first["projector.0.weight"], start["projector.0.weight"])
    assert load_model(moved[0])[0].cfg == net.cfg
    with pytest.raises(ValueError, match="d_model=64 \\(checkpoint: 32\\)"):
        train(samples, tmp_path / "clash", stage="2", global_batch_size=8, show_progress=False, init=checkpoint,
              d_model=64)


def test_round_trip_gives_identical_outputs(checkpoint, tmp_path):
    model = load_checkpoint(checkpoint)
    assert isinstance(model, Generator) and isinstance(model, OptionScorer) and isinstance(model, Judge)
    net, tokenizer = load_model(checkpoint)
    copy = load_checkpoint(save_checkpoint(net, tokenizer, tmp_path / "copy"))
    reqs = requests()
    assert model.generate(reqs, max_new_tokens=5) == copy.generate(reqs, max_new_tokens=5)
    options = [["red", "green", "blue square"]] * len(reqs)
    assert model.score_options(reqs, options) == copy.score_options(reqs, options)
    assert model.p_yes(reqs) == copy.p_yes(reqs)


def reference_logprobs(model, request, continuation):
    """Log-softmax over a single unpadded sequence, no KV cache: the ground truth for batched paths."""
    pixels = pil_pixels(request.images, model.cfg.image_size)
    cells = model.model.image_cells(pixels)
    prompt, _ = encode_messages(request.messages, model.tokenizer, cells.sum(dim=1).tolist(), add_generation_prompt=True)
    ids = torch.tensor([prompt + continuation])
    features = model.model.image_features(pixels)
    with torch.no_grad():
        hidden, _ = model.model.hidden_states(ids, features, image_cells=cells)
        return torch.log_softmax(model.model.logits(hidden[0]), -1), len(prompt)


def test_batched_generation_matches_unbatched_greedy_without_cache(checkpoint):
    model = load_checkpoint(checkpoint)
    reqs = requests()
    batched = model.generate(reqs, max_new_tokens=4)
    for request, generation in zip(reqs, batched):
        alone = model.generate([request], max_new_tokens=4)[0]
        assert alone.text == generation.text
        assert alone.token_logprobs == pytest.approx(generation.token_logprobs, abs=1e-5)
        tokens: list[int] = []
        for _ in range(4):
            log_p, n = reference_logprobs(model, request, tokens)
            tokens.append(int(log_p[-1].argmax()))
            if tokens[-1] == 2:
                break
        text_tokens = tokens[:-1] if tokens[-1] == 2 else tokens
        assert generation.text == model.tokenizer.decode(text_tokens).strip()
        assert generation.token_logprobs == pytest.approx(
            [float(reference_logprobs(model, request, tokens[:i])[0][-1, t]) for i, t in enumerate(text_tokens)],
            abs=1e-4)


def test_option_scores_and_p_yes_match_reference(checkpoint):
    model = load_checkpoint(checkpoint)
    reqs = requests()
    options = [["red", "green square", "Yes"]] * len(reqs)
    scores = model.score_options(reqs, options)
    first = {w: model.tokenizer.encode(w, add_special_tokens=False).ids[0] for w in ("Yes", "yes", "No", "no")}
    for request, row, p in zip(reqs, scores, model.p_yes(reqs)):
        for option, score in zip(options[0], row):
            reply = model.tokenizer.encode(option, add_special_tokens=False).ids + [2]
            log_p, n = reference_logprobs(model, request, reply)
            expected = sum(float(log_p[n - 1 + i, t]) for i, t in enumerate(reply))
            assert score == pytest.approx(expected, abs=1e-4)
        probs = reference_logprobs(model, request, [])[0][-1].exp()
        p_y = probs[sorted({first["Yes"], first["yes"]})].sum()
        p_n = probs[sorted({first["No"], first["no"]})].sum()
        assert p == pytest.approx(float(p_y / (p_y + p_n)), abs=1e-5)
