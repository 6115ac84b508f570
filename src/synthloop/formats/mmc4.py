"""MMC4 documents (interleaved image-text web pages) as records to download, and as interleaved samples.

Fields as the MMC4 README documents them (allenai/mmc4@5304ddd, README.md "Documents"): one JSON
document per line with `text_list` (the sentences), `url` (the page), `image_info` (per image
`image_name`, `raw_url`, `face_detections`, `matched_text_index` (the sentence it is matched to),
`matched_sim` (its CLIP ViT-L/14 similarity to that sentence)), `similarity_matrix` and
`could_have_url_duplicate`. Shards come as `.jsonl` or as `.jsonl.zip` (the README's
`docs_shard_{SHARD}_v2.jsonl.zip`; scripts/download_images.py opens such an archive and reads its JSONL
member); a zip's `.jsonl` members are read in the archive's order, its documents numbered across them.

The sample follows VILA's reading of a document (NVlabs/VILA@b760c34, llava/data/dataset.py
`LazyMMC4Dataset.__getitem__`): a literal `<image>` in the text becomes `<IMAGE>`, the images are
ordered by their sentence (a stable sort, so two images of one sentence keep the document's order),
each image's placeholder `<image>\\n` goes before its sentence, the sentences are joined by spaces
and the spaces around placeholders removed. An image that failed to download is left out and listed
in `meta.failed_images` with its reason; `ops/filters/interleaved_images` then drops documents with
too few images, as VILA's downloader keeps only documents whose images all downloaded.
The document is one assistant turn (text to learn, no question); task `interleaved`, source `mmc4`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from synthloop.formats.common import Rejected
from synthloop.formats.urls import INPUT_SHARD, jsonl_rows, table_files
from synthloop.sample import IMAGE_TOKEN, new_sample

DOCUMENT_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zip")
FAILED_IMAGES = "failed_images"  # meta key: [{index, url, error}] of the images left out


def read_documents(path: str | Path) -> Iterator[dict | Rejected]:
    """Pending document records (or Rejected lines) of every MMC4 shard under `path`."""
    for file in table_files(Path(path), DOCUMENT_SUFFIXES):
        stem = file.name.removesuffix(".gz").removesuffix(".zip").removesuffix(".jsonl")
        for row, document in enumerate(jsonl_rows(file)):
            yield document if isinstance(document, Rejected) else _record(file, f"{stem}_{row}", row, document)


def _record(file: Path, sample_id: str, row: int, document: dict) -> dict | Rejected:
    texts, images = document.get("text_list"), document.get("image_info")
    problem = ("text_list is not a list of strings" if not isinstance(texts, list) or
               not all(isinstance(t, str) for t in texts) else
               "image_info is not a list of objects" if not isinstance(images, list) or
               not all(isinstance(i, dict) for i in images) else None)
    if problem is None:
        for i, info in enumerate(images):
            index, url = info.get("matched_text_index"), info.get("raw_url")
            if not isinstance(url, str) or not url:
                problem = f"image_info[{i}].raw_url is not a URL: {url!r}"
            elif not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(texts):
                problem = f"image_info[{i}].matched_text_index {index!r} is not a sentence of text_list"
            if problem:
                break
    if problem:
        return Rejected(str(file), problem, index=row + 1, sample_id=sample_id, record=document)
    meta = {"url": document.get("url"), INPUT_SHARD: file.name, "row": row,
            "image_names": [info.get("image_name") for info in images],
            "matched_sim": [info.get("matched_sim") for info in images],
            "could_have_url_duplicate": document.get("could_have_url_duplicate")}
    return {"id": sample_id, "layout": "document", "urls": [info["raw_url"] for info in images],
            "hashes": [None] * len(images), "text_list": texts,
            "matched": [info["matched_text_index"] for info in images], "meta": meta, "scores": {}}


def document_sample(record: dict, images: list[bytes | None], errors: list[str | None]) -> dict:
    """The interleaved sample of a downloaded document; `images[i]` is None where image i failed with
    `errors[i]`."""
    sentences = [text.replace(IMAGE_TOKEN, "<IMAGE>") for text in record["text_list"]]
    kept = [i for i, data in enumerate(images) if data is not None]
    order = sorted(kept, key=lambda i: record["matched"][i])  # sorted() is stable
    for i in order:
        sentences[record["matched"][i]] = f"{IMAGE_TOKEN}\n{sentences[record['matched'][i]]}"
    text = " ".join(sentences).replace(f"{IMAGE_TOKEN} ", IMAGE_TOKEN).replace(f" {IMAGE_TOKEN}", IMAGE_TOKEN)
    failed = [{"index": i, "url": record["urls"][i], "error": errors[i]} for i, data in enumerate(images)
              if data is None]
    meta = {**record["meta"], "image_count": len(images), FAILED_IMAGES: failed}
    return new_sample(record["id"], [{"role": "assistant", "content": text}],
                      [{"bytes": images[i], "path": None} for i in order], task="interleaved", qtype="document",
                      source="mmc4", meta=meta)
