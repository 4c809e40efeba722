"""Small inline SVG charts: no JavaScript, no plotting library, readable in any browser and in an e-mail.

Both charts draw shares (0–100 %) with the pass mark as a dashed line, so a reader sees at a glance who is
below it. Labels are escaped; the charts carry only aggregate numbers, never record values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

#: One colour per indicator, the same in every chart and table legend.
COLOURS = {"timeliness": "#2f6fdf", "completeness": "#2a9d5c", "accuracy": "#e08a1e"}
_FONT = 'font-family="Noto Sans CJK SC, Microsoft YaHei, PingFang SC, WenQuanYi Micro Hei, sans-serif"'


def _text_width(text: str) -> int:
    """Rough width in pixels at 12 px: 汉字 are square, Latin characters about half as wide."""
    return sum(12 if ord(c) > 0x2E80 else 7 for c in text)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def grouped_bars(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    names: Mapping[str, str],
    thresholds: Mapping[str, float],
    *,
    title: str,
) -> str:
    """Horizontal grouped bars: one group per category (department), one bar per series (indicator)."""
    bar_h, gap, label_w, plot_w = 14, 12, 190, 460
    group_h = bar_h * len(series) + gap
    legend_h = 28
    height = legend_h + 24 + group_h * max(len(categories), 1) + 24
    legend_w = 10 + sum(
        16 + _text_width(f"{names.get(k, k)}（合格线 {_pct(thresholds.get(k))}）" if k in thresholds else names.get(k, k)) + 14
        for k in series
    )
    width = max(label_w + plot_w + 70, legend_w)
    x0, y0 = label_w, legend_h + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {_FONT} font-size="12"><title>{escape(title)}</title>'
    ]
    lx = 10
    for key in series:
        out.append(f'<rect x="{lx}" y="6" width="12" height="12" fill="{COLOURS.get(key, "#888")}"/>')
        label = f"{names.get(key, key)}（合格线 {_pct(thresholds.get(key))}）" if key in thresholds else names.get(key, key)
        out.append(f'<text x="{lx + 16}" y="16">{escape(label)}</text>')
        lx += 16 + _text_width(label) + 14
    for pct in (0, 25, 50, 75, 100):
        x = x0 + plot_w * pct / 100
        out.append(f'<line x1="{x}" y1="{y0 - 6}" x2="{x}" y2="{height - 20}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{x}" y="{height - 6}" text-anchor="middle" fill="#666">{pct}%</text>')
    for i, cat in enumerate(categories):
        gy = y0 + i * group_h
        out.append(
            f'<text x="{x0 - 8}" y="{gy + group_h / 2 - 2}" text-anchor="end" dominant-baseline="middle">{escape(cat)}</text>'
        )
        for j, (key, values) in enumerate(series.items()):
            v = values[i] if i < len(values) else None
            y = gy + j * bar_h
            colour = COLOURS.get(key, "#888")
            if v is None:
                out.append(f'<text x="{x0 + 4}" y="{y + bar_h - 3}" fill="#999">无数据</text>')
                continue
            w = max(plot_w * max(0.0, min(1.0, v)), 1)
            below = key in thresholds and v < thresholds[key]
            outline = ' stroke="#c0392b" stroke-width="1.5"' if below else ""
            out.append(
                f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{colour}"'
                f'{outline}><title>{escape(cat)} '
                f"{escape(names.get(key, key))} {_pct(v)}</title></rect>"
            )
            out.append(
                f'<text x="{x0 + w + 4:.1f}" y="{y + bar_h - 3}" fill="{"#c0392b" if below else "#333"}">{_pct(v)}</text>'
            )
    for key, t in thresholds.items():
        if key in series:
            x = x0 + plot_w * t
            out.append(
                f'<line x1="{x:.1f}" y1="{y0 - 6}" x2="{x:.1f}" y2="{height - 20}" stroke="{COLOURS.get(key, "#888")}" '
                'stroke-dasharray="4 3" stroke-width="1"/>'
            )
    out.append("</svg>")
    return "".join(out)


def trend_lines(
    months: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    names: Mapping[str, str],
    thresholds: Mapping[str, float],
    *,
    title: str,
) -> str:
    """Monthly trend: one line per indicator; a month without data leaves a gap instead of a fake zero."""
    width, height = 720, 280
    left, right, top, bottom = 48, 20, 36, 40
    pw, ph = width - left - right, height - top - bottom
    n = max(len(months), 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (pw * i / (n - 1) if n > 1 else pw / 2)
        return x, top + ph * (1 - max(0.0, min(1.0, v)))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {_FONT} font-size="12"><title>{escape(title)}</title>'
    ]
    for pct in (0, 25, 50, 75, 100):
        y = top + ph * (1 - pct / 100)
        out.append(f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" fill="#666">{pct}%</text>')
    for i, m in enumerate(months):
        x, _ = xy(i, 0)
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle" fill="#666">{escape(m[2:])}</text>')
    lx = left
    for key, values in series.items():
        colour = COLOURS.get(key, "#888")
        out.append(f'<rect x="{lx}" y="8" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="18">{escape(names.get(key, key))}</text>')
        lx += 16 + _text_width(names.get(key, key)) + 16
        if key in thresholds:
            _, ty = xy(0, thresholds[key])
            out.append(
                f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" stroke="{colour}" '
                'stroke-dasharray="4 3" stroke-width="1" opacity="0.7"/>'
            )
        segment: list[str] = []
        for i, v in enumerate(values):
            if v is None:
                if len(segment) > 1:
                    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(segment)}"/>')
                segment = []
                continue
            x, y = xy(i, v)
            segment.append(f"{x:.1f},{y:.1f}")
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(months[i])} '
                f"{escape(names.get(key, key))} {_pct(v)}</title></circle>"
            )
        if len(segment) > 1:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(segment)}"/>')
    out.append("</svg>")
    return "".join(out)
