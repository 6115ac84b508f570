"""Stage 0 of a URL input: download a shard's pending records (`formats.urls`, `formats.mmc4`) into samples.

What came back for each URL, bytes or the failure, is kept in `RUN_DIR/downloads/part-J.parquet`
(written whole before the shard's samples are built), so the shard can be rebuilt without
fetching again: a resumed run reuses it, and `synthloop run --retry-failed` fetches only the URLs
whose entry is a failure. A shard's samples depend on those entries alone, never on the order the
answers arrived in. A caption record whose image failed is an `InputReject` whose error names the
failure kind (`download.fetch.FAILURE_KINDS`), the URL and the detail; a document keeps its other
images and lists the failed ones in its meta.
"""

from __future__ import annotations

import orjson
import pyarrow as pa

from synthloop.download.checks import ImageRejected, checked_image
from synthloop.download.fetch import Fetched, fetch_all
from synthloop.download.settings import DownloadSettings
from synthloop.engine.inputs import InputReject
from synthloop.engine.rundir import read_parquet
from synthloop.formats.mmc4 import document_sample
from synthloop.formats.urls import caption_sample
from synthloop.storage import Location

PART_SCHEMA = pa.schema([("url", pa.string()), ("data", pa.binary()), ("kind", pa.string()),
                         ("detail", pa.string())])


def download_shard(items: list[dict | InputReject], settings: DownloadSettings, hash_type: str, part: Location,
                   retry_failed: bool) -> list[dict | InputReject]:
    """The shard's items with each pending record replaced by its sample (or an InputReject)."""
    fetched = fetch_urls(_urls(items), settings, part, retry_failed)
    return [item if isinstance(item, InputReject) else _sample(item, fetched, settings, hash_type) for item in items]


def failed_urls(part: Location) -> int:
    """How many URLs of a shard's download part are failures (0 for a shard without one)."""
    if not part.exists():
        return 0
    kinds = read_parquet(part, ["kind"])["kind"]
    return len(kinds) - kinds.null_count


def fetch_urls(urls: list[str], settings: DownloadSettings, part: Location, retry_failed: bool) -> dict[str, Fetched]:
    """What each URL gave: from the part where it holds the URL (a failure refetched with `retry_failed`),
    fetched otherwise; the part is rewritten when anything was fetched."""
    known = _read_part(part) if part.exists() else {}
    todo = [url for url in urls if url not in known or (retry_failed and not known[url].ok)]
    if todo or not part.exists():
        known.update(zip(todo, fetch_all(todo, settings), strict=True))
        ordered = [known[url] for url in urls]
        columns = {"url": [f.url for f in ordered], "data": [f.data for f in ordered],
                   "kind": [f.kind for f in ordered], "detail": [f.detail for f in ordered]}
        part.write_parquet(pa.table(columns, schema=PART_SCHEMA))
    return known


def _urls(items: list[dict | InputReject]) -> list[str]:
    """The distinct URLs of the shard's records, in order of first appearance."""
    return list(dict.fromkeys(url for item in items if isinstance(item, dict) for url in item["urls"]))


def _read_part(part: Location) -> dict[str, Fetched]:
    rows = read_parquet(part).to_pylist()
    return {row["url"]: Fetched(row["url"], row["data"], row["kind"], row["detail"] or "") for row in rows}


def _sample(record: dict, fetched: dict[str, Fetched], settings: DownloadSettings,
            hash_type: str) -> dict | InputReject:
    images: list[bytes | None] = []
    errors: list[str | None] = []
    for url, expected in zip(record["urls"], record["hashes"], strict=True):
        result = fetched[url]
        if result.data is not None:
            try:
                result = Fetched(url, checked_image(result.data, expected, hash_type, settings.resize))
            except ImageRejected as err:
                result = Fetched(url, None, err.kind, str(err))
        images.append(result.data)
        errors.append(None if result.ok else result.error)
    if record["layout"] == "document":
        return document_sample(record, images, errors)
    if images[0] is None:
        return InputReject(record["id"], errors[0] or "", orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode())
    return caption_sample(record, images[0])
