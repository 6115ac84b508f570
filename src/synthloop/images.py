"""Reading and decoding the images a sample refers to."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

from PIL import Image

# Pillow warns above this many pixels and raises `DecompressionBombError` at twice it.
MAX_PIXELS = 89_478_485
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageError(ValueError):
    """An image that cannot be read or decoded; the message says why."""


def image_bytes(ref: dict, image_root: str | Path | None = None) -> bytes:
    """The encoded bytes of an image reference `{bytes, path}`, reading the file if needed."""
    if ref.get("bytes") is not None:
        return ref["bytes"]
    path = ref.get("path") or ""  # os.path rather than pathlib: this runs for every image
    if image_root is not None and not os.path.isabs(path):
        path = os.path.join(image_root, path)
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as err:
        raise ImageError(f"image file {path}: {err.strerror or err}") from None


def open_image(data: bytes) -> Image.Image:
    """The image with its header parsed and no pixels decoded yet (`decode_opened` decodes them).

    Raises ImageError for unrecognised data and for decompression bombs (more than MAX_PIXELS
    pixels), before any pixel memory is allocated.
    """
    img = _open(data, "cannot read image header")
    check_pixels(*img.size)
    return img


def _open(data: bytes, failure: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as err:
        raise ImageError(f"decompression bomb: {err}") from None
    except Image.UnidentifiedImageError:  # its own message names a memory address: not reproducible
        raise ImageError(f"{failure}: not an image format Pillow knows") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{failure}: {err}") from None


def check_pixels(width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """Raise ImageError for a decompression bomb (more than `max_pixels` pixels) or an empty image."""
    if width * height > max_pixels:
        raise ImageError(f"decompression bomb: {width}x{height} = {width * height} pixels > {max_pixels}")
    if width == 0 or height == 0:
        raise ImageError(f"image has no pixels: {width}x{height}")


def decode_opened(img: Image.Image, max_side: int | None = None, mode: str = "RGB") -> Image.Image:
    """Decode an `open_image` result to `mode` ("RGB" or "L"). With `max_side`, JPEGs decode at
    reduced scale (`Image.draft`); in mode "L" they decode the luma channel only. Either way the
    whole coded stream is read, so a truncated or corrupt file raises ImageError."""
    try:
        if max_side is not None or mode == "L":
            img.draft(mode, (max_side, max_side) if max_side is not None else None)
        return img.convert(mode)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageError(f"cannot decode image: {err}") from None


def decode(data: bytes, max_side: int | None = None, mode: str = "RGB") -> Image.Image:
    """Decode encoded bytes to `mode` (see `decode_opened`); raises ImageError."""
    return decode_opened(_open(data, "cannot decode image"), max_side, mode)


def content_hash(data: bytes) -> str:
    """Stable hash of encoded image bytes (exact-duplicate key)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def encode_png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
