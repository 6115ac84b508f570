"""What every benchmark reader shares: errors that name the file, LLaVA-1.5 evaluation prompts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from synthloop.evaluate.multiple_choice import option_letters
from synthloop.formats.prompts import OPTION_LETTER, SHORT_ANSWER
from synthloop.sample import IMAGE_TOKEN, new_sample

INSTRUCTIONS = frozenset({SHORT_ANSWER, OPTION_LETTER})


class BenchmarkError(ValueError):
    """A benchmark file that does not follow its official schema; the message names file and record."""


def load_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_bytes())
    except OSError as err:
        raise BenchmarkError(f"{path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise BenchmarkError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None


def field(record: Mapping, name: str, where: str) -> Any:
    """`record[name]`, or a BenchmarkError naming where the record is and the missing field."""
    try:
        return record[name]
    except (KeyError, TypeError):
        raise BenchmarkError(f"{where}: missing field {name!r}") from None


def options_block(options: Sequence[str] | Mapping[str, str]) -> str:
    return "\n".join(f"{letter}. {text}" for letter, text in option_letters(options).items())


def question_sample(id: str, question: str, answer: str | None, *, image: dict | None, task: str, qtype: str,
                    source: str, meta: dict, instruction: str) -> dict:
    """A one-turn canonical sample: `<image>` + question + instruction, and the gold reply if known."""
    prompt = f"{question}\n{instruction}"
    if image is not None:
        prompt = f"{IMAGE_TOKEN}\n{prompt}"
    messages = [{"role": "user", "content": prompt}]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return new_sample(id, messages, [image] if image is not None else [], task=task, qtype=qtype, source=source,
                      meta=meta)
