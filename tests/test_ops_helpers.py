"""Image fixtures for the op tests: encoded bytes, broken files, samples around them."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from synthloop.sample import new_sample


def encode(img: Image.Image | np.ndarray, fmt: str = "PNG", **options: object) -> bytes:
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def solid(width: int, height: int, colour: tuple[int, int, int] = (90, 120, 200), fmt: str = "PNG") -> bytes:
    return encode(Image.new("RGB", (width, height), colour), fmt)


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels: a decompression bomb's calling card."""
    data = bytearray(solid(1, 1))
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])))
    return bytes(data)


def sample_with(*images: bytes | str, sample_id: str = "s0", answer: str = "An answer.") -> dict:
    """A one-turn sample with one `<image>` per image; a str image is a path."""
    refs = [{"bytes": None, "path": im} if isinstance(im, str) else {"bytes": im, "path": None} for im in images]
    prompt = "<image>\n" * len(images) + "What is shown?"
    return new_sample(sample_id, [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}], refs)


def text_sample(sample_id: str, answer: str, question: str = "Describe the image.") -> dict:
    return new_sample(sample_id, [{"role": "user", "content": question}, {"role": "assistant", "content": answer}])
