"""Byte-level BPE tokenizer trained locally on the training texts, with TinyVLM's special tokens.

Special tokens have fixed ids (0..6) so the model and the data code can refer to them as constants.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from synthloop.sample import IMAGE_TOKEN

PAD, BOS, EOS, IMAGE, USER, ASSISTANT, SYSTEM = range(7)
SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", IMAGE_TOKEN, "<|user|>", "<|assistant|>", "<|system|>"]
ROLE_TOKEN = {"user": USER, "assistant": ASSISTANT, "system": SYSTEM}


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048, min_frequency: int = 2) -> Tokenizer:
    """A byte-level BPE trained in memory on `texts` (message contents; `<image>` stays one token)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    for token_id, token in enumerate(SPECIAL_TOKENS):
        assert tokenizer.token_to_id(token) == token_id, f"special token {token} is not id {token_id}"
    return tokenizer


def save_tokenizer(tokenizer: Tokenizer, folder: Path) -> Path:
    path = Path(folder) / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def load_tokenizer(folder: Path) -> Tokenizer:
    path = Path(folder) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tokenizer.json in checkpoint")
    return Tokenizer.from_file(str(path))


def first_word_token(tokenizer: Tokenizer, word: str) -> int:
    """The id of the first token of `word` as it follows a space (how a reply's words are encoded): the
    target of a probe that must name the word."""
    return tokenizer.encode(" " + word.strip(), add_special_tokens=False).ids[0]
