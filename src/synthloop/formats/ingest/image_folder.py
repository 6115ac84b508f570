"""The `--images` folder in DataOptim's layout: does an image exist there, and how big is it.

Each folder is listed once (a set of names), so checking a million questions about 80k images
costs one listing per folder, not a million `stat` calls.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image


class ImageFolder:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._names: dict[str, frozenset[str]] = {}
        self._sizes: dict[str, tuple[int, int]] = {}

    def _list(self, folder: str) -> frozenset[str]:
        try:
            with os.scandir(self.root / folder) as entries:
                return frozenset(entry.name for entry in entries if entry.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return frozenset()

    def first(self, candidates: Sequence[str]) -> str | None:
        """The first of `candidates` (relative, `/`-separated) that names a file under the root, or None."""
        for path in candidates:
            folder, _, name = path.rpartition("/")
            names = self._names.get(folder)
            if names is None:
                names = self._names[folder] = self._list(folder)
            if name in names:
                return path
        return None

    def size(self, path: str) -> tuple[int, int]:
        """(width, height) from the image header; raises OSError if it cannot be read."""
        if path not in self._sizes:
            with Image.open(self.root / path) as img:
                self._sizes[path] = img.size
        return self._sizes[path]

    def missing(self, candidates: tuple[str, ...]) -> str:
        return f"image {' or '.join(candidates)} is not in {self.root}"
