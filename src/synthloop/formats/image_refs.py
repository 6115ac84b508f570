"""Image references `{bytes, path}` at the format edge: file extensions, loading bytes, saving files."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from synthloop.images import image_bytes

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


def with_image_bytes(sample: dict, image_root: str | Path | None) -> dict:
    """The sample with every image's bytes loaded (paths kept); raises ImageError if one is missing."""
    images = [{"bytes": image_bytes(ref, image_root), "path": ref.get("path")} for ref in sample["images"]]
    return {**sample, "images": images}


def with_image_paths(sample: dict, folder: Path, relative_to: Path) -> dict:
    """The sample with an image file written under `folder` for every image that has bytes but no path."""
    if all(ref.get("path") for ref in sample["images"]):
        return sample
    images = []
    for i, ref in enumerate(sample["images"]):
        if not ref.get("path"):
            safe_id = "".join(c if c.isalnum() or c in "-_" else "_" for c in sample["id"])
            file = folder / f"{safe_id}_{i}.{image_extension(ref)}"
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(ref["bytes"])
            ref = {"bytes": ref["bytes"], "path": file.relative_to(relative_to).as_posix()}
        images.append(ref)
    return {**sample, "images": images}


def image_paths(sample: dict, out_file: Path) -> list[str]:
    """Paths of a sample's images for a path-based format written to `out_file`."""
    paths = [ref.get("path") for ref in sample["images"]]
    if all(paths):
        return paths  # type: ignore[return-value]
    sample = with_image_paths(sample, out_file.parent / f"{out_file.stem}_images", out_file.parent)
    return [ref["path"] for ref in sample["images"]]

