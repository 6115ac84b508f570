"""TinyVLM behind the model protocols: batched greedy/sampled generation with a KV cache, option
log-likelihoods and yes/no judge probabilities."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from synthloop.models.protocols import Generation, Request
from synthloop.models.tinyvlm.encoding import encode_messages, pil_pixels
from synthloop.models.tinyvlm.network import TinyVLM, prefix_lm_mask
from synthloop.models.tinyvlm.tokenizer import EOS, PAD
from synthloop.models.yes_no import NO_WORDS, YES_WORDS, yes_share



class TinyVLMModel:
    """A loaded TinyVLM checkpoint; implements `Generator`, `OptionScorer` and `Judge`."""

    def __init__(self, model: TinyVLM, tokenizer: Tokenizer, batch_size: int = 64):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.cfg = model.cfg

    def _encode(self, requests: list[Request]) -> tuple[list[list[int]], torch.Tensor, torch.Tensor]:
        """Prompt ids of each request, and the vision features and token cells of all their images."""
        pixels = pil_pixels([im for r in requests for im in r.images], self.cfg.image_size)
        cells = self.model.image_cells(pixels)
        counts = iter(cells.sum(dim=1).tolist())
        prompts = [encode_messages(r.messages, self.tokenizer, [next(counts) for _ in r.images],
                                   add_generation_prompt=True)[0] for r in requests]
        return prompts, self.model.image_features(pixels), cells

    def _check_length(self, length: int) -> None:
        if length > self.cfg.max_seq_len:
            raise ValueError(f"a request needs {length} tokens but TinyVLM's max_seq_len is {self.cfg.max_seq_len}")

    @torch.no_grad()
    def generate(self, requests: list[Request], max_new_tokens: int = 64, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        """Greedy at temperature 0, else sampled with `seed`; batched with left padding and a KV cache."""
        generator = torch.Generator().manual_seed(seed)
        results: list[Generation] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start: start + self.batch_size]
            results += self._generate_batch(chunk, max_new_tokens, temperature, generator)
        return results

    def _generate_batch(self, requests: list[Request], max_new_tokens: int, temperature: float,
                        generator: torch.Generator) -> list[Generation]:
        prompts, features, cells = self._encode(requests)
        length = max(len(p) for p in prompts)
        max_new_tokens = min(max_new_tokens, self.cfg.max_seq_len - length)
        self._check_length(length + 1)
        batch = len(prompts)
        input_ids = torch.full((batch, length), PAD, dtype=torch.long)
        keep = torch.zeros((batch, length + max_new_tokens), dtype=torch.bool)
        for i, prompt in enumerate(prompts):
            input_ids[i, length - len(prompt):] = torch.tensor(prompt)
            keep[i, length - len(prompt):] = True
        positions = (keep.long().cumsum(-1) - 1).clamp(min=0)
        if self.cfg.prefix_attention:
            attend = prefix_lm_mask(input_ids)[:, 0]
        else:
            attend = torch.ones((length, length), dtype=torch.bool).tril().expand(batch, -1, -1)
        mask = (attend & keep[:, None, :length]) | torch.eye(length, dtype=torch.bool)  # pads see themselves
        hidden, past = self.model.hidden_states(input_ids, features, mask[:, None], positions[:, :length],
                                                image_cells=cells)
        tokens: list[list[int]] = [[] for _ in range(batch)]
        logprobs: list[list[float]] = [[] for _ in range(batch)]
        done = torch.zeros(batch, dtype=torch.bool)
        for step in range(max_new_tokens):
            log_p = F.log_softmax(self.model.logits(hidden[:, -1]).float(), dim=-1)
            if temperature > 0:
                next_ids = torch.multinomial((log_p / temperature).softmax(-1), 1, generator=generator).squeeze(1)
            else:
                next_ids = log_p.argmax(-1)
            for i in range(batch):
                if not done[i]:
                    tokens[i].append(int(next_ids[i]))
                    logprobs[i].append(float(log_p[i, next_ids[i]]))
            done |= next_ids == EOS
            if bool(done.all()) or step == max_new_tokens - 1:
                break
            t = length + step
            keep[:, t] = True
            positions[:, t] = positions[:, t - 1] + 1
            hidden, past = self.model.hidden_states(next_ids[:, None], None, keep[:, None, None, : t + 1],
                                                    positions[:, t: t + 1], past)
        return [self._finish(t, lp) for t, lp in zip(tokens, logprobs)]

    def _finish(self, tokens: list[int], logprobs: list[float]) -> Generation:
        if EOS in tokens:
            cut = tokens.index(EOS)
            tokens, logprobs = tokens[:cut], logprobs[:cut]
        return Generation(self.tokenizer.decode(tokens).strip(), logprobs)

    @torch.no_grad()
    def score_options(self, requests: list[Request], options: list[list[str]]) -> list[list[float]]:
        """Total log-likelihood of each option as the whole assistant reply (its tokens and the closing `<eos>`)."""
        if len(requests) != len(options):
            raise ValueError(f"{len(requests)} requests but {len(options)} option lists")
        pairs = [(i, self._reply_ids(o)) for i, opts in enumerate(options) for o in opts]
        scores: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            scores += self._score_pairs(requests, pairs[start: start + self.batch_size])
        out: list[list[float]] = []
        for opts in options:
            out.append(scores[: len(opts)])
            scores = scores[len(opts):]
        return out

    def _reply_ids(self, option: str) -> list[int]:
        return [*self.tokenizer.encode(option, add_special_tokens=False).ids, EOS]

    def _score_pairs(self, requests: list[Request], pairs: list[tuple[int, list[int]]]) -> list[float]:
        rows = sorted({i for i, _ in pairs})
        prompt_list, request_features, request_cells = self._encode([requests[i] for i in rows])
        prompts = dict(zip(rows, prompt_list))
        counts = [len(requests[i].images) for i in rows]
        offsets = dict(zip(rows, torch.tensor([0, *counts]).cumsum(0).tolist()))
        length = max(len(prompts[i]) + len(r) for i, r in pairs)
        self._check_length(length)
        input_ids = torch.full((len(pairs), length), PAD, dtype=torch.long)
        image_rows: list[int] = []
        for k, (i, reply) in enumerate(pairs):
            input_ids[k, : len(prompts[i]) + len(reply)] = torch.tensor(prompts[i] + reply)
            image_rows += range(offsets[i], offsets[i] + len(requests[i].images))
        hidden, _ = self.model.hidden_states(input_ids, request_features[image_rows],
                                             image_cells=request_cells[image_rows])
        log_p = F.log_softmax(self.model.logits(hidden[:, :-1]).float(), dim=-1)
        token_log_p = log_p.gather(-1, input_ids[:, 1:, None]).squeeze(-1)
        return [float(token_log_p[k, len(prompts[i]) - 1: len(prompts[i]) + len(r) - 1].sum())
                for k, (i, r) in enumerate(pairs)]

    @torch.no_grad()
    def p_yes(self, requests: list[Request]) -> list[float]:
        """P(Yes) / (P(Yes) + P(No)) from the first reply token's distribution: the first tokens of each
        word as replies begin it ("Yes", "yes"; `models.yes_no`)."""
        yes = sorted({self._first_token(s) for w in YES_WORDS for s in (w.capitalize(), w)})
        no = sorted({self._first_token(s) for w in NO_WORDS for s in (w.capitalize(), w)})
        out: list[float] = []
        for start in range(0, len(requests), self.batch_size):
            out += yes_share(self.next_token_probs(requests[start: start + self.batch_size]), yes, no)
        return out

    def _first_token(self, text: str) -> int:
        return self.tokenizer.encode(text, add_special_tokens=False).ids[0]

    def next_token_probs(self, requests: list[Request]) -> torch.Tensor:
        """(n, vocab) probabilities of the assistant reply's first token, one row per request."""
        prompts, features, cells = self._encode(requests)
        length = max(len(p) for p in prompts)
        self._check_length(length)
        input_ids = torch.full((len(prompts), length), PAD, dtype=torch.long)
        for k, prompt in enumerate(prompts):
            input_ids[k, : len(prompt)] = torch.tensor(prompt)
        hidden, _ = self.model.hidden_states(input_ids, features, image_cells=cells)
        last = hidden[torch.arange(len(prompts)), torch.tensor([len(p) - 1 for p in prompts])]
        return self.model.logits(last).float().softmax(-1)
