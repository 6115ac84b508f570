"""img2dataset output read as caption samples: a DataOptim captioning prompt, the caption as the answer.

Layouts as rom1504/img2dataset@95523bc writes them (`img2dataset/writer.py`, `downloader.py`), one
shard `NNNNN` each, every shard with a `NNNNN.parquet` of its rows' meta (`url`, `caption`, `key`,
`status`, `error_message`, `width`, `height`, `original_width`, `original_height`, extra columns):

- `webdataset`: `NNNNN.tar` with `KEY.<jpg|png|webp>`, `KEY.txt` (caption) and `KEY.json` (meta);
- `files`: a folder `NNNNN/` holding the same three files per key;
- `parquet`: the images are in `NNNNN.parquet` itself, a binary column named by the encode format,
  the caption in `txt`.

Rows whose `status` is not `success` have no image: each is a `Rejected` naming its key, status and
error, so read = written + quarantined. The meta is kept in `meta` (without the caption, which is the
answer); ids are `img2dataset_<key>`. A path may be the output folder or one `.tar` shard.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from synthloop.formats.catalog import register
from synthloop.formats.common import FormatError, Rejected
from synthloop.formats.ingest.common import dataoptim, draw
from synthloop.formats.webdataset import has_caption_files
from synthloop.sample import IMAGE_TOKEN, new_sample, validate_sample

IMAGE_EXTENSIONS = ("jpg", "png", "webp", "jpeg")
META_COLUMNS = {"key", "status"}


def is_output(path: Path) -> bool:
    """An img2dataset output folder: a shard Parquet with `key` and `status` columns."""
    shard = next(iter(sorted(path.glob("*.parquet"))), None) if path.is_dir() else None
    return shard is not None and META_COLUMNS <= set(pq.read_schema(shard).names)


def read(path: str | Path, image_root: str | Path | None = None) -> Iterator[dict | Rejected]:
    del image_root
    path = Path(path)
    if path.suffix == ".tar":
        yield from _tar_samples(path, {})
        return
    shards = sorted(path.glob("*.parquet"))
    if not shards or not is_output(path):
        raise FormatError(f"{path}: not an img2dataset output folder (no NNNNN.parquet with key and status)")
    for shard in shards:
        rows = pq.read_table(shard).to_pylist()
        for row in rows:
            if row.get("status") != "success":
                yield Rejected(str(shard), f"key {row.get('key')!r}: status {row.get('status')!r} "
                                           f"({row.get('error_message') or 'no image'})", sample_id=row.get("key"))
        successes = {row["key"]: row for row in rows if row.get("status") == "success"}
        tar, folder = shard.with_suffix(".tar"), shard.with_suffix("")
        if tar.exists():
            yield from _tar_samples(tar, successes)
        elif folder.is_dir():
            yield from _folder_samples(folder, successes)
        else:
            yield from (_parquet_sample(str(shard), row) for row in successes.values())


def _tar_samples(tar_path: Path, rows: dict[str, dict]) -> Iterator[dict | Rejected]:
    try:
        with tarfile.open(tar_path, "r|*") as tar:
            key, members = None, {}
            for info in tar:
                stem, _, ext = info.name.rpartition("/")[2].partition(".")
                if key is not None and stem != key:
                    yield _sample(str(tar_path), key, members, rows.get(key))
                    members = {}
                key = stem
                if info.isfile():
                    members[ext] = tar.extractfile(info).read()  # type: ignore[union-attr]
            if key is not None:
                yield _sample(str(tar_path), key, members, rows.get(key))
    except tarfile.TarError as err:
        raise FormatError(f"{tar_path}: not a readable tar ({err})") from None


def _folder_samples(folder: Path, rows: dict[str, dict]) -> Iterator[dict | Rejected]:
    for key in sorted(rows):
        members = {file.suffix.lstrip("."): file.read_bytes() for file in sorted(folder.glob(f"{key}.*"))}
        yield _sample(str(folder), key, members, rows[key])


def _parquet_sample(file: str, row: dict) -> dict | Rejected:
    members = {ext: row[ext] for ext in IMAGE_EXTENSIONS if row.get(ext) is not None}
    if row.get("txt") is not None:
        members["txt"] = row["txt"].encode()
    meta = {k: v for k, v in row.items() if k not in IMAGE_EXTENSIONS and k != "txt"}
    return _sample(file, row["key"], members, meta)


def _sample(file: str, key: str, members: dict[str, bytes], row: dict | None) -> dict | Rejected:
    image = next((members[ext] for ext in IMAGE_EXTENSIONS if ext in members), None)
    try:
        meta = row if row is not None else orjson.loads(members.get("json", b"{}"))
        caption = members["txt"].decode() if "txt" in members else meta.get("caption")
    except (orjson.JSONDecodeError, UnicodeDecodeError) as err:
        return Rejected(file, f"key {key!r}: {err}", sample_id=key)
    if image is None or not isinstance(caption, str) or not caption.strip():
        return Rejected(file, f"key {key!r}: needs an image and a caption (found {', '.join(sorted(members))})",
                        sample_id=key)
    sample_id = f"img2dataset_{key}"
    prompt = draw(dataoptim("captioning"), 0, sample_id)
    messages = [{"role": "user", "content": f"{IMAGE_TOKEN}\n{prompt}"},
                {"role": "assistant", "content": caption.strip()}]
    meta = {k: v for k, v in meta.items() if k != "caption" and v is not None}
    return validate_sample(new_sample(sample_id, messages, [{"bytes": image, "path": None}], task="caption",
                                      qtype="caption", source="img2dataset", meta=meta))


@register("img2dataset", "img2dataset output (tar, files or parquet shards) as caption samples",
          read=read, priority=10)
def detect(path: Path, first: object) -> bool:
    del first
    if path.suffix == ".tar":
        return has_caption_files(path)
    return is_output(path)
