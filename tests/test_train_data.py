import numpy as np
import pytest

from synthloop.lab.toy import toy_samples
from synthloop.models.tinyvlm.encoding import IGNORE, encode_messages
from synthloop.models.tinyvlm.tokenizer import ASSISTANT, BOS, EOS, IMAGE, SYSTEM, USER, train_tokenizer
from synthloop.train.data import encode_samples, global_batches

TEXTS = ["What colour is the shape?", "red", "green", "Describe the image.", "A red square.", "Answer briefly."] * 3


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(TEXTS, vocab_size=300)


def words(tokenizer, text):
    return tokenizer.encode(text, add_special_tokens=False).ids


def test_labels_mask_everything_but_assistant_turns(tokenizer):
    messages = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "<image>What colour is the shape?"},
                {"role": "assistant", "content": "red"},
                {"role": "user", "content": "<image>"},
                {"role": "assistant", "content": "green"}]
    ids, labels = encode_messages(messages, tokenizer, image_tokens=3)
    system, question = words(tokenizer, "Answer briefly."), words(tokenizer, "What colour is the shape?")
    red, green = words(tokenizer, "red"), words(tokenizer, "green")
    expected = [BOS, SYSTEM, *system, USER, IMAGE, IMAGE, IMAGE, *question, ASSISTANT, *red, EOS,
                USER, IMAGE, IMAGE, IMAGE, ASSISTANT, *green, EOS]
    assert ids == expected
    learned = [i for i, label in enumerate(labels) if label != IGNORE]
    assert [ids[i] for i in learned] == [*red, EOS, *green, EOS]
    assert [labels[i] for i in learned] == [*red, EOS, *green, EOS]
    user_end = 2 + len(system) + 1 + 3 + len(question)
    assert labels[:user_end + 1] == [IGNORE] * (user_end + 1)  # bos, system, user turn, assistant marker


def test_generation_prompt_ends_with_assistant_marker(tokenizer):
    ids, _ = encode_messages([{"role": "user", "content": "red"}], tokenizer, 4, add_generation_prompt=True)
    assert ids == [BOS, USER, *words(tokenizer, "red"), ASSISTANT]
    open_reply = [{"role": "user", "content": "red"}, {"role": "assistant", "content": "green"}]
    ids, _ = encode_messages(open_reply, tokenizer, 4, add_generation_prompt=True)
    assert ids[-1] != EOS and ids[-len(words(tokenizer, "green")):] == words(tokenizer, "green")


def test_images_are_decoded_once_and_bad_samples_skipped_with_reasons(tokenizer):
    samples = toy_samples(8, seed=3, image_size=16)
    samples[1]["images"] = samples[2]["images"]  # same bytes: one table row
    samples[5]["images"] = [{"bytes": b"not a png", "path": None}]
    data = encode_samples(samples, tokenizer, image_tokens=2, image_size=8, max_seq_len=30)
    reasons = dict(data.skipped)
    assert "cannot decode image" in reasons["toy_5"]
    assert all("exceed max_seq_len 30" in reasons[s] for s in reasons if s != "toy_5")
    assert len(data) + len(data.skipped) == 8
    wide = encode_samples(samples, tokenizer, image_tokens=2, image_size=8, max_seq_len=200)
    assert len(wide) == 7 and wide.pixels.shape == (8, 3, 8, 8)  # 10 refs, 1 shared, 1 undecodable
    assert wide.image_index[1] == wide.image_index[2]


def test_global_batches_cover_each_sample_once_and_are_deterministic(tokenizer):
    data = encode_samples(toy_samples(50, seed=1, image_size=8), tokenizer, 1, 8, 200)
    def epoch(seed):
        return list(global_batches(data, 16, 6, np.random.default_rng(seed)))
    steps = epoch(0)
    assert [[b.size for b in step] for step in steps].count([6, 6, 4]) == 3 and len(steps) == 4
    assert sorted(int(r) for step in steps for b in step for r in b.rows) == list(range(50))
    first = [b.rows.tolist() for step in steps for b in step]
    assert first == [b.rows.tolist() for step in epoch(0) for b in step]
    assert first != [b.rows.tolist() for step in epoch(1) for b in step]
    batch = steps[0][0]
    for i, r in enumerate(batch.rows):
        n = len(data.ids[r])
        assert batch.input_ids[i, :n].tolist() == data.ids[r].tolist() and set(batch.input_ids[i, n:].tolist()) <= {0}
        assert set(batch.labels[i, n:].tolist()) <= {IGNORE}
