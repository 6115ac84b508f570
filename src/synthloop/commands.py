"""Shell commands a user writes as templates (a trainer, a serving step): `{name}` placeholders are
checked when the recipe is read, filled in shell-quoted, and the command's output goes to a log file."""

from __future__ import annotations

import os
import shlex
import signal
import string
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def check_template(command: str, known: Iterable[str], required: Iterable[str] = ()) -> str:
    """`command`, or ValueError naming an unknown or a missing placeholder."""
    known = tuple(known)
    try:
        named = {field for _, field, _, _ in string.Formatter().parse(command) if field is not None}
    except ValueError as err:
        raise ValueError(f"bad command template {command!r}: {err}") from None
    unknown = sorted(named - set(known))
    if unknown:
        raise ValueError(f"unknown placeholder(s) {' '.join('{' + u + '}' for u in unknown)} "
                         f"(known: {' '.join('{' + k + '}' for k in known)})")
    missing = [f"{{{r}}}" for r in required if r not in named]
    if missing:
        raise ValueError(f"the command must name {', '.join(missing)}")
    return command


def fill(command: str, values: Mapping[str, Any]) -> str:
    """The template with each value shell-quoted (None: empty)."""
    return command.format(**{k: shlex.quote("" if v is None else str(v)) for k, v in values.items()})


def start_logged(command: str, log: Path) -> subprocess.Popen:
    """Start `command` in a shell of its own session (so it can be stopped with what it started), its
    stdout and stderr to `log`, which begins with the command."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        sink.write(f"$ {command}\n".encode())
        sink.flush()
        return subprocess.Popen(command, shell=True, stdout=sink, stderr=subprocess.STDOUT,  # noqa: S602
                                start_new_session=True)


def stop(process: subprocess.Popen, grace_s: float = 30.0) -> None:
    """End what `start_logged` started, the command's own children included: SIGTERM to its session,
    SIGKILL after `grace_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:  # the whole session has ended
            return
        try:
            process.wait(grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def last_line(log: Path) -> str:
    """The last line of output in `log` (not the command line it begins with)."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()[1:] if line.strip()]
    return lines[-1] if lines else "(no output)"
