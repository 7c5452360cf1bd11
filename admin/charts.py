"""Charts as inline SVG, drawn on the server from plain numbers (no script, no library)."""

from __future__ import annotations

from markupsafe import Markup, escape

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
ACTION_COLOURS = {
    "accept_all": "#0072B2",
    "reject_all": "#D55E00",
    "custom": "#009E73",
    "withdraw": "#6B6B6B",
    "dismiss": "#CC79A7",
}
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 720, 220, 44, 28, 10, 24


def _svg(title: str, body: list[str], height=HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


def _axis_labels(days: list[str], x_of, y) -> list[str]:
    out = []
    step = max(1, len(days) // 8)
    for i, day in enumerate(days):
        if i % step == 0 or i == len(days) - 1:
            out.append(
                f'<text x="{x_of(i):.1f}" y="{y}" class="tick" text-anchor="middle">'
                f"{escape(day[5:])}</text>"
            )
    return out


def counts(title: str, days: list[str], values: list[int]) -> Markup:
    """Bars: one number per day."""
    plot_h = HEIGHT - BOTTOM - TOP
    top = max(values or [0]) or 1
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    body = [
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 8}" class="tick" text-anchor="end">{top}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" class="tick" text-anchor="end">0</text>',
    ]
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = plot_h * value / top
        body.append(
            f'<rect x="{LEFT + i * slot + slot * 0.15:.1f}" y="{TOP + plot_h - h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="#0072B2">'
            f"<title>{escape(day)}: {value}</title></rect>"
        )
    body += _axis_labels(days, lambda i: LEFT + (i + 0.5) * slot, HEIGHT - 8)
    return _svg(title, body)


def shares(title: str, days: list[str], series: dict[str, list[int]], labels: dict) -> Markup:
    """Stacked bars of 100 %: each day's decisions split by action."""
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    body = [
        f'<text x="{LEFT - 6}" y="{TOP + 8}" class="tick" text-anchor="end">100%</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" class="tick" text-anchor="end">0%</text>',
    ]
    for i, day in enumerate(days):
        total = sum(values[i] for values in series.values())
        y = TOP + plot_h
        for action, values in series.items():
            if not total or not values[i]:
                continue
            h = plot_h * values[i] / total
            y -= h
            body.append(
                f'<rect x="{LEFT + i * slot + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{h:.1f}" fill="{ACTION_COLOURS[action]}"><title>{escape(day)} '
                f"{escape(labels[action])}: {100 * values[i] / total:.1f}%</title></rect>"
            )
    body += _axis_labels(days, lambda i: LEFT + (i + 0.5) * slot, HEIGHT - 8)
    return _svg(title, body)


def rates(title: str, items: list[tuple[str, float]]) -> Markup:
    """Horizontal bars: a rate from 0 to 1 per labelled item."""
    row, label_w = 26, 230
    height = TOP * 2 + row * max(len(items), 1)
    width = WIDTH - label_w - 60
    body = []
    for i, (label, rate) in enumerate(items):
        y = TOP + i * row
        short = label if len(label) <= 32 else label[:31] + "…"
        body.append(
            f'<text x="{label_w - 8}" y="{y + 17}" class="label" text-anchor="end">'
            f"{escape(short)}</text>"
        )
        body.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{width}" height="{row - 8}" class="track"/>'
        )
        body.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{width * rate:.1f}" '
            f'height="{row - 8}" fill="#009E73"><title>{escape(label)}: '
            f"{100 * rate:.1f}%</title></rect>"
        )
        body.append(
            f'<text x="{label_w + width + 6}" y="{y + 17}" class="label">{100 * rate:.0f}%</text>'
        )
    return _svg(title, body, height)
