"""`hf:` backend: transformers models from a local path or a hub id, batched, on CPU or CUDA.

- Image-text-to-text models (LLaVA, Qwen2-VL, SmolVLM, Idefics) through `AutoProcessor` +
  `AutoModelForImageTextToText`, and text-only causal LMs through `AutoTokenizer` +
  `AutoModelForCausalLM`: `HFChatModel` (Generator, Judge, OptionScorer, NextTokenScorer).
- `CLIPModel` / SigLIP: `HFClipModel` (ImageTextScorer, ImageEmbedder, TextEmbedder).

Generation pads on the left (so every row continues from its last prompt token); scoring passes
pad on the right (so position ids stay correct for every architecture, including M-RoPE).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from synthloop.models.backends import ModelUri
from synthloop.models.chat import chat_structure
from synthloop.models.device import resolve_device
from synthloop.models.protocols import Generation, ModelError, Request
from synthloop.models.yes_no import NO_WORDS, YES_WORDS, yes_share

CLIP_TYPES = ("clip", "siglip", "siglip2")


def load_hf(target: str, device: str = "auto", batch_size: int | None = None,
            **kwargs: Any) -> HFChatModel | HFClipModel:
    """Load by config: CLIP-like models become `HFClipModel`, anything else `HFChatModel`; `batch_size`:
    requests per forward pass (none: each class's default)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(target, **kwargs)
    except OSError as err:
        raise ModelError(f"hf:{target}: {err}") from None
    batch = {"batch_size": batch_size} if batch_size else {}
    if config.model_type in CLIP_TYPES:
        return HFClipModel(target, device=device, **batch)
    return HFChatModel(target, device=device, **batch, **kwargs)


class HFChatModel:
    """An image-text-to-text model or a text-only causal LM."""

    def __init__(self, target: str, device: str = "auto", batch_size: int = 16, **kwargs: Any):
        import transformers

        self.device = resolve_device(device)
        self.batch_size = batch_size  # requests per forward pass; ops hand over whole engine batches
        config = transformers.AutoConfig.from_pretrained(target, **kwargs)
        self.is_vision = hasattr(config, "vision_config")
        if self.is_vision:
            self.processor = transformers.AutoProcessor.from_pretrained(target)
            self.tokenizer = self.processor.tokenizer
            model_class = transformers.AutoModelForImageTextToText
        else:
            self.processor = self.tokenizer = transformers.AutoTokenizer.from_pretrained(target, **kwargs)
            model_class = transformers.AutoModelForCausalLM
        self.model = model_class.from_pretrained(target, **kwargs).to(self.device).eval()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.yes_ids = self._word_token_ids(YES_WORDS)
        self.no_ids = self._word_token_ids(NO_WORDS)

    def _word_token_ids(self, words: tuple[str, ...]) -> list[int]:
        """Ids of the single tokens that spell a word, in any case, with or without a leading space."""
        ids = set()
        for word in words:
            for variant in {word, word.capitalize(), word.upper()}:
                for spelled in (variant, " " + variant):
                    encoded = self.tokenizer.encode(spelled, add_special_tokens=False)
                    if len(encoded) == 1:
                        ids.add(encoded[0])
        return sorted(ids)

    def _prompts(self, requests: list[Request], replies: list[str] | None = None) -> list[str]:
        prompts = []
        for k, request in enumerate(requests):
            messages = request.messages
            if self.is_vision:
                messages = chat_structure(messages)
            if getattr(self.processor, "chat_template", None):
                prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            else:  # base models without a chat template: a plain transcript
                prompt = "".join(f"{m['role']}: {m['content']}\n" for m in request.messages) + "assistant:"
            prompts.append(prompt + (replies[k] if replies else ""))
        return prompts

    def _encode(self, prompts: list[str], requests: list[Request], padding_side: str) -> dict:
        self.tokenizer.padding_side = padding_side
        if self.is_vision:
            images = [image for request in requests for image in request.images]
            inputs = self.processor(text=prompts, images=images or None, padding=True, return_tensors="pt")
        else:
            inputs = self.tokenizer(prompts, padding=True, return_tensors="pt", add_special_tokens=False)
        return inputs.to(self.device)

    def generate(self, requests: list[Request], max_new_tokens: int = 64, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        return [g for start in range(0, len(requests), self.batch_size)
                for g in self._generate(requests[start : start + self.batch_size], max_new_tokens, temperature, seed)]

    @torch.inference_mode()
    def _generate(self, requests: list[Request], max_new_tokens: int, temperature: float,
                  seed: int) -> list[Generation]:
        inputs = self._encode(self._prompts(requests), requests, "left")
        torch.manual_seed(seed)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                                  return_dict_in_generate=True, output_scores=True, **sampling)
        new_tokens = out.sequences[:, inputs["input_ids"].shape[1]:]
        logprobs = torch.stack(out.scores, dim=1).float().log_softmax(-1)
        chosen = logprobs.gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
        generations = []
        for row, tokens in enumerate(new_tokens):
            keep = tokens != self.tokenizer.pad_token_id
            text = self.tokenizer.decode(tokens[keep], skip_special_tokens=True).strip()
            generations.append(Generation(text, chosen[row][keep].tolist()))
        return generations

    @torch.inference_mode()
    def _next_token_logprobs(self, requests: list[Request]) -> torch.Tensor:
        """(n, vocab) log-probs of the first reply token, from right-padded forward passes."""
        chunks = []
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start : start + self.batch_size]
            inputs = self._encode(self._prompts(chunk), chunk, "right")
            logits = self.model(**inputs).logits
            last = inputs["attention_mask"].sum(dim=1) - 1
            chunks.append(logits[torch.arange(len(chunk)), last].float().log_softmax(-1))
        return torch.cat(chunks)

    def p_yes(self, requests: list[Request]) -> list[float]:
        if not requests:
            return []
        return yes_share(self._next_token_logprobs(requests).exp(), self.yes_ids, self.no_ids)

    def next_token_logprobs(self, requests: list[Request], top_k: int = 20) -> list[list[tuple[str, float]]]:
        if not requests:
            return []
        values, ids = self._next_token_logprobs(requests).topk(top_k, dim=-1)
        return [[(self.tokenizer.decode([i]), v) for i, v in zip(row_ids.tolist(), row_values.tolist(), strict=True)]
                for row_ids, row_values in zip(ids, values, strict=True)]

    def score_options(self, requests: list[Request], options: list[list[str]]) -> list[list[float]]:
        """Sum of token log-probs of each option after the prompt; (request, option) pairs are batched."""
        flat_requests = [r for r, opts in zip(requests, options, strict=True) for _ in opts]
        flat_options = [o for opts in options for o in opts]
        totals = [t for start in range(0, len(flat_options), self.batch_size)
                  for t in self._option_totals(flat_requests[start : start + self.batch_size],
                                               flat_options[start : start + self.batch_size])]
        scores, start = [], 0
        for opts in options:
            scores.append(totals[start : start + len(opts)])
            start += len(opts)
        return scores

    @torch.inference_mode()
    def _option_totals(self, requests: list[Request], replies: list[str]) -> list[float]:
        prompt_lengths = self._encode(self._prompts(requests), requests, "right")["attention_mask"].sum(1)
        inputs = self._encode(self._prompts(requests, replies), requests, "right")
        logprobs = self.model(**inputs).logits.float().log_softmax(-1)
        targets = inputs["input_ids"][:, 1:]
        token_logprobs = logprobs[:, :-1].gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        positions = torch.arange(targets.shape[1], device=targets.device).unsqueeze(0)
        total_lengths = inputs["attention_mask"].sum(1)
        in_reply = (positions >= (prompt_lengths - 1).unsqueeze(1)) & (positions < (total_lengths - 1).unsqueeze(1))
        return (token_logprobs * in_reply).sum(1).tolist()


class HFClipModel:
    """CLIP-style dual encoder: cosine similarity of image and text embeddings."""

    def __init__(self, target: str | Path, device: str = "auto", batch_size: int | None = None):
        from transformers import AutoModel, AutoProcessor

        self.device = resolve_device(device)
        self.batch_size = batch_size  # images or texts per forward pass; none: all an op hands over
        self.processor = AutoProcessor.from_pretrained(target)
        self.model = AutoModel.from_pretrained(target).to(self.device).eval()

    def _batches(self, items: list[Any]) -> list[list[Any]]:
        """`batch_size` items per forward pass; all of them in one when it is None."""
        step = self.batch_size or len(items)
        return [items[start:start + step] for start in range(0, len(items), step)]

    @torch.inference_mode()
    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.model.config.projection_dim), np.float32)
        chunks = []
        for batch in self._batches(images):
            pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
            chunks.append(_as_tensor(self.model.get_image_features(pixel_values=pixels.to(self.device))))
        return torch.nn.functional.normalize(torch.cat(chunks).float(), dim=-1).cpu().numpy()

    @torch.inference_mode()
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.config.projection_dim), np.float32)
        chunks = []
        for batch in self._batches(texts):
            inputs = self.processor(text=batch, padding=True, truncation=True, return_tensors="pt").to(self.device)
            chunks.append(_as_tensor(self.model.get_text_features(**inputs)))
        return torch.nn.functional.normalize(torch.cat(chunks).float(), dim=-1).cpu().numpy()

    def score(self, images: list[Image.Image], texts: list[str]) -> list[float]:
        return np.einsum("nd,nd->n", self.embed_images(images), self.embed_texts(texts)).tolist()


def _as_tensor(features: Any) -> torch.Tensor:
    """transformers 5 may return a model output instead of a bare tensor from get_*_features."""
    return features if isinstance(features, torch.Tensor) else features.pooler_output


def load(uri: ModelUri, device: str, batch_size: int | None = None) -> Any:
    return load_hf(uri.target, device=device, batch_size=batch_size)
