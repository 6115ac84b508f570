"""Reading and decoding the images a sample refers to."""

from __future__ import annotations

import hashlib
import io
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
    path = Path(ref.get("path") or "")
    if image_root is not None and not path.is_absolute():
        path = Path(image_root) / path
    try:
        return path.read_bytes()
    except OSError as err:
        raise ImageError(f"image file {path}: {err.strerror or err}") from None


def header_size(data: bytes, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) read from the encoded header without decoding pixels.

    Raises ImageError for unrecognised data and for decompression bombs (more than
    `max_pixels` pixels), before any pixel memory is allocated.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
    except Image.DecompressionBombError as err:
        raise ImageError(f"decompression bomb: {err}") from None
    except Image.UnidentifiedImageError:  # its own message names a memory address: not reproducible
        raise ImageError("cannot read image header: not an image format Pillow knows") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"cannot read image header: {err}") from None
    if width * height > max_pixels:
        raise ImageError(f"decompression bomb: {width}x{height} = {width * height} pixels > {max_pixels}")
    if width == 0 or height == 0:
        raise ImageError(f"image has no pixels: {width}x{height}")
    return width, height


def decode(data: bytes, max_side: int | None = None) -> Image.Image:
    """Decode to RGB. With `max_side`, JPEGs decode at reduced scale (`Image.draft`) first."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > 2 * MAX_PIXELS:
                raise ImageError(f"decompression bomb: {img.width}x{img.height} pixels")
            if max_side is not None:
                img.draft("RGB", (max_side, max_side))
            return img.convert("RGB")
    except ImageError:
        raise
    except Image.UnidentifiedImageError:  # its own message names a memory address: not reproducible
        raise ImageError("cannot decode image: not an image format Pillow knows") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageError(f"cannot decode image: {err}") from None


def content_hash(data: bytes) -> str:
    """Stable hash of encoded image bytes (exact-duplicate key)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def encode_png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
