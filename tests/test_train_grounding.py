import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import synthloop.lab.probes  # noqa: F401  (registers the auxiliary losses)
from synthloop.lab.probes.grounding import GroundingProbes, cell_objects, grounding_targets
from synthloop.lab.world import generate
from synthloop.models.tinyvlm.encoding import IGNORE
from synthloop.models.tinyvlm.network import TinyVLM, TinyVLMConfig
from synthloop.models.tinyvlm.tokenizer import IMAGE, train_tokenizer
from synthloop.train.data import collate, encode_samples
from synthloop.train.trainer import train

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "vision_width": 8, "image_size": 32, "image_grid": 4}


def test_each_cell_goes_to_the_object_covering_most_of_it_if_at_least_a_quarter():
    objects = [{"box": [0.0, 0.0, 0.5, 0.5]},  # the top-left 2x2 cells exactly
               {"box": [0.6, 0.5, 1.0, 1.0]},  # 60 % of column 2 and all of column 3, rows 2 and 3
               {"box": [0.6, 0.0, 0.7, 0.2]}]  # 40 % x 80 % = 32 % of cell (0, 2)
    assert cell_objects(objects, 4) == [0, 0, 2, -1,
                                        0, 0, -1, -1,
                                        -1, -1, 1, 1,
                                        -1, -1, 1, 1]
    assert cell_objects([{"box": [0.0, 0.0, 0.2, 0.2]}], 2) == [-1, -1, -1, -1]  # 16 % of a cell: too little
    assert cell_objects([], 2) == [-1] * 4
    halves = [{"box": [0.0, 0.0, 0.5, 1.0]}, {"box": [0.0, 0.0, 0.5, 1.0]}, {"box": [0.5, 0.0, 1.0, 0.6]}]
    assert cell_objects(halves, 2) == [1, 2, 1, -1]  # a tie goes to the later object; 20 % of a cell is too little


@pytest.fixture(scope="module")
def world():
    samples = generate(6, mix={"color": 1.0}, seed=5, image_size=32)
    unannotated = {**generate(1, mix={"shape": 1.0}, seed=6, image_size=32)[0], "id": "no_objects", "meta": {}}
    samples = [*samples, unannotated]
    tokenizer = train_tokenizer((m["content"] for s in samples for m in s["messages"]), vocab_size=400)
    cfg = TinyVLMConfig(**TINY, max_seq_len=96, vocab_size=tokenizer.get_vocab_size())
    data = encode_samples(samples, tokenizer, cfg.image_tokens, cfg.image_size, cfg.max_seq_len)
    return samples, tokenizer, cfg, data


def test_targets_name_the_colour_and_shape_word_of_each_cells_object(world):
    samples, tokenizer, cfg, data = world
    targets = grounding_targets(samples, data, tokenizer, ("color", "shape"), cfg.image_grid)
    assert targets.shape == (len(data.pixels), 16, 2) == (7, 16, 2)
    assert (targets[data.image_index[-1][0]] == IGNORE).all()
    for row, sample in enumerate(samples[:-1]):
        objects = sample["meta"]["objects"]
        owners = cell_objects(objects, cfg.image_grid)
        image = data.image_index[row][0]
        for cell, owner in enumerate(owners):
            expected = [IGNORE, IGNORE] if owner < 0 else [
                tokenizer.encode(" " + objects[owner][a], add_special_tokens=False).ids[0] for a in ("color", "shape")]
            assert targets[image, cell].tolist() == expected
        assert any(o >= 0 for o in owners)


def test_probe_loss_is_the_per_sample_mean_over_labelled_image_tokens(world):
    samples, tokenizer, cfg, data = world
    torch.manual_seed(0)
    model = TinyVLM(cfg)
    targets = grounding_targets(samples, data, tokenizer, ("color", "shape"), cfg.image_grid)
    probes = GroundingProbes(model, targets, data.cells, weight=0.5)
    batch = collate(data, np.arange(len(data)))
    features = model.image_features(data.pixels[batch.image_index])
    model.token_losses(batch.input_ids, batch.labels, features)
    loss = probes.loss(batch)

    captured = {}
    hook = model.blocks[0].register_forward_hook(lambda _m, _a, out: captured.update(x=out[0]))
    model.hidden_states(batch.input_ids, features)
    hook.remove()
    expected = 0.0
    for row in range(len(data)):
        positions = (batch.input_ids[row] == IMAGE).nonzero()[:, 0]
        cell_targets = targets[batch.image_index[row]]
        terms = [torch.nn.functional.cross_entropy(model.logits(head(captured["x"][row, p]))[None],
                                                   cell_targets[cell, k][None]).item()
                 for cell, p in enumerate(positions.tolist()) for k, head in enumerate(probes.heads)
                 if cell_targets[cell, k] != IGNORE]
        expected += sum(terms) / len(terms) if terms else 0.0
    assert loss.item() == pytest.approx(0.5 * expected, rel=1e-5)
    loss.backward()
    assert model.projector[0].weight.grad.abs().sum() > 0  # the probes shape the image tokens
    probes.close()
    assert not model.blocks[0]._forward_hooks
    with pytest.raises(ValueError, match="grounding_layer 2: the model has 2 blocks"):
        GroundingProbes(model, targets, data.cells, layer=2)


def test_training_with_grounding_changes_the_model_and_saves_no_probe_weights(tmp_path):
    samples = generate(24, mix={"color": 1.0, "shape": 1.0}, seed=2, image_size=32)
    common = {"stage": "2", "global_batch_size": 8, "seed": 1, "show_progress": False, "max_seq_len": 96,
              "vocab_size": 400, **TINY}
    grounded = train(samples, tmp_path / "a", aux_losses={"grounding": {"weight": 1.0}}, **common)
    again = train(samples, tmp_path / "b", aux_losses={"grounding": {"weight": 1.0}}, **common)
    plain = train(samples, tmp_path / "c", **common)  # off by default
    weights, repeat, without = (load_file(c / "model.safetensors") for c in (grounded, again, plain))
    assert weights.keys() == without.keys() and not any(k.startswith("probes") for k in weights)
    assert all(torch.equal(weights[k], repeat[k]) for k in weights)  # deterministic with the probes on
    assert not torch.equal(weights["projector.0.weight"], without["projector.0.weight"])
