import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import synthloop.lab.probes  # noqa: F401  (registers the auxiliary losses)
from synthloop.lab.probes.grounding import cell_objects
from synthloop.train.data import collate, encode_samples
from synthloop.lab.probes.referents import (
    ReferentAttention,
    referent_cells,
    referent_targets,
)
from synthloop.lab.world import generate
from synthloop.models.tinyvlm.network import TinyVLM, TinyVLMConfig
from synthloop.models.tinyvlm.tokenizer import ASSISTANT, IMAGE, train_tokenizer
from synthloop.train.trainer import train

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "vision_width": 8, "image_size": 32, "image_grid": 4}
COLORS, SHAPES = {"red", "blue"}, {"circle", "cross"}
SCENE = [{"color": "red", "shape": "circle", "box": [0.0, 0.0, 0.5, 0.5]},  # cells 0, 1, 4, 5
         {"color": "blue", "shape": "circle", "box": [0.5, 0.5, 1.0, 0.75]},  # cells 10, 11
         {"color": "red", "shape": "cross", "box": [0.0, 0.9, 0.1, 1.0]}]  # too small to own a cell


@pytest.mark.parametrize(("question", "cells"), [
    ("Is there a red circle in the image?", [[0, 1, 4, 5]]),
    ("How many circles are there?", [[0, 1, 4, 5, 10, 11]]),  # plural, two referents
    ("What colour is the blue object?", [[10, 11]]),
    ("Is there a blue cross?", [[]]),  # named, absent: the sink
    ("Is there a red cross?", [None]),  # present but owns no cell
    ("How many shapes are there?", []),  # names no attribute
    ("Is the blue circle left of the red circle?", [[10, 11], [0, 1, 4, 5]]),  # two objects, in order
    ("Which is bigger, the red cross or the blue crosses?", [None, []]),
    ("Is the red circle left of the blue thing?", []),  # two colours, one phrase: ambiguous
    ("Do you see anything purple?", []),  # not a colour of the vocabulary
])
def test_referents_are_the_cells_of_the_objects_each_mention_names(question, cells):
    assert cell_objects(SCENE, 4)[:6] == [0, 0, -1, -1, 0, 0]
    assert referent_cells(question, SCENE, 4, COLORS, SHAPES) == cells


def test_one_mention_leaves_two_object_questions_without_a_target():
    question = "Is the blue circle left of the red circle?"
    assert referent_cells(question, SCENE, 4, COLORS, SHAPES, most=1) == []
    assert referent_cells("Is there a red circle?", SCENE, 4, COLORS, SHAPES, most=1) == [[0, 1, 4, 5]]


@pytest.fixture(scope="module")
def world():
    samples = generate(8, seed=3, image_size=32, turns=3)
    system = {**samples[0], "id": "with_system", "messages": [{"role": "system", "content": "Be brief."},
                                                             *samples[0]["messages"]]}
    samples = [*samples, system, {**samples[1], "id": "no_objects", "meta": {}}]
    tokenizer = train_tokenizer((m["content"] for s in samples for m in s["messages"]), vocab_size=400)
    cfg = TinyVLMConfig(**TINY, max_seq_len=128, vocab_size=tokenizer.get_vocab_size())
    data = encode_samples(samples, tokenizer, cfg.image_tokens, cfg.image_size, cfg.max_seq_len)
    return samples, cfg, data


def test_targets_follow_each_replys_question(world):
    samples, cfg, data = world
    targets = referent_targets(samples, data, cfg.image_grid)
    assert data.sample_ids == [s["id"] for s in samples]
    assert targets.shape == (len(samples), 3, 2, 17)
    assert not targets[-1].any()  # no scene annotation, no target
    assert torch.equal(targets[-2], targets[0])  # a system turn does not shift the replies
    colors = {o["color"] for s in samples[:-1] for o in s["meta"]["objects"]}
    shapes = {o["shape"] for s in samples[:-1] for o in s["meta"]["objects"]}
    found = []
    for row, sample in enumerate(samples[:-2]):
        questions = [m["content"] for m in sample["messages"] if m["role"] == "user"]
        for reply, question in enumerate(questions):
            cells = referent_cells(question, sample["meta"]["objects"], cfg.image_grid, colors, shapes)
            expected = torch.zeros(2, 17, dtype=torch.bool)
            for mention, named in enumerate(cells):
                expected[mention, [0] if named == [] else [1 + c for c in named or []]] = True
            assert torch.equal(targets[row, reply], expected), (sample["id"], question)
            found += cells
    assert [] in found and any(found) and targets[:, :, 1].any()  # sinks, referents, second mentions
    single = referent_targets(samples, data, cfg.image_grid, most=1)
    assert single.shape == (len(samples), 3, 1, 17)
    with pytest.raises(ValueError, match="referent_mentions must be 1 or 2, not 3"):
        referent_targets(samples, data, cfg.image_grid, most=3)


def test_loss_is_minus_log_of_the_heads_own_attention_mass_on_the_targets(world):
    samples, cfg, data = world
    torch.manual_seed(0)
    model = TinyVLM(cfg)
    targets = referent_targets(samples, data, cfg.image_grid)
    referents = ReferentAttention(model, targets, data.cells, weight=0.5)
    batch = collate(data, np.arange(len(data)))
    features = model.image_features(data.pixels[batch.image_index])
    block = model.blocks[-1]
    captured = {}
    hooks = [block.ln1.register_forward_hook(lambda _m, _a, out: captured.update(x=out)),
             block.proj.register_forward_pre_hook(lambda _m, args: captured.update(heads=args[0]))]
    model.token_losses(batch.input_ids, batch.labels, features)
    for hook in hooks:
        hook.remove()
    loss = referents.loss(batch)

    width = cfg.d_model // cfg.n_heads
    qkv = block.qkv(captured["x"]).view(*batch.input_ids.shape, 3, cfg.n_heads, width)
    expected = 0.0
    for row in range(len(data)):
        image_positions = (batch.input_ids[row] == IMAGE).nonzero()[:, 0]
        row_terms = []
        for reply, p in enumerate((batch.input_ids[row] == ASSISTANT).nonzero()[:, 0].tolist()):
            for head in range(2):  # mention 0 on head 0, mention 1 on head 1
                q, k, v = qkv[row, :, :, head].unbind(1)
                attention = torch.softmax(q[p] @ k[: p + 1].T / width**0.5, dim=0)
                # the recomputed attention is the one the model used: it mixes the values into the head's output
                output = captured["heads"][row, p, head * width: (head + 1) * width]
                assert torch.allclose(attention @ v[: p + 1], output, atol=1e-5)
                wanted = targets[row, reply, head]
                if wanted.any():
                    mass = attention[0] * wanted[0] + attention[image_positions][wanted[1:]].sum()
                    row_terms.append(-torch.log(mass).item())
        expected += sum(row_terms) / len(row_terms) if row_terms else 0.0
    assert expected > 0
    assert loss.item() == pytest.approx(0.5 * expected, rel=1e-5)
    loss.backward()
    assert block.qkv.weight.grad.abs().sum() > 0 and model.projector[0].weight.grad.abs().sum() > 0
    referents.close()
    assert not block.ln1._forward_hooks
    with pytest.raises(ValueError, match="referent_head 1: the referent heads are 1 to 2, the model has 2 heads"):
        ReferentAttention(model, targets, data.cells, head=1)


def test_training_with_referents_is_deterministic_and_changes_the_model(tmp_path):
    samples = generate(24, mix={"exist": 1.0, "color": 1.0}, seed=2, image_size=32, turns=2)
    common = {"stage": "2", "global_batch_size": 8, "seed": 1, "show_progress": False, "max_seq_len": 128,
              "vocab_size": 400, **TINY}
    guided = train(samples, tmp_path / "a", aux_losses={"referents": {"weight": 1.0}}, drop_background=True, **common)
    again = train(samples, tmp_path / "b", aux_losses={"referents": {"weight": 1.0}}, drop_background=True, **common)
    plain = train(samples, tmp_path / "c", drop_background=True, **common)  # off by default
    weights, repeat, without = (load_file(c / "model.safetensors") for c in (guided, again, plain))
    assert weights.keys() == without.keys()
    assert all(torch.equal(weights[k], repeat[k]) for k in weights)
    assert not torch.equal(weights["blocks.1.qkv.weight"], without["blocks.1.qkv.weight"])
