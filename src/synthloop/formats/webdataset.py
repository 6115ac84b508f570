"""WebDataset tars: per sample, its image file(s) and a `.json`, grouped by a shared key.

Keys are the sample's position (`000000042`), so they are unique and free of the dots and
slashes ids may contain. One image is `KEY.<ext>` (what `.to_tuple("jpg", "json")` expects);
several are `KEY.0.<ext>`, `KEY.1.<ext>`, ... The json holds the canonical sample with `images`
as `[{path, file}]`, `file` naming the member that holds the bytes. A destination ending in `.tar`
is one tar; any other is a folder of `part-NNNNN.tar` shards. The `webdataset` library (1.0.2) groups
members by the name up to the first dot, so `WebDataset(tar).decode()` yields one sample per key
(`benchmarks/peers.py` checks it).
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from synthloop.formats.catalog import register
from synthloop.formats.common import FormatError, OnBad, Rejected
from synthloop.formats.image_refs import image_extension, with_image_bytes
from synthloop.formats.staged import is_hidden
from synthloop.images import ImageError
from synthloop.sample import SampleError, validate_sample

DEFAULT_SHARD_SAMPLES = 10_000


def _members(key: str, sample: dict) -> list[tuple[str, bytes]]:
    """(member name, bytes) for one sample whose images carry bytes."""
    images = sample["images"]
    names = [f"{key}.{image_extension(ref)}" if len(images) == 1 else f"{key}.{i}.{image_extension(ref)}"
             for i, ref in enumerate(images)]
    record = {**sample, "images": [{"path": ref.get("path"), "file": name} for ref, name in zip(images, names,
                                                                                              strict=True)]}
    members = [(f"{key}.json", orjson.dumps(record, option=orjson.OPT_SORT_KEYS))]
    members += [(name, ref["bytes"]) for name, ref in zip(names, images, strict=True)]
    return members


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)  # fixed mtime/owner so the same samples give the same bytes
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None,
          shard_samples: int = DEFAULT_SHARD_SAMPLES) -> int:
    """Write samples with their image bytes (loaded from `image_root` when they have only a path)."""
    path = Path(path)
    single = path.suffix == ".tar"
    (path.parent if single else path).mkdir(parents=True, exist_ok=True)
    tar: tarfile.TarFile | None = None
    shards = count = 0
    try:
        for sample in samples:
            try:
                sample = with_image_bytes(sample, image_root)
            except ImageError as err:
                on_bad(Rejected(str(path), str(err), sample_id=sample["id"], record=sample))
                continue
            if tar is None or (not single and count % shard_samples == 0):
                if tar is not None:
                    tar.close()
                tar = tarfile.open(path if single else path / f"part-{shards:05d}.tar", "w")  # noqa: SIM115
                shards += 1
            for name, data in _members(f"{count:09d}", sample):
                add_member(tar, name, data)
            count += 1
    finally:
        if tar is not None:
            tar.close()
    if tar is None and single:
        tarfile.open(path, "w").close()
    return count


def tar_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such tar file or folder")
    return sorted(file for file in path.rglob("*.tar") if not is_hidden(file, path))


def read(path: str | Path, image_root: str | Path | None = None) -> Iterator[dict | Rejected]:
    del image_root
    index = 0
    for file in tar_files(path):
        first = index
        try:
            with tarfile.open(file, "r|*") as tar:
                for key, members in _groups(tar):
                    index += 1
                    yield _sample(str(file), key, members, index)
                end = tar.offset
        except (tarfile.TarError, EOFError, zlib.error) as err:
            raise FormatError(f"{file}: not a readable tar after sample #{index} ({err})") from None
        _check_end(file, end, index - first)


COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def _check_end(file: Path, end: int, samples: int) -> None:
    """A tar ends with zero blocks (POSIX: two of 512 bytes); `tarfile` ends quietly at a cut that falls
    between members, so a file without one is reported as truncated. Compressed tars are left to the
    decompressor, which detects a cut stream itself."""
    with open(file, "rb") as handle:
        if handle.read(6).startswith(COMPRESSED_MAGIC):
            return
        handle.seek(end)
        marker = handle.read(512)
    if len(marker) < 512 or marker.count(0) != 512:
        raise FormatError(f"{file}: truncated after {samples} sample(s): no end-of-archive block at byte {end}")


def has_caption_files(path: Path) -> bool:
    """Whether the tar's first sample has a `.txt` member, as img2dataset's tars do (ours never)."""
    try:
        with tarfile.open(path, "r|*") as tar:
            first = next(_groups(tar), None)
    except tarfile.TarError:
        return False
    return first is not None and "txt" in first[1]


def _groups(tar: tarfile.TarFile) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) for each run of consecutive members sharing a key."""
    key, members = None, {}
    for info in tar:
        if not info.isfile():
            continue
        folder, _, base = info.name.rpartition("/")
        stem, _, ext = base.partition(".")
        member_key = f"{folder}/{stem}" if folder else stem
        if member_key != key and members:
            yield key, members  # type: ignore[misc]
            members = {}
        key = member_key
        members[ext] = tar.extractfile(info).read()  # type: ignore[union-attr]
    if members:
        yield key, members  # type: ignore[misc]


def _sample(file: str, key: str, members: dict[str, bytes], index: int) -> dict | Rejected:
    if "json" not in members:
        return Rejected(file, f"key {key!r} has no .json member", index=index)
    try:
        sample = orjson.loads(members["json"])
        if not isinstance(sample, dict) or "messages" not in sample:
            return Rejected(file, f"key {key!r}: its .json is not a synthloop sample (an img2dataset tar? "
                                  "read it with --from img2dataset)", index=index)
        images = []
        for ref in sample["images"]:
            ext = ref["file"].partition(".")[2]
            if ext not in members:
                raise ValueError(f"member {ref['file']!r} is missing")
            images.append({"bytes": members[ext], "path": ref.get("path")})
        sample["images"] = images
        return validate_sample(sample)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        problem = str(err).split(": ", 1)[-1] if isinstance(err, SampleError) else str(err)
        return Rejected(file, f"key {key!r}: {problem}", index=index)


@register("webdataset", "tar or folder of tars: KEY.json (canonical sample) + KEY.<ext> images", read=read,
          write=write, priority=40, embeds_images=True)
def detect(path: Path, first: object) -> bool:
    del first
    return path.suffix == ".tar" or (path.is_dir() and any(path.rglob("*.tar")))
