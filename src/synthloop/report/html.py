"""`report.html`: one self-contained page (inline CSS and SVG, images as base64; no network)."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from synthloop.images import ImageError, decode, encode_png
from synthloop.report import svg
from synthloop.report.collect import JUDGE_SCORE, Example, RunFiles, collect, thresholds_for
from synthloop.storage import Location

STYLE = """
body{font-family:sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.gallery{display:flex;flex-wrap:wrap;gap:10px}
.card{width:200px;border:1px solid #ddd;border-radius:4px;padding:6px;font-size:12px;overflow-wrap:anywhere}
.card img{width:128px;height:128px;image-rendering:pixelated;display:block;margin:0 auto 4px}
.kept{border-color:#59a14f}.dropped{border-color:#e15759}.quarantined{border-color:#edc948}
.reason{color:#b22;font-weight:bold}pre{background:#f6f6f6;padding:8px;font-size:12px;overflow-x:auto}
.charts{display:flex;flex-wrap:wrap;gap:12px}
"""


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _summary(run: RunFiles) -> str:
    parts = []
    if run.curation:
        rows = [[k, v] for k, v in run.curation.items() if isinstance(v, (int, float, str))]
        parts.append("<h3>Curation on the labelled noise</h3>" + _table(["measure", "value"], rows))
        kinds = run.curation.get("kinds") or {}
        if kinds:
            rows = [[kind, k.get("count", ""), k.get("removed", ""), k.get("recall", ""), k.get("precision", "")]
                    for kind, k in sorted(kinds.items())]
            parts.append(_table(["noise kind", "samples", "removed", "recall", "precision"], rows))
    if run.loop:
        final = {}
        for entry in run.loop.get("rounds", []):
            final[entry["arm"]] = entry
        rows = [[arm, e["round"], e["overall"]] for arm, e in sorted(final.items())]
        parts.append("<h3>Final round</h3>" + _table(["arm", "round", "overall accuracy"], rows))
    return "".join(parts) or "<p>No curation or loop results in this run directory.</p>"


def _funnels(run: RunFiles) -> str:
    if not run.ledgers:
        return "<p>No ledger.json found.</p>"
    parts = []
    for ledger in run.ledgers:
        data = ledger.data
        steps = [(op["op"], op["in"], op["kept"]) for op in data.get("ops", [])]
        if not steps or steps[0][0] != "input":
            steps.insert(0, ("input", data.get("input", 0), data.get("input", 0)))
        rows = [[op["op"], op["in"], op["kept"], op["dropped"], op["quarantined"]] for op in data.get("ops", [])]
        rows.append(["total", data.get("input", 0), data.get("output", 0), data.get("dropped", 0),
                     data.get("quarantined", 0)])
        parts.append(f"<h3>{escape(ledger.name)}</h3>" + svg.funnel(steps, f"ledger funnel {ledger.name}")
                     + _table(["op", "in", "kept", "dropped", "quarantined"], rows))
    return "".join(parts)


def _histograms(run: RunFiles) -> str:
    if not run.scores:
        return "<p>No scores recorded.</p>"
    charts = [svg.histogram(values, thresholds_for(key, run.thresholds), f"score {key}")
              + f"<div>{escape(key)}</div>" for key, values in sorted(run.scores.items())]
    return '<div class="charts">' + "".join(f"<div>{c}</div>" for c in charts) + "</div>"


def _series(run: RunFiles, field: str) -> tuple[list[str], dict[str, list[float]]]:
    entries = (run.loop or {}).get("rounds", [])
    if field == "added":
        entries = [e for e in entries if e["round"] > 0]
    groups = sorted({q for e in entries for q in e.get(field, {})})
    series = {f"{e['arm']} r{e['round']}": [float(e.get(field, {}).get(q, 0)) for q in groups] for e in entries}
    return groups, series


def _accuracy(run: RunFiles) -> str:
    if not run.loop:
        return "<p>No loop.json in this run directory.</p>"
    groups, series = _series(run, "per_qtype")
    rows = [[e["arm"], e["round"], e["overall"], *[e["per_qtype"].get(q, "") for q in groups]]
            for e in run.loop["rounds"]]
    return (svg.grouped_bars(groups, series, "per-qtype accuracy per round", y_max=1.0, percent=True)
            + _table(["arm", "round", "overall", *groups], rows))


def _added(run: RunFiles) -> str:
    if not run.loop:
        return "<p>No loop.json in this run directory.</p>"
    groups, series = _series(run, "added")
    rows = [[name, *map(int, values), int(sum(values))] for name, values in series.items()]
    return (svg.grouped_bars(groups, series, "samples added per qtype per round")
            + _table(["arm / round", *groups, "total"], rows))


# The funnel's stages in order (`synthloop.loop.funnel`, a layer above the report, writes them).
FUNNEL_FIELDS = ("asked", "generated", "quarantined", "judged_out", "filtered", "deduped", "capped", "decontaminated",
                 "added")


def _round_funnels(run: RunFiles) -> str:
    entries = [e for e in (run.loop or {}).get("rounds", []) if "funnel" in e]
    if not entries:
        return "<p>No synthesis rounds in this run directory.</p>"
    rows = [[e["arm"], e["round"], *[e["funnel"].get(field, "") for field in FUNNEL_FIELDS]] for e in entries]
    return _table(["arm", "round", *FUNNEL_FIELDS], rows)


def _thumbnail(data: bytes | None) -> str:
    if data is None:
        return "<div>(no image)</div>"
    try:
        image = decode(data)
    except ImageError:
        return "<div>(unreadable image)</div>"
    image.thumbnail((128, 128))
    encoded = base64.b64encode(encode_png(image)).decode()
    return f'<img alt="sample image" src="data:image/png;base64,{encoded}">'


def _card(example: Example) -> str:
    reason = f'<div class="reason">{escape(example.reason)}</div>' if example.reason else ""
    return (f'<div class="card {example.status}">{_thumbnail(example.image)}<b>{escape(example.status)}</b> '
            f"{escape(example.id)}<div>Q: {escape(example.question[:160])}</div>"
            f"<div>A: {escape(example.answer[:160])}</div>{reason}</div>")


def _gallery(run: RunFiles) -> str:
    parts = []
    for status in ("kept", "dropped", "quarantined"):
        cards = [_card(e) for e in run.examples if e.status == status]
        if cards:
            parts.append(f"<h3>{status}</h3><div class=\"gallery\">{''.join(cards)}</div>")
    return "".join(parts) or "<p>No samples found.</p>"


def _judge(run: RunFiles) -> str:
    """The judge's P(Yes) over every sample it scored, its keep band, and samples it kept and dropped."""
    if JUDGE_SCORE not in run.scores:
        return "<p>No sample was judged.</p>"
    bounds = thresholds_for(JUDGE_SCORE, run.thresholds)
    band = f"kept: {bounds.get('low', 0.0):.3f} <= P(Yes) <= {bounds.get('high', 1.0):.3f}" if bounds else ""
    parts = [svg.histogram(run.scores[JUDGE_SCORE], bounds, f"judge P(Yes), {band}"), f"<div>{escape(band)}</div>"]
    for status in ("kept", "dropped"):
        cards = [_card(e) for e in run.judged if e.status == status]
        parts.append(f"<h3>{status} by the judge</h3><div class=\"gallery\">{''.join(cards) or 'none'}</div>")
    return "".join(parts)


def _recipes(run: RunFiles) -> str:
    if not run.recipes:
        return "<p>No resolved recipe found.</p>"
    return "".join(f"<h3>{escape(name)}</h3><pre>{escape(text)}</pre>" for name, text in run.recipes.items())


SECTIONS = (("summary", "Summary", _summary), ("funnel", "Ledger funnel per op", _funnels),
            ("scores", "Score distributions and thresholds", _histograms),
            ("accuracy", "Per-qtype accuracy per round (loop and baseline)", _accuracy),
            ("added", "Data added per qtype per round", _added),
            ("rounds", "Synthesis funnel per round and arm (asked to added)", _round_funnels),
            ("judge", "Judge: P(Yes), its band, samples kept and dropped", _judge),
            ("gallery", "Kept and dropped samples", _gallery), ("recipe", "Resolved recipe", _recipes))


def render(run: RunFiles, title: str) -> str:
    body = "".join(f'<section id="{key}"><h2>{escape(heading)}</h2>{build(run)}</section>'
                   for key, heading, build in SECTIONS)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")


def write_report(run_dir: str | Path | Location, out: str | Path | Location | None = None) -> Location:
    """Write `report.html` for `run_dir` (default: inside it; either may be a URI) and return where."""
    root = Location.of(run_dir)
    target = Location.of(out) if out is not None else root / "report.html"
    name = Path(root.path).resolve().name if root.local else root.name
    target.write_bytes(render(collect(root), f"synthloop run report: {name}").encode())
    return target
