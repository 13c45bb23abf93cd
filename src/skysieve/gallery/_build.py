"""Building a gallery: read the catalog, pick its search, render the thumbnails, write the page atomically.

The catalog's search is its header's ``TASK`` (or ``--task``); that search's
:meth:`~skysieve.tasks.Search.gallery_thumbnails` draws the thumbnails (the
engine's :func:`~skysieve.gallery.catalog_thumbnails` for a catalog of no
known search).  The page and its ``thumbs/`` are written in a temporary
sibling of the output directory and renamed onto it at the end, so a failed
run leaves no page.
"""

import html
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning

from skysieve._io import atomic_path
from skysieve._urls import safe_url
from skysieve.errors import ConfigError, DataError
from skysieve.gallery._page import PageColumns, render_page
from skysieve.gallery._cutouts import catalog_thumbnails
from skysieve.gallery._render import placeholder, png_bytes

__all__ = ["GalleryReport", "model_link", "page_columns", "read_catalog", "write_gallery"]

#: Truth columns are named so (one-to-one matches, labels): shown first and marked.
_TRUTH_PREFIXES = ("truth", "label", "matched", "true_", "is_true")


@dataclass(frozen=True)
class GalleryReport:
    """What :func:`write_gallery` wrote: the page, the rows shown of the catalog's, the placeholders."""

    page: Path
    search: str | None
    n_shown: int
    n_rows: int
    n_placeholders: int


def read_catalog(path: str | Path) -> Table:
    """A candidate catalog (FITS table with ``ra``, ``dec`` in degrees), its header in ``meta``.

    Raises
    ------
    DataError
        Missing or unreadable file, or no ``ra``/``dec`` column, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: catalog not found; give a FITS catalog written by skysieve catalog")
    try:
        with warnings.catch_warnings():  # a survey catalog's second table (FIELDS) is not the candidates
            warnings.simplefilter("ignore", AstropyUserWarning)
            table = Table.read(path, format="fits", hdu=1, mask_invalid=False)
    except Exception as exc:  # noqa: BLE001 - astropy raises many kinds on a bad file
        raise DataError(f"{path}: not a readable FITS table ({exc}); give a catalog written by skysieve catalog") \
            from None
    missing = [c for c in ("ra", "dec") if c not in table.colnames]
    if missing:
        raise DataError(f"{path}: no {' and '.join(missing)} column (has {table.colnames}); a gallery cuts each "
                        "candidate at its ra, dec (deg)")
    return table


def page_columns(table: Table, score: str | None) -> PageColumns:
    """Score (the search's), decisions (boolean ``decision*``/``is_*`` columns) and truth columns of a catalog."""
    decisions = tuple(c for c in table.colnames if c.startswith(("decision", "is_"))
                      and table[c].dtype == bool and not c.startswith("is_true"))
    truth = tuple(c for c in table.colnames if c.lower().startswith(_TRUTH_PREFIXES))
    return PageColumns(score=score if score in table.colnames else None, decisions=decisions, truth=truth)


def model_link(meta: dict[str, Any], mlflow_url: str | None) -> tuple[str, str]:
    """(text, HTML) of the model version a catalog header names: a link to the MLflow UI's version page, or its URI."""
    name, version = meta.get("MODEL"), meta.get("MODELVER")
    if not name or version in (None, ""):
        uri = meta.get("MODELURI")
        return (str(uri), f"<code>{html.escape(str(uri))}</code>") if uri else ("unknown", "not in the header")
    uri = f"models:/{name}/{version}"
    alias = f" (given as <code>{html.escape(str(meta['MODELURI']))}</code>)" if meta.get("MODELURI") else ""
    if mlflow_url:
        href = f"{safe_url(mlflow_url).rstrip('/')}/#/models/{name}/versions/{version}"
        return href, (f'<a id="model-link" href="{html.escape(href)}">{html.escape(uri)}</a>{alias}')
    return uri, f'<code id="model-link">{html.escape(uri)}</code>{alias}'


def _search(meta: dict[str, Any], task: str | None, echo: Callable[[str], None]):
    """The search of ``--task``, else of the header's ``TASK``; ``None`` (the engine's thumbnails) if none is known."""
    from skysieve.tasks import get_search, searches

    if task:
        return get_search(task)
    name = str(meta.get("TASK", "")).strip()
    if name and name not in searches():
        echo(f"note: the catalog's search '{name}' is not installed here; drawing the engine's default thumbnails")
        return None
    return get_search(name) if name else None


def _order(table: Table, score: str | None) -> np.ndarray:
    """Row order: the score descending (NaN last), stable; catalog order without a score."""
    if score is None:
        return np.arange(len(table))
    values = np.asarray(table[score], float)
    return np.argsort(np.where(np.isfinite(values), -values, np.inf), kind="stable")


def _scalar_columns(table: Table, marks: PageColumns) -> list[str]:
    """The one-value-per-row columns: ``id``, the score, decisions and truth first, then the catalog's order."""
    first = [c for c in ("id", marks.score, *marks.decisions, *marks.truth) if c]
    order = list(dict.fromkeys([c for c in first if c in table.colnames] + table.colnames))
    return [c for c in order if table[c].ndim == 1]


def write_gallery(catalog: str | Path, *, images: Sequence[str | Path], out: str | Path, max_rows: int | None = None,
                  mlflow_url: str | None = None, task: str | None = None, size_px: int | None = None,
                  progress: bool = False, echo: Callable[[str], None] = print) -> GalleryReport:
    """Write the gallery of ``catalog`` to ``out/index.html`` with its thumbnails in ``out/thumbs/``.

    Parameters
    ----------
    catalog : path
        A candidate catalog (``skysieve catalog``): ``ra``, ``dec`` (deg).
    images : sequence of path, keyword-only
        What the thumbnails are cut from (FITS images with a celestial WCS, or
        the directory of cutout files a catalog with ``INPUT = 'cutouts'`` was made from).
    out : path, keyword-only
        The output directory (replaced atomically).
    max_rows : int, keyword-only, optional
        Show only the best ``max_rows`` rows by score.
    mlflow_url : str, keyword-only, optional
        The MLflow UI; the model version becomes a link to its page.
    task : str, keyword-only, optional
        The catalog's search, when its header has no ``TASK``.
    size_px : int, keyword-only, optional
        Cutout side in image pixels (default: the search's).
    progress : bool, keyword-only
    echo : callable, keyword-only

    Raises
    ------
    DataError
        A bad catalog or image (named), or every row off every image.
    ConfigError
        An unknown ``task``, or ``max_rows`` < 1.
    """
    from skysieve.catalog import progress_bars

    catalog, out = Path(catalog), Path(out)
    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"--max {max_rows}: give a positive number of rows (or leave it out for all)")
    if size_px is not None and size_px < 2:
        raise ConfigError(f"--size {size_px}: give the cutout side in image pixels, at least 2 (or leave it out for "
                          "the search's)")
    table = read_catalog(catalog)
    meta = dict(table.meta)
    search = _search(meta, task, echo)
    score = search.gallery_score(table) if search is not None else ("score" if "score" in table.colnames else None)
    marks = page_columns(table, score)
    order = _order(table, marks.score)[: max_rows or None]
    rows = table[order]
    columns = _scalar_columns(table, marks)
    if search is not None:
        thumbs = search.gallery_thumbnails(rows, tuple(Path(p) for p in images), size_px=size_px)
    elif images or meta.get("INPUT") == "cutouts":  # no search known: drawn from the catalog's inputs all the same
        thumbs = catalog_thumbnails(rows, tuple(Path(p) for p in images), size_px=size_px, who=str(catalog))
    else:
        raise ConfigError(f"{catalog}: no --images given; the thumbnails are cut from FITS images with a WCS")
    n_missing = 0
    names = []
    with atomic_path(out) as tmp, progress_bars(progress) as add:
        (tmp / "thumbs").mkdir(parents=True)
        advance = add("thumbnails", len(rows))
        width = max(5, int(math.log10(max(len(rows), 1))) + 1)
        for i, rgb in enumerate(thumbs):
            if i >= len(rows):
                raise ConfigError(f"search '{search.name if search else 'engine'}': gallery_thumbnails gave more "
                                  f"thumbnails than the {len(rows)} rows")
            if rgb is None:
                n_missing += 1
                rgb = placeholder()
            name = f"thumbs/{i:0{width}d}.png"
            (tmp / name).write_bytes(png_bytes(rgb))
            names.append(name)
            advance(1)
        if len(names) != len(rows):
            raise ConfigError(f"search '{search.name if search else 'engine'}': gallery_thumbnails gave "
                              f"{len(names)} thumbnails for {len(rows)} rows")
        if len(rows) and n_missing == len(rows):
            if meta.get("INPUT") == "cutouts":
                raise DataError(f"{catalog}: none of its {len(rows)} rows' cutout files holds one of the catalog's "
                                "bands (FILTER); give --images the directory of cutouts the catalog was made from")
            raise DataError(f"{catalog}: every one of the {len(rows)} rows lies outside every image "
                            f"({', '.join(str(p) for p in images) or 'none given'}); give the images the catalog "
                            "was made from")
        text, link = model_link(meta, mlflow_url)
        info = [("catalog", f"<code>{html.escape(str(catalog))}</code>, {len(table)} rows"),
                ("search", html.escape(search.name if search else f"{meta['TASK']} (not installed here: the engine's "
                                       "thumbnails)" if meta.get("TASK") else "unknown (no TASK in the header)")),
                ("model version", link),
                ("shown", f"{len(rows)} rows" + (f", the best {len(rows)} by {html.escape(marks.score)}"
                                                 if marks.score and len(rows) < len(table) else "")
                 + (f"; sorted by {html.escape(marks.score)}, highest first" if marks.score else "")),
                ("placeholders", (f'<span id="n-placeholders">{n_missing}</span> of {len(rows)} rows outside every '
                                  "image (grey thumbnails)"))]
        if meta.get("DATE"):
            info.append(("made", html.escape(str(meta["DATE"]))))
        page = render_page(title=f"Candidates of {catalog.name}", columns=columns,
                           rows=[{c: row[c] for c in columns} for row in rows], thumbs=names, marks=marks,
                           info=info)
        (tmp / "index.html").write_text(page, encoding="utf-8")
    echo(f"wrote {out / 'index.html'}: {len(rows)} of {len(table)} candidates, model {text}"
         + (f"; {n_missing} outside every image (placeholder thumbnails)" if n_missing else ""))
    return GalleryReport(page=out / "index.html", search=search.name if search else None, n_shown=len(rows),
                         n_rows=len(table), n_placeholders=n_missing)
