"""What a downloaded body must pass to become an image: the given hash, the decompression-bomb guard and a
full decode (`synthloop.images`), then an optional shrink to a longest side."""

from __future__ import annotations

import hashlib
import io

from synthloop.images import ImageError, decode_opened, open_image

HASH_TYPES = ("sha256", "md5")


class ImageRejected(ValueError):
    """A body that is not a usable image; `kind` is a `download.fetch.FAILURE_KINDS` entry."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind


def checked_image(data: bytes, expected_hash: str | None, hash_type: str, resize: int | None) -> bytes:
    """The image bytes to keep (re-encoded as JPEG when `resize` shrinks them); raises ImageRejected."""
    if expected_hash is not None:
        found = hashlib.new(hash_type, data).hexdigest()
        if found != expected_hash.strip().lower():
            raise ImageRejected("hash_mismatch", f"{hash_type} {found} != the expected {expected_hash}")
    try:
        opened = open_image(data)
        size = opened.size
        pixels = decode_opened(opened)
    except ImageError as err:
        kind = "too_large" if str(err).startswith("decompression bomb") else "not_an_image"
        raise ImageRejected(kind, str(err)) from None
    if resize is None or max(size) <= resize:
        return data
    pixels.thumbnail((resize, resize))
    buffer = io.BytesIO()
    pixels.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()
