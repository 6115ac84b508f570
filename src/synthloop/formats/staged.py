"""Writing an output whole or not at all: every format writer writes into a staging folder that is
renamed into place on success, so a failed or killed conversion leaves no output that reads as
complete, and an existing output is replaced whole (never mixed with a new one) or left alone.

    with staged_output("out/train.json", overwrite=False) as staged:
        write_llava(samples, staged)            # may write staged and siblings (out/train_images/)

The staging folder is `.<name>.staging-<pid>` beside the output; a folder output gets a `_SUCCESS`
marker before it is moved into place (Spark's completion marker). Readers skip paths that start
with `.` or `_`, as Arrow's datasets do by default (`pyarrow.dataset.dataset(ignore_prefixes=['.',
'_'])`), so neither a staging folder nor a marker is ever read as data.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

COMPLETE_MARKER = "_SUCCESS"
STAGING = re.compile(r"\..+\.staging-\d+")
HIDDEN_PREFIXES = (".", "_")


class OutputExists(FileExistsError):
    """The output (or a file the writer would put beside it) exists and overwriting was not asked for."""


def destination_folder(folder: Path) -> Path:
    """The folder what is written in `folder` ends up in: its parent for a staging folder (so paths a
    writer makes relative to its output's folder stay right after the move)."""
    return folder.parent if STAGING.fullmatch(folder.name) else folder


def is_hidden(path: Path, root: Path) -> bool:
    """Whether a path under `root` is staging or metadata rather than data (a part starts with . or _)."""
    return any(part.startswith(HIDDEN_PREFIXES) for part in path.relative_to(root).parts)


def refuse_existing(path: str | Path, overwrite: bool) -> None:
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExists(f"{path}: already exists; pass --overwrite to replace it")


@contextmanager
def staged_output(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield where to write `path` (and anything beside it); move it all into place on success.

    A folder output gets a COMPLETE_MARKER. On an exception nothing is moved and the staging folder
    is removed; a killed process leaves only the hidden staging folder.
    """
    path = Path(path)
    refuse_existing(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path)
    staging = path.parent / f".{path.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging / path.name
        if (staging / path.name).is_dir():
            (staging / path.name / COMPLETE_MARKER).write_bytes(b"")
        siblings = sorted(entry.name for entry in staging.iterdir() if entry.name != path.name)
        for name in siblings:
            refuse_existing(path.parent / name, overwrite)
        for name in [*siblings, path.name]:  # the output itself last: once it is there, all of it is
            _replace(staging / name, path.parent / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_abandoned(path: Path) -> None:
    """Remove staging folders for `path` left by killed processes (their pid no longer runs)."""
    for staging in path.parent.glob(f".{glob.escape(path.name)}.staging-*"):
        pid = staging.name.rpartition("-")[2]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _replace(new: Path, target: Path) -> None:
    """Move `new` to `target`, replacing what is there: a file in one rename; where a folder is involved
    (rename cannot replace one), the old one is moved aside first and removed after."""
    if not (new.is_dir() or target.is_dir()) or not (target.exists() or target.is_symlink()):
        os.replace(new, target)
        return
    aside = target.parent / f".{target.name}.old-{os.getpid()}"
    os.replace(target, aside)
    os.replace(new, target)
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink()
