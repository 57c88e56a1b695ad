"""A single ``report.html``: headings, text, tables and PNG figures embedded inline, and
optionally an interactive part (the explorer, :mod:`shiftvae.explore.explorer`) whose
scripts are inline too.

The page has no external resources, so it opens offline, can be mailed as one file, and
renders the same in any browser.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #444;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.9em;color:#555;max-width:520px}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.meta{color:#666;font-size:.85em}
"""


@dataclass
class Section:
    """One part of the report."""

    title: str
    text: str = ""
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png path, caption)
    tables: list[tuple[list[str], list[list[object]]]] = field(default_factory=list)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(png: Path, caption: str) -> str:
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    alt = html.escape(caption or Path(png).stem)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def write_report(
    path: str | Path,
    title: str,
    sections: Sequence[Section],
    meta: str = "",
    interactive: tuple[str, str, str] | None = None,
) -> Path:
    """Write the report to ``path`` and return it.  ``interactive`` (head, title, body): HTML
    for the page's head (scripts) and a section with that title and body, after the first."""
    head = interactive[0] if interactive else ""
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>{head}</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if meta:
        parts.append(f"<p class='meta'>{html.escape(meta)}</p>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.text:
            parts.extend(f"<p>{html.escape(p)}</p>" for p in s.text.split("\n\n"))
        parts.extend(_table(h, r) for h, r in s.tables)
        parts.extend(_figure(p, c) for p, c in s.figures)
        if interactive and s is sections[0]:
            parts.append(f"<h2>{html.escape(interactive[1])}</h2>{interactive[2]}")
    parts.append("</body></html>")
    path = Path(path)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
