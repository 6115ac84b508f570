"""TinyVLM's prefix-LM attention (user turns see themselves whole) and its MLP variants."""

from __future__ import annotations

import pytest
import torch

from synthloop.models.tinyvlm.network import TinyVLM, TinyVLMConfig, prefix_lm_mask
from synthloop.models.tinyvlm.tokenizer import ASSISTANT, BOS, EOS, IMAGE, PAD, SYSTEM, USER

# pad, bos, system "a", user <image> <image> "q" "q", assistant "r" eos, user "q", assistant "r"
IDS = [PAD, BOS, SYSTEM, 40, USER, IMAGE, IMAGE, 41, 42, ASSISTANT, 43, EOS, USER, 44, ASSISTANT, 45]
TURN_SPANS = {2: range(2, 4), 4: range(4, 9), 12: range(12, 14)}  # role position -> its bidirectional turn


def test_mask_is_causal_plus_whole_user_and_system_turns():
    mask = prefix_lm_mask(torch.tensor([IDS]))[0, 0]
    expected = torch.ones(len(IDS), len(IDS), dtype=torch.bool).tril()
    for span in TURN_SPANS.values():
        for i in span:
            for j in span:
                expected[i, j] = True
    assert torch.equal(mask, expected)
    assert mask[5, 8] and not mask[8, 9]  # an image token sees the question after it, not the reply
    assert not mask[10, 11]  # replies stay causal


def test_rows_of_a_batch_get_their_own_turns():
    other = [BOS, USER, 40, IMAGE, ASSISTANT, 41, EOS, PAD, PAD, PAD, PAD, PAD, PAD, PAD, PAD, PAD]
    masks = prefix_lm_mask(torch.tensor([IDS, other]))[:, 0]
    assert torch.equal(masks[0], prefix_lm_mask(torch.tensor([IDS]))[0, 0])
    assert masks[1][1, 3] and masks[1][2, 3] and not masks[1][4, 5]


@pytest.mark.parametrize("prefix", [True, False])
def test_image_tokens_read_the_question_only_with_prefix_attention(prefix):
    torch.manual_seed(0)
    model = TinyVLM(TinyVLMConfig(vocab_size=64, d_model=32, n_layers=1, n_heads=2, image_size=16, image_grid=1,
                                  vision_width=8, prefix_attention=prefix)).eval()
    ids = torch.tensor([[BOS, USER, IMAGE, 40, ASSISTANT], [BOS, USER, IMAGE, 41, ASSISTANT]])
    features = model.image_features(torch.zeros((1, 3, 16, 16), dtype=torch.uint8)).repeat(2, 1, 1)
    with torch.no_grad():
        hidden, _ = model.hidden_states(ids, features)
    assert torch.equal(hidden[0, 2], hidden[1, 2]) is not prefix


def test_swiglu_blocks_and_unknown_mlp():
    model = TinyVLM(TinyVLMConfig(vocab_size=64, d_model=48, n_layers=1, n_heads=2, image_size=16, image_grid=2,
                                  vision_width=8, mlp="swiglu"))
    assert model.blocks[0].mlp.gate_up.out_features == 2 * 128  # 2/3 of 4 x 48, gate and up
    with pytest.raises(ValueError, match="unknown mlp 'relu'"):
        TinyVLM(TinyVLMConfig(mlp="relu"))


@pytest.mark.parametrize(("version", "earlier"), [(1, {"mlp": "gelu", "prefix_attention": False}), (2, {})])
def test_earlier_checkpoints_load_with_the_settings_they_were_trained_with(tmp_path, version, earlier):
    import json

    from synthloop.models.tinyvlm.checkpoint import load_model, save_checkpoint
    from synthloop.models.tinyvlm.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(["what colour is it"] * 4, vocab_size=300)
    cfg = TinyVLMConfig(vocab_size=tokenizer.get_vocab_size(), d_model=32, n_layers=1, n_heads=2, image_size=16,
                        image_grid=2, vision_width=8, linear_bias=True, **earlier)
    trained = TinyVLM(cfg)
    folder = save_checkpoint(trained, tokenizer, tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    for key in ("linear_bias", *earlier):  # keys that did not exist yet
        del config["model"][key]
    (folder / "config.json").write_text(json.dumps({**config, "format_version": version}))
    model, _ = load_model(folder)
    assert model.cfg.linear_bias and all(getattr(model.cfg, k) == v for k, v in earlier.items())
    assert torch.equal(model.blocks[0].qkv.bias, trained.blocks[0].qkv.bias)
    (folder / "config.json").write_text(json.dumps({**config, "format_version": 7}))
    with pytest.raises(ValueError, match="format_version 7 is not one of 1 to 3"):
        load_model(folder)


def test_block_linears_are_bias_free_by_default():
    model = TinyVLM(TinyVLMConfig(vocab_size=64, d_model=32, n_layers=1, n_heads=2, image_size=16, image_grid=2,
                                  vision_width=8))
    block = model.blocks[0]
    assert [layer.bias for layer in (block.qkv, block.proj, block.mlp.gate_up, block.mlp.down)] == [None] * 4
