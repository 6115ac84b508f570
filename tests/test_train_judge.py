import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import synthloop.lab.probes  # noqa: F401  (registers the auxiliary losses)
from synthloop.models.tinyvlm.checkpoint import load_model
from synthloop.models.tinyvlm.encoding import IGNORE
from synthloop.ops.filters.judge import JUDGE_PROMPT
from synthloop.train.data import collate, encode_samples
from synthloop.lab.probes.judge import (JUDGE_ANSWERS, JudgeProbes, corrupted_pairs, judge_training_samples,
                                   probe_targets)
from synthloop.lab.world import family_messages, generate
from synthloop.models.tinyvlm.network import TinyVLM, TinyVLMConfig
from synthloop.models.tinyvlm.tokenizer import ASSISTANT, train_tokenizer
from synthloop.train.trainer import train

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "vision_width": 8, "image_size": 16, "image_grid": 2,
        "vocab_size": 400, "micro_batch_size": 8}


@pytest.fixture(scope="module")
def pairs():
    world = generate(30, mix={"color": 1.0, "count": 1.0}, seed=3, image_size=32)
    return corrupted_pairs([{**s, "messages": family_messages(s)} for s in world], seed=0)


def test_corrupted_pairs_swap_only_the_answer_for_another_of_its_qtype(pairs):
    assert len(pairs) == 60 and [label for _, label in pairs] == [1, 0] * 30
    answers = {q: {s["messages"][1]["content"] for s, _ in pairs if s["qtype"] == q} for q in ("color", "count")}
    for (good, _), (bad, _) in zip(pairs[0::2], pairs[1::2], strict=True):
        assert bad["id"] == good["id"] + "_bad" and bad["messages"][0] == good["messages"][0]
        assert bad["messages"][1]["content"] != good["messages"][1]["content"]
        assert bad["messages"][1]["content"] in answers[good["qtype"]]
    long_answer = {**pairs[0][0], "messages": [pairs[0][0]["messages"][0], {"role": "assistant", "content": "a b c d"}]}
    assert corrupted_pairs([long_answer, pairs[2][0]], seed=0) == []  # too long; the other has no wrong answer left


def test_judge_samples_ask_genixers_question_and_know_both_answers(pairs):
    judges = judge_training_samples(pairs)
    for (source, label), judge in zip(pairs, judges, strict=True):
        question = source["messages"][0]["content"].removeprefix("<image>\n")
        stated, correct = judge["meta"][JUDGE_ANSWERS]["stated"], judge["meta"][JUDGE_ANSWERS]["correct"]
        assert judge["messages"][0]["content"] == "<image>\n" + JUDGE_PROMPT.format(question=question, answer=stated)
        assert judge["messages"][1]["content"] == ("Yes" if label else "No") and (stated == correct) == bool(label)
        assert judge["task"] == "judge" and judge["images"] == source["images"]
    assert len({j["id"] for j in judges}) == len(judges)


def test_probes_read_the_reply_position_and_train_the_model_below_it(pairs):
    torch.manual_seed(0)
    judges = judge_training_samples(pairs[:8])
    samples = [{**pairs[9][0], "id": "plain_vqa"}, *judges]  # a sample without judge answers gets no probe target
    tokenizer = train_tokenizer((m["content"] for s in samples for m in s["messages"]), vocab_size=400)
    cfg = TinyVLMConfig(**{k: v for k, v in TINY.items() if k not in ("micro_batch_size", "vocab_size")},
                        max_seq_len=96, vocab_size=tokenizer.get_vocab_size())
    model = TinyVLM(cfg)
    data = encode_samples(samples, tokenizer, cfg.image_tokens, cfg.image_size, cfg.max_seq_len)
    targets = probe_targets(samples, data, tokenizer)
    assert targets[0].tolist() == [IGNORE, IGNORE] and (targets[1:] != IGNORE).all()
    first = tokenizer.encode(" " + judges[1]["meta"][JUDGE_ANSWERS]["correct"], add_special_tokens=False).ids[0]
    assert targets[2, 0] == first and targets[2, 0] != targets[2, 1]  # judges[1] is a corrupted pair member

    probes = JudgeProbes(model, targets)
    batch = collate(data, np.arange(len(data)))
    model.token_losses(batch.input_ids, batch.labels, model.image_features(data.pixels[batch.image_index]))
    loss = probes.loss(batch)
    # the same sum by hand: the activation entering the last MLP, at each judge sample's <|assistant|>
    captured = {}
    hook = model.blocks[-1].ln2.register_forward_hook(lambda _m, _a, out: captured.setdefault("x", out))
    model.hidden_states(batch.input_ids, model.image_features(data.pixels[batch.image_index]))
    hook.remove()
    expected = 0.0
    for row in range(1, len(data)):
        position = int((batch.input_ids[row] == ASSISTANT).nonzero()[-1])
        for k, head in enumerate(probes.heads):
            logits = model.logits(head(captured["x"][row, position]))
            expected += torch.nn.functional.cross_entropy(logits[None], targets[row, k][None]).item()
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert model.blocks[0].qkv.weight.grad.abs().sum() > 0  # the probes shape what the layers compute
    probes.close()
    assert not model.blocks[-1].ln2._forward_hooks


def test_training_a_judge_uses_the_probes_and_saves_a_plain_checkpoint(pairs, tmp_path):
    samples = judge_training_samples(pairs)
    common = {"stage": "2", "global_batch_size": 8, "seed": 1, "show_progress": False, "max_seq_len": 96, **TINY}
    with_probes = train(samples, tmp_path / "a", aux_losses={"judge": {"weight": 1.0}}, **common)
    without = train(samples, tmp_path / "b", **common)  # off by default
    weights_a, weights_b = load_file(with_probes / "model.safetensors"), load_file(without / "model.safetensors")
    assert weights_a.keys() == weights_b.keys() and not any(k.startswith("probes") for k in weights_a)
    assert not torch.equal(weights_a["blocks.0.qkv.weight"], weights_b["blocks.0.qkv.weight"])
    assert load_model(with_probes)[0].cfg.d_model == TINY["d_model"]


def test_cli_writes_judge_data_whose_answers_survive_parquet(tmp_path):
    from typer.testing import CliRunner

    from synthloop.cli import app
    from synthloop.formats.parquet import read_samples

    runner = CliRunner()
    args = ["world", "generate", str(tmp_path / "j"), "--n", "20", "--mix", "color=1", "--seed", "4", "--judge"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    written = list(read_samples(tmp_path / "j"))
    expected = judge_training_samples(corrupted_pairs(generate(20, mix={"color": 1.0}, seed=4), seed=4))
    assert written == expected and len(written) == 40
    assert sum(s["messages"][1]["content"] == "Yes" for s in written) == 20
    result = runner.invoke(app, [*args, "--noise", "0.1"])
    assert result.exit_code == 2 and "--judge" in result.output
