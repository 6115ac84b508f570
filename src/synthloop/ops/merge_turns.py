"""Merging duplicates' conversations into their survivor (not an op).

A dedup with `same_image: merge` treats samples that share an image as one sample, as LLaVA-1.5
does when it merges all the questions about one image into one multi-turn conversation: the
survivor keeps its images and its turns and gains every exchange (a user turn and the replies
that follow it, up to the next user turn) of the absorbed samples that it does not hold yet.
Exchanges compare on their normalised text without `<image>` placeholders; the absorbed samples'
placeholders are removed (their images are the survivor's). System turns of absorbed samples are
not copied. `meta["merged_from"]` lists the absorbed ids.
"""

from __future__ import annotations

from synthloop.ops.text import normalize
from synthloop.sample import IMAGE_TOKEN


def _exchanges(messages: list[dict]) -> list[list[dict]]:
    """Non-system turns cut before each user turn (replies before the first user turn form one)."""
    found: list[list[dict]] = []
    for message in messages:
        if message["role"] == "system":
            continue
        if message["role"] == "user" or not found:
            found.append([])
        found[-1].append(message)
    return found


def _without_placeholders(message: dict) -> dict:
    content = "\n".join(line for line in message["content"].split("\n") if line.strip() != IMAGE_TOKEN)
    return {"role": message["role"], "content": content.replace(IMAGE_TOKEN, "").strip()}


def _exchange_key(exchange: list[dict]) -> tuple[tuple[str, str], ...]:
    return tuple((m["role"], normalize(_without_placeholders(m)["content"])) for m in exchange)


def merge_turns(survivor: dict, absorbed: list[tuple[str, list[dict]]]) -> dict:
    """`survivor` (changed in place and returned) with the distinct exchanges of `absorbed`, a list
    of (id, messages) in the order to append them."""
    seen = {_exchange_key(exchange) for exchange in _exchanges(survivor["messages"])}
    for _, messages in absorbed:
        for exchange in _exchanges(messages):
            key = _exchange_key(exchange)
            if key not in seen:
                seen.add(key)
                survivor["messages"].extend(_without_placeholders(m) for m in exchange)
    survivor["meta"]["merged_from"] = [*survivor["meta"].get("merged_from", []), *(i for i, _ in absorbed)]
    return survivor
