"""Small hand-built SVG charts: inline in the report, no network, no plotting dependency."""

from __future__ import annotations

from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11, extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-family="sans-serif"{extra}>{escape(text)}</text>')


def funnel(steps: list[tuple[str, int, int]], title: str) -> str:
    """Horizontal bars, one per op: `(label, in, kept)`; the removed part is drawn lighter."""
    width, label_w, row_h = 640, 190, 22
    height = row_h * len(steps) + 10
    most = max([n for _, n, _ in steps] + [1])
    body = []
    for i, (label, n_in, kept) in enumerate(steps):
        y = 5 + i * row_h
        w_in = (width - label_w - 90) * n_in / most
        w_kept = (width - label_w - 90) * kept / most
        body.append(_text(label_w - 6, y + 14, label, "end"))
        body.append(f'<rect x="{label_w}" y="{y + 2}" width="{w_in:.1f}" height="{row_h - 6}" fill="#e15759" opacity="0.35"/>')
        body.append(f'<rect x="{label_w}" y="{y + 2}" width="{w_kept:.1f}" height="{row_h - 6}" fill="#4e79a7"/>')
        body.append(_text(label_w + w_in + 6, y + 14, f"{kept} / {n_in}"))
    return _svg(width, height, body, title)


def histogram(values: list[float], thresholds: dict[str, float], title: str, bins: int = 30) -> str:
    """A histogram of `values` with a dashed vertical line per named threshold."""
    width, height, pad = 420, 170, 28
    lo = min(values + list(thresholds.values()))
    hi = max(values + list(thresholds.values()))
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    top = max(counts + [1])
    plot_w, plot_h = width - 2 * pad, height - 2 * pad
    body = [f'<line x1="{pad}" y1="{pad + plot_h}" x2="{pad + plot_w}" y2="{pad + plot_h}" stroke="#333"/>']
    for i, c in enumerate(counts):
        h = plot_h * c / top
        body.append(f'<rect x="{pad + i * plot_w / bins:.1f}" y="{pad + plot_h - h:.1f}" '
                    f'width="{plot_w / bins - 1:.1f}" height="{h:.1f}" fill="#4e79a7"/>')
    for name, t in sorted(thresholds.items()):
        x = pad + (t - lo) / span * plot_w
        body.append(f'<line x1="{x:.1f}" y1="{pad - 4}" x2="{x:.1f}" y2="{pad + plot_h}" stroke="#e15759" '
                    f'stroke-dasharray="4 3"/>')
        body.append(_text(x + 3, pad - 8, f"{name}={t:g}", size=10, extra=' fill="#e15759"'))
    body.append(_text(pad, height - 6, f"{lo:g}", size=10))
    body.append(_text(pad + plot_w, height - 6, f"{hi:g}", "end", 10))
    body.append(_text(width / 2, height - 6, f"n={len(values)}, max bin {top}", "middle", 10))
    return _svg(width, height, body, title)


def grouped_bars(groups: list[str], series: dict[str, list[float]], title: str, y_max: float | None = None,
                 percent: bool = False) -> str:
    """Vertical bars: one cluster per group, one coloured bar per series, with a legend."""
    width = max(420, 70 + 130 * len(series), 40 + len(groups) * (14 * len(series) + 16))
    height, pad, legend_h = 230, 34, 18
    top = y_max if y_max is not None else max([v for vals in series.values() for v in vals] + [1e-9])
    plot_w, plot_h = width - 2 * pad, height - 2 * pad - legend_h
    slot = plot_w / max(len(groups), 1)
    bar_w = max(2.0, (slot - 8) / max(len(series), 1))
    body = [f'<line x1="{pad}" y1="{pad + plot_h}" x2="{pad + plot_w}" y2="{pad + plot_h}" stroke="#333"/>',
            _text(pad - 4, pad + 4, f"{top:.0%}" if percent else f"{top:g}", "end", 10)]
    for s, (name, values) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        body.append(f'<rect x="{pad + s * 130}" y="4" width="10" height="10" fill="{color}"/>')
        body.append(_text(pad + s * 130 + 14, 13, name, size=10))
        for g, value in enumerate(values):
            h = plot_h * min(value, top) / top
            x = pad + g * slot + 4 + s * bar_w
            label = f"{name} {groups[g]}: {value:.1%}" if percent else f"{name} {groups[g]}: {value:g}"
            body.append(f'<rect x="{x:.1f}" y="{pad + plot_h - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                        f'fill="{color}"><title>{escape(label)}</title></rect>')
    for g, group in enumerate(groups):
        body.append(_text(pad + g * slot + slot / 2, pad + plot_h + 14, group, "middle", 10))
    return _svg(width, height, body, title)
