"""Where an export's images go: `keep` their paths, `copy` the files beside the output, or `embed` the bytes.

- `keep`: paths stay references to the files (path-based writers then store them relative to the
  output file's folder, see `image_refs.ImagePaths`);
- `copy`: each image file is copied to `<stem>_images/` beside the output, named by its content hash
  (the same image once), and referenced from there, so the output moves as one folder;
- `embed`: the bytes replace the path; path-based writers save them in `<stem>_images/` by sample id,
  Parquet and WebDataset carry them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from synthloop.formats.image_refs import image_extension
from synthloop.images import image_bytes
from synthloop.storage import Location

ImagesMode = Literal["keep", "copy", "embed"]
MODES = ("keep", "copy", "embed")


def place_images(sample: dict, out_file: Path, mode: str, image_root: str | Path | None = None) -> dict:
    """The sample with its images placed for `out_file`; raises ImageError for an image that cannot be read.
    With `keep`, absolute paths (a run's shards hold them) become relative to the output file's folder."""
    refs = []
    for ref in sample["images"]:
        if mode == "embed":
            ref = {"bytes": image_bytes(ref, image_root), "path": None}
        elif mode == "copy":
            data = image_bytes(ref, image_root)
            file = out_file.parent / f"{out_file.stem}_images" / (
                f"{hashlib.blake2b(data, digest_size=10).hexdigest()}.{image_extension(ref, data)}")
            if not file.exists():  # atomic: a killed copy leaves no file that a later export would trust
                Location.of(file).write_bytes(data)
            ref = {"bytes": None, "path": file.relative_to(out_file.parent).as_posix()}
        elif ref.get("path") and os.path.isabs(ref["path"]):
            ref = {"bytes": ref.get("bytes"), "path": Path(os.path.relpath(ref["path"], out_file.parent)).as_posix()}
        refs.append(ref)
    return {**sample, "images": refs}
