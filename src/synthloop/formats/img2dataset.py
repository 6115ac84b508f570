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

The writer writes the `webdataset` layout as img2dataset does (`writer.py` `WebDatasetSampleWriter`):
shards `NNNNN.tar` of 10,000 samples with `KEY.<jpg|png|...>`, `KEY.txt` (the caption: the sample's
last assistant turn) and `KEY.json` (the meta), beside `NNNNN.parquet` with the meta rows; keys are
the shard and the position (`compute_key`: 5 + 4 digits). The meta holds img2dataset's columns
(`url`, `caption`, `key`, `status` `success`, `error_message`, `width`, `height`, `original_width`,
`original_height`) plus `id`. A sample that is not one image with a caption is rejected.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from synthloop.formats.catalog import register
from synthloop.formats.common import FormatError, OnBad, Rejected
from synthloop.formats.image_refs import image_extension, with_image_bytes
from synthloop.formats.ingest.common import dataoptim, draw
from synthloop.formats.webdataset import add_member, has_caption_files
from synthloop.images import ImageError, open_image
from synthloop.sample import IMAGE_TOKEN, new_sample, validate_sample

IMAGE_EXTENSIONS = ("jpg", "png", "webp", "jpeg")
META_COLUMNS = {"key", "status"}
SHARD_SAMPLES = 10_000
META_SCHEMA = pa.schema([("url", pa.string()), ("caption", pa.string()), ("key", pa.string()),
                         ("status", pa.string()), ("error_message", pa.string()), ("width", pa.int32()),
                         ("height", pa.int32()), ("original_width", pa.int32()), ("original_height", pa.int32()),
                         ("id", pa.string())])


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


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None) -> int:
    """Caption samples as img2dataset's `webdataset` output: NNNNN.tar + NNNNN.parquet per 10,000."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    shard: list[tuple[dict, bytes]] = []
    count = shards = 0
    for sample in samples:
        try:
            caption, image = _caption_and_image(sample, image_root)
        except (ImageError, ValueError) as err:
            on_bad(Rejected(str(path), str(err), sample_id=sample.get("id"), record=sample))
            continue
        width, height = open_image(image["bytes"]).size
        key = f"{shards:05d}{len(shard):04d}"
        meta = {"url": sample["meta"].get("url"), "caption": caption, "key": key, "status": "success",
                "error_message": None, "width": width, "height": height, "original_width": width,
                "original_height": height, "id": sample["id"]}
        shard.append((meta, image))
        count += 1
        if len(shard) == SHARD_SAMPLES:
            _write_shard(path, shards, shard)
            shards, shard = shards + 1, []
    if shard:
        _write_shard(path, shards, shard)
    return count


def _caption_and_image(sample: dict, image_root: str | Path | None) -> tuple[str, dict]:
    answers = [m["content"] for m in sample["messages"] if m["role"] == "assistant"]
    if len(sample["images"]) != 1 or not answers:
        raise ValueError(f"img2dataset holds one image and its caption per sample; this one has "
                         f"{len(sample['images'])} image(s) and {len(answers)} assistant turn(s)")
    return answers[-1], with_image_bytes(sample, image_root)["images"][0]


def _write_shard(folder: Path, index: int, rows: list[tuple[dict, dict]]) -> None:
    with tarfile.open(folder / f"{index:05d}.tar", "w") as tar:
        for meta, image in rows:
            key = meta["key"]
            add_member(tar, f"{key}.{image_extension(image)}", image["bytes"])
            add_member(tar, f"{key}.txt", meta["caption"].encode())
            add_member(tar, f"{key}.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    pq.write_table(pa.Table.from_pylist([meta for meta, _ in rows], schema=META_SCHEMA),
                   folder / f"{index:05d}.parquet")


@register("img2dataset", "img2dataset output (tar, files or parquet shards) as caption samples",
          read=read, write=write, priority=10, embeds_images=True)
def detect(path: Path, first: object) -> bool:
    del first
    if path.suffix == ".tar":
        return has_caption_files(path)
    return is_output(path)
