"""Writes the foreign Hugging Face fixtures with `datasets` itself, in each source's documented layout.

    .venv/bin/python tests/data/hf/make.py

- trl.parquet: TRL's VLM SFT layout (`images` Image list + `messages` with content parts), as in
  trl-lib/llava-instruct-mix and TRL docs/source/dataset_formats.md (vision datasets).
- cauldron.parquet: HuggingFaceM4/the_cauldron (`images` Image list, `texts` [{user, assistant, source}]).
- onevision.parquet: lmms-lab/LLaVA-OneVision-Data (`id`, `image` Image or null, `conversations`
  [{from, value}], `data_source`).
- trl_arrow/: trl.parquet's rows through `save_to_disk` (Arrow streams + dataset_info.json).
- dj_bytes.parquet: Data-Juicer's demos/data/demo-dataset-images-bytes.parquet schema and metadata
  (modelscope/data-juicer@c07c2d79: `images` paths, `text`, `image_bytes`) with two tiny images.
"""

import io
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

HERE = Path(__file__).parent
DJ_METADATA = (b'{"info": {"features": {"images": {"feature": {"dtype": "string", "_type": "Value"}, "_type": '
               b'"Sequence"}, "text": {"dtype": "string", "_type": "Value"}, "image_bytes": {"feature": {"dtype": '
               b'"binary", "_type": "Value"}, "_type": "Sequence"}}}}')


def png(colour: str, size: tuple[int, int] = (8, 6)) -> Image.Image:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return Image.open(io.BytesIO(buffer.getvalue()))


def main() -> None:
    red, blue = png("red"), png("blue", (6, 8))
    trl = datasets.Dataset.from_dict({
        "images": [[red], [red, blue], []],
        "messages": [
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour?"}]},
             {"role": "assistant", "content": [{"type": "text", "text": "Red."}]}],
            [{"role": "user", "content": [{"type": "text", "text": "Compare "}, {"type": "image"},
                                          {"type": "text", "text": " and "}, {"type": "image"}]},
             {"role": "assistant", "content": [{"type": "text", "text": "Red, then blue."}]}],
            [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
             {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
             {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]}]]},
    ).cast_column("images", datasets.Sequence(datasets.Image()))
    trl.to_parquet(HERE / "trl.parquet")
    trl.save_to_disk(HERE / "trl_arrow")
    cauldron = datasets.Dataset.from_dict({
        "images": [[red], [red, blue]],
        "texts": [[{"user": "Question: colour?\nAnswer briefly.", "assistant": "Red.", "source": "VQAv2"},
                   {"user": "Shape?", "assistant": "Square.", "source": "VQAv2"}],
                  [{"user": "Which is blue?", "assistant": "The second.", "source": "NLVR2"}]]},
    ).cast_column("images", datasets.Sequence(datasets.Image()))
    cauldron.to_parquet(HERE / "cauldron.parquet")
    onevision = datasets.Dataset.from_dict({
        "id": ["ov_1", "ov_2"], "image": [red, None],
        "conversations": [[{"from": "human", "value": "<image>\nColour?"}, {"from": "gpt", "value": "Red."}],
                          [{"from": "human", "value": "Text only?"}, {"from": "gpt", "value": "Yes."}]],
        "data_source": ["CLEVR", "magpie"]},
    ).cast_column("image", datasets.Image())
    onevision.to_parquet(HERE / "onevision.parquet")
    buffers = []
    for img in (red, blue):
        buffer = io.BytesIO()
        img.save(buffer, format="PNG")
        buffers.append(buffer.getvalue())
    schema = pa.schema([("images", pa.list_(pa.string())), ("text", pa.string()),
                        ("image_bytes", pa.list_(pa.binary()))], metadata={b"huggingface": DJ_METADATA})
    table = pa.Table.from_pydict({"images": [["img/red.png"], ["img/blue.png"]],
                                  "text": ["<__dj__image> A red square.", "<__dj__image> A blue square."],
                                  "image_bytes": [[buffers[0]], [buffers[1]]]}, schema=schema)
    pq.write_table(table, HERE / "dj_bytes.parquet")


if __name__ == "__main__":
    main()
