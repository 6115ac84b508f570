"""Fingerprints of a run's input files, so `--resume` refuses inputs that changed since the run began.

A file's fingerprint is its size, its modification time (ns) and a blake2b hash of its first and
last MiB: cheap on a 100 GB shard, and an edit that keeps size and time (a fixed record of the same
length, a copied-back timestamp) still shows in the head or tail of most files. A folder input
stands for every file under it (hidden files too), by relative path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

EDGE = 1 << 20  # bytes hashed at each end of a file


def file_fingerprint(path: Path) -> dict[str, int | str]:
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as file:
        digest.update(file.read(EDGE))
        if stat.st_size > EDGE:
            file.seek(max(EDGE, stat.st_size - EDGE))
            digest.update(file.read(EDGE))
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_tail": digest.hexdigest()}


def input_fingerprints(paths: list[str]) -> dict[str, dict[str, int | str]]:
    """`{file: fingerprint}` for every input file (the files of a folder input, in path order)."""
    found = {}
    for name in paths:
        path = Path(name)
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for file in files:
            found[str(file)] = file_fingerprint(file) if file.exists() else {"missing": True}
    return found


def input_change(stored: dict[str, dict], current: dict[str, dict]) -> str | None:
    """What changed between two fingerprint sets, in words (None: nothing)."""
    for file in sorted(stored.keys() | current.keys()):
        before, now = stored.get(file), current.get(file)
        if before is None:
            return f"input file {file} is new"
        if now is None or now.get("missing"):
            return f"input file {file} is gone"
        changed = [what for what, key in (("size", "size"), ("modification time", "mtime_ns"),
                                          ("content", "head_tail")) if before.get(key) != now.get(key)]
        if changed:
            return f"input file {file} changed ({', '.join(changed)})"
    return None
