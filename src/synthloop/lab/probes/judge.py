"""TinyVLM as a judge (Genixer's filter): training data of right and wrong question-answer pairs asked
with the judge prompt and answered Yes or No, and the probes that make the judgement learnable.

Whether a stated answer is right is a pure interaction: neither the answer alone nor the image and the
question alone say anything about it. The Yes/No loss then gives a small model no first-order gradient,
and it stays at chance (ROC AUC 0.50 to 0.57 with every data mix, size and schedule tried). Two linear
probes fix that. At the reply position, the input of the last block's MLP must name both the correct
answer and the stated one (their first tokens, through the tied vocabulary head). With both there,
"do they match" is one gated product away, and the Yes/No loss learns it. The probes train beside the
model and are not saved: the judge is a plain TinyVLM checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import nn

from synthloop.lab.probes.activations import KeptActivation
from synthloop.models.tinyvlm.encoding import IGNORE
from synthloop.models.tinyvlm.network import TinyVLM
from synthloop.models.tinyvlm.tokenizer import ASSISTANT, first_word_token
from synthloop.ops.filters.judge import JUDGE_PROMPT
from synthloop.ops.model_op import first_qa
from synthloop.sample import IMAGE_TOKEN, derive_id
from synthloop.train.data import Batch, EncodedData

JUDGE_ANSWERS = "judge_answers"  # meta of a judge sample: {"stated": answer in the prompt, "correct": true one}


def corrupted_pairs(samples: list[dict], seed: int, max_words: int = 3) -> list[tuple[dict, int]]:
    """Each single-turn sample with a short answer twice: as is (label 1), and with another answer of its
    qtype from `samples` (label 0, id suffixed `_bad`). The world's labelled noise swaps answers the same way."""
    rng = np.random.default_rng(seed)
    usable = [s for s in samples if len(s["messages"]) == 2 and (qa := first_qa(s)) and len(qa[1].split()) <= max_words]
    answers: dict[str, set[str]] = {}
    for s in usable:
        answers.setdefault(s["qtype"], set()).add(s["messages"][1]["content"])
    pairs = []
    for s in usable:
        wrong = sorted(answers[s["qtype"]] - {s["messages"][1]["content"]})
        if wrong:  # each member gets its own `scores`: the judge op writes its score there
            bad = {**s, "id": s["id"] + "_bad", "scores": {},
                   "messages": [s["messages"][0], {"role": "assistant", "content": str(rng.choice(wrong))}]}
            pairs += [({**s, "scores": {}}, 1), (bad, 0)]
    return pairs


def judge_sample(sample: dict, correct: str) -> dict:
    """The judge's training sample for a QA sample whose true answer is `correct`: Genixer's prompt about
    the sample's first question and answer, replied "Yes" or "No"."""
    question, stated = first_qa(sample)
    prompt = JUDGE_PROMPT.format(question=question, answer=stated)
    return {**sample, "id": derive_id(sample["id"], "judge"), "task": "judge", "scores": {},
            "meta": {**sample["meta"], JUDGE_ANSWERS: {"stated": stated, "correct": correct}},
            "messages": [{"role": "user", "content": f"{IMAGE_TOKEN}\n{prompt}"},
                         {"role": "assistant", "content": "Yes" if stated == correct.strip() else "No"}]}


def judge_training_samples(pairs: list[tuple[dict, int]]) -> list[dict]:
    """`judge_sample` for every member of `corrupted_pairs` output (a pair's clean member gives the truth)."""
    truth = {s["id"]: s["messages"][1]["content"] for s, label in pairs if label == 1}
    return [judge_sample(s, truth[s["id"].removesuffix("_bad")]) for s, _ in pairs]


def probe_targets(samples: list[dict], data: EncodedData, tokenizer: Tokenizer) -> torch.Tensor:
    """(len(data), 2) first token ids of the correct and the stated answer per encoded sample; IGNORE for
    samples that are not judge samples."""
    meta = {s["id"]: s.get("meta", {}).get(JUDGE_ANSWERS) for s in samples}
    targets = torch.full((len(data), 2), IGNORE, dtype=torch.long)
    for row, sample_id in enumerate(data.sample_ids):
        answers = meta[sample_id]
        if answers:
            targets[row] = torch.tensor([first_word_token(tokenizer, answers[key]) for key in ("correct", "stated")])
    return targets


class JudgeProbes(nn.Module):
    """Linear probes on the last block's MLP input at the reply's first position, trained to name the
    correct and the stated answer. Reads the activation that the model's forward pass leaves behind."""

    def __init__(self, model: TinyVLM, targets: torch.Tensor, weight: float = 1.0):
        super().__init__()
        d = model.cfg.d_model
        self.heads = nn.ModuleList([nn.Linear(d, d), nn.Linear(d, d)])
        self.model, self.targets, self.weight = [model], targets, weight  # a list: not a submodule
        self.mlp_input = KeptActivation(model.blocks[-1].ln2)

    def close(self) -> None:
        self.mlp_input.close()

    def loss(self, batch: Batch) -> torch.Tensor:
        """Summed probe cross-entropy over the batch's judge samples (zero without any), times `weight`;
        call right after the model's forward pass over `batch`."""
        targets = self.targets[torch.from_numpy(batch.rows)]
        rows = (targets[:, 0] != IGNORE).nonzero()[:, 0]
        if self.mlp_input.value is None or not len(rows):
            return torch.zeros(())
        is_reply_start = batch.input_ids[rows] == ASSISTANT
        last = batch.input_ids.shape[1] - 1 - is_reply_start.flip(1).int().argmax(1)  # the last <|assistant|>
        features = self.mlp_input.value[rows, last]
        model = self.model[0]
        losses = [F.cross_entropy(model.logits(head(features)).float(), targets[rows, k], reduction="sum")
                  for k, head in enumerate(self.heads)]
        return self.weight * sum(losses)


def build(model: TinyVLM, samples: list[dict], data: EncodedData, tokenizer: Tokenizer,
          weight: float = 1.0) -> JudgeProbes | None:
    """The `judge` auxiliary loss: the probes, when the data holds judge samples."""
    targets = probe_targets(samples, data, tokenizer)
    if not bool((targets[:, 0] != IGNORE).any()):
        return None
    return JudgeProbes(model, targets, weight)
