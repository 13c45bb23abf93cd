"""Candidate galleries: one static HTML page per catalog, a thumbnail per candidate, sortable by any column.

``skysieve gallery CATALOG.fits --images … --out DIR`` writes ``DIR/index.html``
and ``DIR/thumbs/*.png``: the catalog's rows (the best ``--max`` by score),
each with a thumbnail cut from the images at its ``ra``, ``dec``, its score,
decisions and truth match, and the model version that made the catalog.
The page needs no server and fetches nothing (inline CSS and script).
Thumbnails are search-specific (:meth:`skysieve.tasks.Search.gallery_thumbnails`);
the engine's default (:func:`catalog_thumbnails`) draws a catalog made from
cutout files from those files, and otherwise cuts FITS images through their
WCS (:func:`default_thumbnails`): a Lupton colour composite for three optical
bands, labelled per-band panels otherwise.  See ``docs/catalog.md``.
"""

from skysieve.gallery._build import GalleryReport, model_link, page_columns, read_catalog, write_gallery
from skysieve.gallery._cutouts import catalog_thumbnails, read_cutout_bands
from skysieve.gallery._images import GalleryImage, cut, open_images, wavelength_nm
from skysieve.gallery._page import PageColumns, render_page
from skysieve.gallery._render import (
    DEFAULT_SIZE_PX,
    band_panels,
    cut_rows,
    default_thumbnails,
    lupton_rgb,
    placeholder,
    png_bytes,
    render_bands,
    thumbnails_from_images,
)

__all__ = [
    "DEFAULT_SIZE_PX",
    "GalleryImage",
    "GalleryReport",
    "PageColumns",
    "band_panels",
    "catalog_thumbnails",
    "cut",
    "cut_rows",
    "default_thumbnails",
    "lupton_rgb",
    "model_link",
    "open_images",
    "page_columns",
    "placeholder",
    "png_bytes",
    "read_catalog",
    "read_cutout_bands",
    "render_bands",
    "render_page",
    "thumbnails_from_images",
    "wavelength_nm",
    "write_gallery",
]
