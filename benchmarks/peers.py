"""Our output of the varied fixture fed to the tools users come from: a pass/fail table per tool and format.

    .venv/bin/python benchmarks/peers.py --dj-python DJ_VENV/bin/python --peer-python PEER_VENV/bin/python \\
        --data-juicer DATA_JUICER_CHECKOUT --llama-factory LLAMA_FACTORY_CHECKOUT --dataoptim DATAOPTIM_CHECKOUT

The peers pin other versions of datasets and transformers, so each runs in its own virtual environment:
- DJ_VENV: `pip install py-data-juicer==1.6.1 fire jsonlines aiohttp` (no torch). Cells: `dj-process` on our
  `dj` output, and the checkout's `tools/fmt_conversion/multimodal/.../dj_to_llava.py` on our `dj` output
  written with `--image-token '<image>'`.
- PEER_VENV: `pip install torch==2.13.0 && pip install trl==1.16.0 webdataset==1.0.2 peft==0.18.1`. Cells: TRL's
  `prepare_multimodal_messages` (what its vision collator applies) on our `messages` output, rendered with a
  LLaVA-style chat template; `webdataset` on our tar; `datasets` on our Parquet; LLaMA-Factory's own
  `data/parser.py` and `data/converter.py`, loaded from the checkout (LLaMA-Factory does not install here:
  torchvision has no CPU build), on our `sharegpt` output and its `dataset_info.json`.
- DataOptim's `tools/expand_to_square.py` from the checkout, against our `--pad-boxes`.
- LLaVA's `scripts/convert_sqa_to_llava.py` (QCM-LEA) from the checkout, against `ingest scienceqa` on the
  ScienceQA fixture (its `fire` import, used only by its command line, is stubbed).
A peer that is not given is reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from ingest_fixtures import write_images, write_scienceqa  # noqa: E402
from test_formats_fixture import VARIED_RECORDS, write_fixture  # noqa: E402

from synthloop.formats import llava, registry  # noqa: E402
from synthloop.formats.ingest import ingest  # noqa: E402

# samples dj_to_llava.py accepts: one distinct image, human/gpt pairs, no role tags inside turns
DJ_TO_LLAVA_IDS = ("coco_1", "instruct_4", "shikra_5")
LLAVA_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}{% if c['type'] == 'image' %}"
                  "<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n{% endfor %}")


def run_script(python: str, script: str, *args: str, timeout: int = 900) -> tuple[bool, str]:
    """Run `script` (Python source printing one JSON line {ok, detail}) under `python`."""
    done = subprocess.run([python, "-c", script, *args], capture_output=True, text=True, timeout=timeout,
                          env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return False, (done.stderr.strip().splitlines() or ["no output"])[-1][:150]
    result = json.loads(lines[-1])
    return bool(result["ok"]), result["detail"]


DJ_PROCESS = """
import json, subprocess, sys, pathlib
work, data, expected = pathlib.Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
config = work / "dj.yaml"
export = work / "dj_export" / "result.jsonl"
config.write_text(f"project_name: peers\\ndataset_path: {data}\\nexport_path: {export}\\nnp: 1\\n"
                  "process:\\n  - image_shape_filter:\\n      min_width: 1\\n      min_height: 1\\n")
bin_dir = pathlib.Path(sys.executable).parent
done = subprocess.run([str(bin_dir / "dj-process"), "--config", str(config)], capture_output=True, text=True)
rows = [json.loads(l) for l in export.read_text().splitlines()] if export.exists() else []
stats = [json.loads(l)["__dj__stats__"] for l in (export.parent / "result_stats.jsonl").read_text().splitlines()]
widths = [len(s.get("image_width", [])) for s in stats]
ok = done.returncode == 0 and [r["id"] for r in rows] == list(expected) and widths == list(expected.values())
print(json.dumps({"ok": ok, "detail": f"kept {len(rows)}/{len(expected)}, images measured {sum(widths)}"}))
"""

DJ_TO_LLAVA = """
import json, subprocess, sys
tool, data, out, expected = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
done = subprocess.run([sys.executable, tool, data, out], capture_output=True, text=True)
got = {str(r["id"]): r for r in json.load(open(out))} if done.returncode == 0 else {}
bad = [i for i, r in expected.items() if got.get(i) != r]
detail = f"{len(got)} records, differing: {bad or 'none'}" if done.returncode == 0 else done.stderr.splitlines()[-1]
print(json.dumps({"ok": done.returncode == 0 and not bad, "detail": detail}))
"""

TRL = """
import json, os, sys
import jinja2
from datasets import load_dataset
from PIL import Image
from trl.data_utils import prepare_multimodal_messages
path, template, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
rows = load_dataset("json", data_files=path, split="train")
bad = []
for row in rows:
    images = [Image.open(os.path.join(os.path.dirname(path), p)) for p in row["images"]]
    messages = prepare_multimodal_messages(row["messages"], images=images)
    filled = sum(1 for m in messages for c in m["content"] if c["type"] == "image" and c.get("image") is not None)
    if filled != len(images) or jinja2.Template(template).render(messages=messages) != expected[row["id"]]:
        bad.append(row["id"])
ok = not bad and len(rows) == len(expected)
print(json.dumps({"ok": ok, "detail": f"{len(rows)} rows, differing: {bad or 'none'}"}))
"""

WEBDATASET = """
import json, sys
import webdataset as wds
path, expected = sys.argv[1], json.loads(sys.argv[2])
samples = list(wds.WebDataset(path, shardshuffle=False).decode("pil"))
counts = {s["json"]["id"]: sum(1 for k in s if k != "json" and not k.startswith("__")) for s in samples}
pairs = wds.WebDataset(path, shardshuffle=False).decode("pil")
pairs = pairs.to_tuple("png;jpg", "json", handler=wds.ignore_and_continue)
single = list(pairs)
ok = counts == expected and len(single) == sum(1 for n in expected.values() if n == 1)
print(json.dumps({"ok": ok, "detail": f"{len(samples)} samples, {len(single)} (image, json) tuples"}))
"""

PARQUET = """
import json, sys
from datasets import load_dataset
path, expected = sys.argv[1], json.loads(sys.argv[2])
rows = load_dataset("parquet", data_files=path + "/*.parquet", split="train")
sizes = {r["id"]: [list(im.size) for im in r["images"]] for r in rows}
decoded = sum(map(len, sizes.values()))
print(json.dumps({"ok": sizes == expected, "detail": f"{len(rows)} rows, {decoded} images decoded"}))
"""

LLAMA_FACTORY = """
import json, os, sys, types
source, folder, name = sys.argv[1], sys.argv[2], sys.argv[3]
for module, sub in (("llamafactory", ""), ("llamafactory.data", "/data")):  # skip the heavy package inits
    package = types.ModuleType(module)
    package.__path__ = [os.path.join(source, "src", "llamafactory") + sub]
    sys.modules[module] = package
from datasets import load_dataset
from llamafactory.data.converter import SharegptDatasetConverter
from llamafactory.data.parser import get_dataset_list
[attr] = get_dataset_list([name], folder)
converter = SharegptDatasetConverter(dataset_attr=attr, data_args=types.SimpleNamespace(media_dir=folder))
rows = load_dataset("json", data_files=os.path.join(folder, attr.dataset_name), split="train")
bad = []
for row in rows:
    out = converter(row)
    images = out["_images"] or []
    tokens = sum(m["content"].count("<image>") for m in out["_prompt"] + out["_response"])
    if not out["_prompt"] or tokens != len(images) or not all(os.path.isfile(p) for p in images):
        bad.append(row["id"])
print(json.dumps({"ok": not bad, "detail": f"{len(rows)} rows, skipped or unresolved: {bad or 'none'}"}))
"""


def box_records(count: int = 200) -> list[dict]:
    """svit_referring_0's turns (DataOptim's example/example-byod.json) and random boxes in its dialect, on the
    fixture's wide and tall images: what expand_to_square.py rewrites (it leaves Shikra's `[0.100,0.200,...]`
    alone, which --pad-boxes moves too)."""
    rng = random.Random(0)
    records = [{"id": "svit_referring_0", "image": "img/wide.png", "conversations": [
        {"from": "human", "value": "<image>\nWhich object is located higher in the image, the clock "
                                   "[0.526, 0.152, 0.625, 0.717] or the sign [0.147, 0.022, 0.258, 0.325]?"},
        {"from": "gpt", "value": "The sign [0.147, 0.022, 0.258, 0.325] is located higher."}]}]
    for n in range(count):
        x1, x2 = sorted(round(rng.random(), 3) for _ in range(2))
        y1, y2 = sorted(round(rng.random(), 3) for _ in range(2))
        records.append({"id": f"box_{n}", "image": f"img/{'wide.png' if n % 2 else 'tall.jpg'}", "conversations": [
            {"from": "human", "value": "<image>\nWhat is here?"},
            {"from": "gpt", "value": f"[{x1}, {y1}, {x2}, {y2}]"}]})
    return records


def dataoptim_cell(script: Path, work: Path, fixture: Path, python: str) -> tuple[bool, str]:
    """expand_to_square.py on the box records against our --pad-boxes output."""
    data, out = work / "dataoptim" / "data", work / "dataoptim" / "out"
    data.mkdir(parents=True)
    out.mkdir()
    records = box_records()
    (data / "svit.json").write_text(json.dumps(records))
    for name in ("ref3rec.json", "ref3reg.json", "shikra.json"):
        (data / name).write_text("[]")
    registry.write("llava", registry.read("llava", data / "svit.json"), work / "dataoptim" / "ours.json",
                   image_root=fixture.parent, pad_boxes=True)
    done = subprocess.run([python, str(script), "--data_dir", str(data), "--image_dir", str(fixture.parent),
                           "--output_dir", str(out)], capture_output=True, text=True)
    if done.returncode != 0:
        return False, done.stderr.strip().splitlines()[-1][:150]
    theirs = json.loads((out / "svit.json").read_text())
    ours = json.loads((work / "dataoptim" / "ours.json").read_text())
    bad = [a["id"] for a, b in zip(theirs, ours, strict=True) if a["conversations"] != b["conversations"]]
    return not bad, f"{len(theirs)} records, differing: {bad or 'none'}"


LLAVA_SQA = """
import json, sys, types
sys.modules.setdefault("fire", types.ModuleType("fire"))
sys.path.insert(0, sys.argv[1])
from convert_sqa_to_llava import convert_to_llava
base, ours = sys.argv[2], json.loads(sys.argv[3])
convert_to_llava(base, "trainval")
theirs = [r for r in json.load(open(base + "/llava_trainval_QCM-LEA.json")) if "image" in r]
mapped = [{**r, "id": "scienceqa_" + r["id"], "image": "scienceqa/" + r["image"]} for r in theirs]
bad = [a["id"] for a, b in zip(mapped, ours) if a != b]
ok = not bad and len(mapped) == len(ours)
print(json.dumps({"ok": ok, "detail": f"{len(mapped)} records (ours {len(ours)}), differing: {bad or 'none'}"}))
"""


def llava_scienceqa_cell(scripts: Path, work: Path) -> tuple[bool, str]:
    """convert_sqa_to_llava.py on the ScienceQA fixture (image problems; ids and paths in DataOptim's layout)
    against our ingest of the same files."""
    files = write_scienceqa(work / "scienceqa")
    samples = ingest("scienceqa", files, write_images(work / "scienceqa_images"), split="trainval")
    ours = [llava.sample_to_record(s, [ref["path"] for ref in s["images"]]) for s in samples]
    return run_script(sys.executable, LLAVA_SQA, str(scripts), str(files[0].parent), json.dumps(ours))


def expected_renders(fixture: Path) -> dict[str, str]:
    return {s["id"]: "".join(f"{m['role']}: {m['content']}\n" for m in s["messages"])
            for s in registry.read("llava", fixture)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dj-python", help="python of a venv with py-data-juicer 1.6.1")
    parser.add_argument("--peer-python", help="python of a venv with trl 1.16.0, webdataset 1.0.2, peft 0.18.1")
    parser.add_argument("--data-juicer", type=Path, help="modelscope/data-juicer checkout (dj_to_llava.py)")
    parser.add_argument("--llama-factory", type=Path, help="hiyouga/LLaMA-Factory checkout")
    parser.add_argument("--dataoptim", type=Path, help="BAAI-DCAI/DataOptim checkout (tools/expand_to_square.py)")
    parser.add_argument("--llava", type=Path, help="haotian-liu/LLaVA checkout (scripts/convert_sqa_to_llava.py)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="peers_"))
    fixture = write_fixture(work / "src")
    samples = list(registry.read("llava", fixture))
    images = {s["id"]: len(s["images"]) for s in samples}
    out = work / "out"
    registry.write("dj", samples, out / "dj" / "train.jsonl", image_root=fixture.parent)
    llava_subset = [s for s in samples if s["id"] in DJ_TO_LLAVA_IDS]
    registry.write("dj", llava_subset, out / "djl" / "train.jsonl", image_root=fixture.parent, image_token="<image>")
    registry.write("messages", samples, out / "trl" / "train.jsonl", image_root=fixture.parent)
    registry.write("sharegpt", samples, out / "lf" / "train.json", image_root=fixture.parent)
    registry.write("webdataset", samples, out / "wds.tar", image_root=fixture.parent)
    registry.write("parquet", samples, out / "pq", image_root=fixture.parent)
    sizes = {s["id"]: [[200, 100] if ref["path"].endswith("wide.png") else [100, 200] for ref in s["images"]]
             for s in samples}
    written = {r["id"]: r["images"] for r in map(json.loads, (out / "djl" / "train.jsonl").read_text().splitlines())}
    stripped = {r["id"]: {"id": r["id"],
                          "conversations": [{**t, "value": t["value"].strip()} for t in r["conversations"]],
                          "image": written[r["id"]][0]}  # dj_to_llava.py strips every value
                for r in VARIED_RECORDS if r["id"] in DJ_TO_LLAVA_IDS}
    dj_tool = (args.data_juicer / "tools/fmt_conversion/multimodal/data_juicer_format_to_target_format/dj_to_llava.py"
               if args.data_juicer else None)
    cells = [
        ("Data-Juicer 1.6.1", "dj", "dj-process keeps every sample, finds every image",
         args.dj_python and (lambda: run_script(args.dj_python, DJ_PROCESS, str(work), str(out / "dj" / "train.jsonl"),
                                                json.dumps(images)))),
        ("Data-Juicer 1.6.1", "dj --image-token <image>", "dj_to_llava.py gives our LLaVA records",
         args.dj_python and dj_tool and (lambda: run_script(
             args.dj_python, DJ_TO_LLAVA, str(dj_tool), str(out / "djl" / "train.jsonl"), str(work / "djl.json"),
             json.dumps(stripped)))),
        ("TRL 1.16.0", "messages", "prepare_multimodal_messages + chat template",
         args.peer_python and (lambda: run_script(args.peer_python, TRL, str(out / "trl" / "train.jsonl"),
                                                  LLAVA_TEMPLATE, json.dumps(expected_renders(fixture))))),
        ("webdataset 1.0.2", "webdataset", "WebDataset.decode, to_tuple",
         args.peer_python and (lambda: run_script(args.peer_python, WEBDATASET, str(out / "wds.tar"),
                                                  json.dumps(images)))),
        ("HF datasets", "parquet", "load_dataset('parquet') decodes the images",
         args.peer_python and (lambda: run_script(args.peer_python, PARQUET, str(out / "pq"), json.dumps(sizes)))),
        ("LLaMA-Factory (source)", "sharegpt", "dataset_info.json + SharegptDatasetConverter",
         args.peer_python and args.llama_factory and (lambda: run_script(
             args.peer_python, LLAMA_FACTORY, str(args.llama_factory), str(out / "lf"), "train"))),
        ("DataOptim", "llava --pad-boxes", "tools/expand_to_square.py",
         args.dataoptim and (lambda: dataoptim_cell(args.dataoptim / "tools/expand_to_square.py", work, fixture,
                                                    args.dj_python or sys.executable))),
        ("LLaVA (source)", "ingest scienceqa", "scripts/convert_sqa_to_llava.py QCM-LEA",
         args.llava and (lambda: llava_scienceqa_cell(args.llava / "scripts", work))),
    ]
    print(f"{'tool':24} {'our format':26} {'check':48} result")
    for tool, fmt, check, cell in cells:
        ok, detail = cell() if cell else (None, "skipped: not given")
        result = "skipped" if ok is None else "PASS" if ok else "FAIL"
        print(f"{tool:24} {fmt:26} {check:48} {result}  {detail}")


if __name__ == "__main__":
    main()
