"""A round's funnel for one arm: where every sample it asked for ended up.

    asked           samples the allocation asked the synthesizer for
    generated       samples synthesized (world: rendered; model: generation attempts, one per parent)
    quarantined     generated samples no op could process (unparsable generations, broken images)
    judged_out      dropped by the `judge` filter (the ledger keeps each with its P(Yes))
    filtered        dropped by the other filters
    deduped         dropped as duplicates
    capped          left out by a selector (the per-qtype cap on model generations, budgets)
    decontaminated  removed as benchmark contamination
    added           added to the arm's pool

generated = quarantined + judged_out + filtered + deduped + capped + decontaminated + added, from the
curation's engine ledger (input + added = output + dropped + quarantined) and the decontamination.
"""

from __future__ import annotations

from synthloop.ops import op_class

FIELDS = ("asked", "generated", "quarantined", "judged_out", "filtered", "deduped", "capped", "decontaminated",
          "added")
_DROPPED_AS = {"dedup": "deduped", "selector": "capped", "filter": "filtered", "mapper": "filtered"}


def funnel(asked: int, ledger: dict, decontaminated: int, added: int) -> dict[str, int]:
    """The funnel of a round from its curation `ledger` and the decontamination's counts."""
    counts = dict.fromkeys(FIELDS, 0)
    counts.update(asked=asked, generated=ledger["input"] + ledger["added"], quarantined=ledger["quarantined"],
                  decontaminated=decontaminated, added=added)
    for entry in ledger["ops"][1:]:  # the first entry is the input, whose rejects are quarantined
        kind = "judged_out" if entry["op"] == "judge" else _DROPPED_AS[op_class(entry["op"]).kind]
        counts[kind] += entry["dropped"]
    removed = sum(counts[k] for k in FIELDS[2:])
    if removed != counts["generated"]:
        raise RuntimeError(f"the funnel does not add up: {counts}")  # a loop bug, never bad input
    return counts


def passthrough_ledger(count: int) -> dict:
    """The ledger of a curation without ops: everything generated is kept."""
    return {"input": count, "output": count, "dropped": 0, "quarantined": 0, "added": 0, "ops": [{"op": "input"}]}
