"""The gallery page: one static HTML file, no server and nothing fetched from the internet when it is viewed.

Every one-value-per-row column of the catalog is a table column; clicking its header sorts
the rows by it (numbers as numbers, ascending then descending), with the
inline script below.  Score, decision and truth columns come first and are
marked; a row a decision keeps is tinted.
"""

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PageColumns", "render_page"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1em;color:#222}
h1{font-size:1.3em;margin:.2em 0}
.meta{margin:.3em 0 .8em 0;line-height:1.5}
.meta code{background:#f3f3f3;padding:0 .3em}
table{border-collapse:collapse;font-size:.85em}
th{position:sticky;top:0;background:#eee;cursor:pointer;user-select:none;white-space:nowrap;padding:.3em .5em;
   border-bottom:2px solid #999}
th.score{background:#dde8ff}th.decision{background:#ffe6c8}th.truth{background:#d8f3d8}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td{padding:.2em .5em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
td.thumb{text-align:center}td.str{text-align:left}
tr.kept{background:#fff6e8}
img{image-rendering:pixelated;display:block}
"""

_SCRIPT = """
(function(){
  var table=document.getElementById('candidates');
  var heads=table.tHead.rows[0].cells;
  function key(td){var v=td.getAttribute('data-v');var n=parseFloat(v);
    return (v!==null&&v!==''&&!isNaN(n)&&isFinite(v))?[0,n]:(v==='nan'||v===''?[2,0]:[1,v]);}
  function cmp(a,b){if(a[0]!==b[0])return a[0]-b[0];return a[1]<b[1]?-1:(a[1]>b[1]?1:0);}
  for(var c=0;c<heads.length;c++){(function(col,th){
    if(th.classList.contains('nosort'))return;
    th.addEventListener('click',function(){
      var dir=th.getAttribute('aria-sort')==='ascending'?-1:1;
      for(var k=0;k<heads.length;k++)heads[k].removeAttribute('aria-sort');
      th.setAttribute('aria-sort',dir===1?'ascending':'descending');
      var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
      rows.forEach(function(r,i){r._i=i;});
      rows.sort(function(a,b){var ka=key(a.cells[col]),kb=key(b.cells[col]);
        if(ka[0]===2||kb[0]===2)return cmp(ka,kb)||a._i-b._i;
        return dir*cmp(ka,kb)||a._i-b._i;});
      rows.forEach(function(r){body.appendChild(r);});
    });})(c,heads[c]);}
})();
"""


@dataclass(frozen=True)
class PageColumns:
    """Which catalog columns are the score, the decisions and the truth (shown first and marked)."""

    score: str | None
    decisions: tuple[str, ...]
    truth: tuple[str, ...]


def _cell(value, *, digits: str = ".4g") -> tuple[str, str, str]:
    """(sort value, shown text, CSS class) of one table cell; masked and NaN cells sort last and show a dash."""
    if value is np.ma.masked or np.ma.is_masked(value):
        return "nan", "\u2013", ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return ("1" if value else "0"), ("\u2714" if value else "\u2013"), ""
    if isinstance(value, int):
        return str(value), str(value), ""
    if isinstance(value, float):
        if not np.isfinite(value):
            return "nan", "\u2013", ""
        return repr(value), format(value, digits), ""
    text = str(value).strip()
    return text, text, "str"


def render_page(*, title: str, columns: Sequence[str], rows: Sequence[Mapping[str, object]],
                thumbs: Sequence[str], marks: PageColumns, info: Sequence[tuple[str, str]]) -> str:
    """The HTML of a gallery page.

    Parameters
    ----------
    title : str
    columns : sequence of str
        Table columns, in order (after the thumbnail).
    rows : sequence of mapping
        One per candidate: column → value (Python or NumPy scalars).
    thumbs : sequence of str
        Each row's thumbnail, a path relative to the page.
    marks : PageColumns
    info : sequence of (str, str)
        Lines above the table: (label, HTML), the HTML already escaped.
    """
    kind = {c: "score" for c in [marks.score] if c} | {c: "decision" for c in marks.decisions} | \
        {c: "truth" for c in marks.truth}
    heads = ['<th class="nosort">thumbnail</th>'] + [
        f'<th class="{kind.get(c, "")}" title="sort by {html.escape(c)}">{html.escape(c)}</th>' for c in columns]
    body = []
    for i, (row, thumb) in enumerate(zip(rows, thumbs, strict=True)):
        kept = any(bool(row.get(d)) for d in marks.decisions)
        cells = [f'<td class="thumb"><img src="{html.escape(thumb)}" alt="row {i}" loading="lazy"></td>']
        for c in columns:
            sort, shown, cls = _cell(row[c], digits=".5f" if c in ("ra", "dec") else ".4g")
            cells.append(f'<td class="{cls}" data-v="{html.escape(sort)}">{html.escape(shown)}</td>')
        body.append(f'<tr{" class=kept" if kept else ""}>{"".join(cells)}</tr>')
    lines = "".join(f"<div><b>{html.escape(k)}:</b> {v}</div>" for k, v in info)
    data = json.dumps({"columns": list(columns), "score": marks.score, "decisions": list(marks.decisions),
                       "truth": list(marks.truth)})
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><div class=meta>{lines}"
            f"<div>Click a column header to sort by it (again to reverse).</div></div>"
            f'<table id="candidates"><thead><tr>{"".join(heads)}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            f'<script type="application/json" id="gallery-columns">{data}</script>'
            f"<script>{_SCRIPT}</script></body></html>\n")
