"""ScienceQA: the problems of one split that have an image, converted as LLaVA converts them.

Official schema (lupantech/ScienceQA README.md and data/scienceqa/ @ 2cbf831): `problems.json` is
`{pid: {"question", "choices", "answer" (index of the right choice), "hint" (may be ""), "image"
("image.png" or null), "task", "grade", "subject", "topic", "category", "skill", "lecture",
"solution", "split"}}`, and `pid_splits.json` lists the pids of each split (`train`, `val`, `test`,
`trainval`, `minitrain`, `minival`, `minitest`); `--split` picks one (default `train`).

DataOptim (README.md @ c50a7c6) takes the 6,218 train problems with an image and formats them with
M3IT's instruction templates, but publishes neither those templates nor a ScienceQA record (its
example files @ 5899bb3 hold none). Prompt and reply therefore follow LLaVA's own conversion,
haotian-liu/LLaVA scripts/convert_sqa_to_llava.py `convert_to_llava` with its default prompt format
QCM-LEA and convert_sqa_to_llava_base_prompt.py `create_one_example_chatbot` (@ c121f04):
- prompt `Question: <question>\\nContext: <hint, stripped, or N/A>\\nOptions: (A) .. (B) ..\\n`, reply
  `Answer: <lecture> <solution> The answer is <letter>.` (`templates/llava_scienceqa.json`);
- a literal `\\n` in the lecture or solution becomes a newline (the script's escape round trip);
- both texts have each pair of spaces replaced by one (once, as `str.replace`) and are stripped; then
  every `Question: ` in the prompt and every `Answer: ` in the reply is removed, as the script does;
- `<image>` follows the prompt on its own line; letters A-E (a problem with more choices is a bad
  record: LLaVA's option list has five).
Problems come in `pid_splits.json` order, as LLaVA writes them; problems without an image are left
out (DataOptim: "only data with image context"). Ids are `scienceqa_<pid>` (DataOptim's
`<dataset>_<key>`, and what `evaluate.benchmarks.read_scienceqa` uses), images
`scienceqa/<pid>/<image>` (DataOptim's layout). `qtype` is the problem's category; the choices,
the gold letter and index, and the problem's subject, topic, skill and grade go to `meta`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synthloop.formats.common import FormatError, Rejected
from synthloop.formats.ingest.common import RecordError, Where, one_turn, stream_pairs, template_file, text_field
from synthloop.formats.ingest.registry import Context, convert_each, register

LETTERS = "ABCDE"  # convert_sqa_to_llava_base_prompt.build_prompt_chatbot's options


def llava_texts(problem: dict, letter: str, choices: list[str]) -> tuple[str, str]:
    """(prompt without `<image>`, reply) of one problem, as LLaVA's QCM-LEA conversion writes them."""
    template = template_file("llava_scienceqa")
    options = " ".join(template["option"].format(letter=letter_, text=text) for letter_, text in zip(
        LETTERS, choices, strict=False))
    prompt = template["input"].format(question=text_field(problem, "question"),
                                      context=_text(problem, "hint").strip() or template["no_context"],
                                      options=options)
    reply = template["output"].format(lecture=_text(problem, "lecture").replace("\\n", "\n"),
                                      solution=_text(problem, "solution").replace("\\n", "\n"), answer=letter)
    labels = template["dropped_labels"]
    return (prompt.replace("  ", " ").strip().replace(labels["input"], ""),
            reply.replace("  ", " ").strip().replace(labels["output"], ""))


def _text(problem: dict, name: str) -> str:
    """An optional text field: "" when absent or null, RecordError when not text."""
    value = problem.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"field {name!r} must be text, got {type(value).__name__}")
    return value


def split_pids(path: Path, split: str) -> list[str]:
    """The pids of `split` in `pid_splits.json`, in order, each once (LLaVA keys its output by pid)."""
    names = []
    for name, pids in stream_pairs(path):
        if name == split:
            if not isinstance(pids, list) or not all(isinstance(pid, str | int) for pid in pids):
                raise FormatError(f"{path}: split {split!r} must be a list of problem ids")
            return list(dict.fromkeys(str(pid) for pid in pids))
        names.append(name)
    raise FormatError(f"{path}: no split {split!r} (it has: {', '.join(names) or 'none'})")


def in_split_order(problems: Path, splits: Path, split: str) -> Iterator[tuple[Where, Any]]:
    """(Where, problem) for each pid of `split`, in the split's order; a pid that `problems.json`
    lacks comes out as a `Rejected` naming it. Problems are held only while they are ahead of their turn
    (the official files list both in the same order, so memory stays flat)."""
    order = split_pids(splits, split)
    position = {pid: n for n, pid in enumerate(order)}
    waiting: dict[int, tuple[Where, Any]] = {}
    turn = 0
    for index, (pid, problem) in enumerate(stream_pairs(problems), 1):
        n = position.get(pid)
        if n is None or n < turn:
            continue
        waiting[n] = (Where(problems, index, pid), problem)
        while turn in waiting:
            yield waiting.pop(turn)
            turn += 1
    for n in range(turn, len(order)):
        if n in waiting:
            yield waiting.pop(n)
        else:
            where = Where(splits, n + 1, order[n])
            yield where, where.rejected(f"problem {order[n]} of split {split!r} is not in {problems.name}", None)


@register("scienceqa", ("problems.json", "pid_splits.json"), "scienceqa/<pid>/ (image.png)", split="train")
def read_scienceqa(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    def convert(problem: Any, where: Where) -> Iterator[dict]:
        if not isinstance(problem, dict):
            raise RecordError(f"expected a JSON object, got {type(problem).__name__}")
        image = problem.get("image")
        if image is None:
            return  # a text-only problem: not part of the image-context set
        if not isinstance(image, str) or not image:
            raise RecordError(f"field 'image' must be a file name or null, got {image!r}")
        choices, correct = problem.get("choices"), problem.get("answer")
        if not isinstance(choices, list) or not 1 <= len(choices) <= len(LETTERS) or not all(
                isinstance(choice, str) for choice in choices):
            raise RecordError(f"field 'choices' must be a list of 1 to {len(LETTERS)} texts")
        if type(correct) is not int or not 0 <= correct < len(choices):
            raise RecordError(f"'answer' {correct!r} does not name one of the {len(choices)} choices")
        letter = LETTERS[correct]
        prompt, reply = llava_texts(problem, letter, choices)
        meta = {"pid": where.key, "choices": choices, "answer": letter, "answer_index": correct,
                "hint": _text(problem, "hint"), "metric": "scienceqa",
                **{key: _text(problem, key) for key in ("subject", "topic", "skill", "grade")}}
        user = template_file("llava_scienceqa")["with_image"].format(input=prompt)
        yield one_turn(f"scienceqa_{where.key}", ctx.image(f"scienceqa/{where.key}/{image}"), user, reply,
                       task="mcvqa", qtype=_text(problem, "category") or "scienceqa", source="scienceqa", meta=meta,
                       image_first=False)

    yield from convert_each(in_split_order(files[0], files[1], ctx.split or "train"), convert)
