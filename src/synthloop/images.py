"""Reading and decoding the images a sample refers to."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

from PIL import Image

# Pillow warns above this many pixels and raises `DecompressionBombError` at twice it.
MAX_PIXELS = 89_478_485
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# The largest image file read from disk (a 30000x30000 PNG bomb is a few MB; this bounds the read).
MAX_IMAGE_BYTES = 64 << 20


class ImageError(ValueError):
    """An image that cannot be read or decoded; the message says why."""


@dataclass(frozen=True)
class ImageRoot:
    """Where a dataset's image paths may point: files under `folder` (symlinks resolved), and absolute
    paths only with `allow_absolute`. Datasets are untrusted: `../../etc/passwd` must not be read.
    `verify` asks the formats that embed images for a full decode of each (a header check otherwise)."""

    folder: str | Path
    allow_absolute: bool = False
    verify: bool = False

    @cached_property
    def real_folder(self) -> str:
        return os.path.realpath(self.folder)

    def resolve(self, path: str) -> str:
        """The file an image path names, symlinks resolved; raises ImageError if it is not allowed."""
        if not path:
            raise ImageError("image reference has neither bytes nor a path")
        if "\0" in path:
            raise ImageError(f"image path {path!r} holds a NUL byte")
        if os.path.isabs(path):
            if not self.allow_absolute:
                raise ImageError(f"image path {path!r} is absolute (refused unless absolute paths are allowed)")
            return os.path.realpath(path)
        if ".." in path.replace("\\", "/").split("/"):
            raise ImageError(f"image path {path!r} holds '..' (image paths stay under the image root)")
        real = os.path.realpath(os.path.join(self.real_folder, path))
        if os.path.commonpath([self.real_folder, real]) != self.real_folder:
            raise ImageError(f"image path {path!r} leads out of the image root {str(self.folder)!r} (to {real!r})")
        return real


def image_path(ref: dict, image_root: ImageRoot | str | Path | None = None) -> str:
    """The file an image reference names. With an image root (an `ImageRoot`, or a folder with the strict
    defaults) the path must resolve under it; without one it is taken as it is (the engine's shards, whose
    paths were checked when the input was read). Raises ImageError."""
    path = ref.get("path") or ""
    if image_root is None:
        if not path:
            raise ImageError("image reference has neither bytes nor a path")
        return path
    return (image_root if isinstance(image_root, ImageRoot) else ImageRoot(image_root)).resolve(path)


def image_bytes(ref: dict, image_root: ImageRoot | str | Path | None = None) -> bytes:
    """The encoded bytes of an image reference `{bytes, path}`, reading the file (`image_path`) if needed."""
    if ref.get("bytes") is not None:
        return ref["bytes"]
    path = image_path(ref, image_root)
    with open_image_file(path) as file:
        try:
            data = file.read(MAX_IMAGE_BYTES + 1)
        except OSError as err:
            raise ImageError(f"image file {path!r}: {err.strerror or err}") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"image file {path!r}: more than the {MAX_IMAGE_BYTES}-byte limit")
    return data


def open_image_file(path: str) -> BinaryIO:
    """An image file opened for reading: a regular file of at most MAX_IMAGE_BYTES, else ImageError.

    The file is opened non-blocking and checked on the open descriptor, so a FIFO cannot hang the
    read and `/dev/zero` cannot fill memory.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise ImageError(f"image file {path!r}: {err.strerror or err}") from None
    info = os.fstat(fd)
    problem = ("not a regular file" if not stat.S_ISREG(info.st_mode) else
               f"{info.st_size} bytes > the {MAX_IMAGE_BYTES}-byte limit" if info.st_size > MAX_IMAGE_BYTES else None)
    if problem:
        os.close(fd)
        raise ImageError(f"image file {path!r}: {problem}")
    return os.fdopen(fd, "rb")


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
