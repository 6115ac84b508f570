"""Image references `{bytes, path}` at the format edge: file extensions, loading bytes, saving files."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from synthloop.formats.staged import destination_folder
from synthloop.images import ImageError, ImageRoot, decode_opened, image_bytes, open_image

IMAGE_SUFFIXES = {"jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"}


def image_extension(ref: dict, data: bytes | None = None) -> str:
    """File extension for an image: from its path when it has a known one, else from its bytes."""
    suffix = Path(ref.get("path") or "").suffix.lower().lstrip(".")
    if suffix in IMAGE_SUFFIXES:
        return suffix
    data = data if data is not None else ref.get("bytes")
    if data:
        try:
            with Image.open(io.BytesIO(data)) as img:
                return (img.format or "png").lower().replace("jpeg", "jpg")
        except (OSError, SyntaxError, ValueError):
            pass
    return "bin"


def with_image_bytes(sample: dict, image_root: ImageRoot | str | Path | None) -> dict:
    """The sample with every image's bytes loaded (paths kept) and checked as `synthloop run` checks them:
    a path under the image root, a regular file of bounded size, a header that parses and no decompression
    bomb; with `ImageRoot.verify`, a full decode. Raises ImageError naming the image and the problem."""
    verify = isinstance(image_root, ImageRoot) and image_root.verify
    images = []
    for j, ref in enumerate(sample["images"]):
        try:
            data = image_bytes(ref, image_root)
            opened = open_image(data)
            if verify:
                decode_opened(opened)
        except ImageError as err:
            raise ImageError(f"image {j}: {err}") from None
        images.append({"bytes": data, "path": ref.get("path")})
    return {**sample, "images": images}


class ImagePaths:
    """Paths of each sample's images for a path-based format written to `out_file`. With `image_root`, a
    path relative to it is rebased to the output file's folder (where Data-Juicer and LLaMA-Factory resolve
    them); an absolute one is kept; an image with bytes but no path is saved in `<stem>_images/` beside it."""

    def __init__(self, out_file: Path, image_root: str | Path | None = None):
        self.folder = out_file.parent
        self.saved = self.folder / f"{out_file.stem}_images"
        root = getattr(image_root, "folder", image_root)  # an issue-25 ImageRoot or a folder
        # relative to where the file ends up (a staging folder's parent, formats.staged)
        end_folder = os.path.abspath(destination_folder(self.folder))
        prefix = os.path.relpath(os.path.abspath(root), end_folder) if root else "."
        self.prefix = "" if prefix == "." else Path(prefix).as_posix()

    def __call__(self, sample: dict) -> list[str]:
        images = sample["images"]
        if len(images) == 1 and not self.prefix and images[0].get("path"):
            return [images[0]["path"]]
        paths = [ref.get("path") for ref in images]
        if not self.prefix and all(paths):
            return paths  # type: ignore[return-value]
        for i, (ref, path) in enumerate(zip(sample["images"], paths, strict=True)):
            if not path:
                paths[i] = _save(ref, f"{sample['id']}_{i}", self.saved).relative_to(self.folder).as_posix()
            elif self.prefix and not path.startswith("/"):
                paths[i] = f"{self.prefix}/{path}"  # not normalised: a path may name a symlink's parent
        return paths  # type: ignore[return-value]


def _save(ref: dict, name: str, folder: Path) -> Path:
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    file = folder / f"{safe_name}.{image_extension(ref)}"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(ref["bytes"])
    return file
