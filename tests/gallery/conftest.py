"""Tiny catalogs and images for the gallery tests: three optical bands, three mm maps, a lens cutout directory.

The catalogs carry the header a search's ``skysieve catalog`` writes (``TASK``,
``MODEL``, ``MODELVER``, ``MODELURI``, the cutout side) and the columns the
page marks (score, decisions, truth); each images holds Gaussian sources at
the catalog's positions, so a thumbnail's centre is known.
"""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from skysieve.data.maps import write_map

#: Field centre, deg.
RA0, DEC0 = 150.0, 2.0
#: Optical pixel (0.396″, SDSS) and image side.
OPT_PIX_DEG, OPT_N = 0.396 / 3600, 200
#: mm-map pixel (0.5′) and side.
MM_PIX_DEG, MM_N = 0.5 / 60, 120


def tan_wcs(n: int, pix_deg: float) -> WCS:
    """A TAN WCS of an ``n`` × ``n`` image centred on (RA0, DEC0)."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [RA0, DEC0]
    w.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
    w.wcs.cdelt = [-pix_deg, pix_deg]
    return w


def gaussians(wcs: WCS, n: int, ra, dec, amp, sigma_px: float, *, noise: float, seed: int) -> np.ndarray:
    """Sky noise plus Gaussian sources of amplitude ``amp`` at (ra, dec)."""
    rng = np.random.default_rng(seed)
    img = rng.normal(0.0, noise, (n, n))
    yy, xx = np.mgrid[:n, :n]
    x, y = wcs.world_to_pixel_values(np.asarray(ra), np.asarray(dec))
    for xi, yi, a in zip(np.atleast_1d(x), np.atleast_1d(y), np.atleast_1d(amp), strict=True):
        img += a * np.exp(-((xx - xi) ** 2 + (yy - yi) ** 2) / (2 * sigma_px**2))
    return img.astype(np.float32)


def positions(n: int, pix_deg: float, fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Four positions inside the image, a fifth outside every image."""
    off = np.array([-1.0, -0.3, 0.4, 1.0]) * fraction * n * pix_deg
    ra = np.append(RA0 + off / np.cos(np.radians(DEC0)), RA0 + 5.0)
    dec = np.append(DEC0 + off[::-1] * 0.7, DEC0)
    return ra, dec


def catalog(path: Path, ra, dec, *, task: str, score: str, extra: dict | None = None, meta: dict | None = None
            ) -> Path:
    """A candidate catalog as ``skysieve catalog`` writes it (header naming the model)."""
    n = len(ra)
    table = Table()
    table["id"] = np.arange(n)
    table["ra"], table["dec"] = ra, dec
    table[score] = np.array([0.2, 0.9, 0.5, 0.7, 0.1])[:n]
    for key, value in (extra or {}).items():
        table[key] = value
    table.meta.update({"ORIGIN": "skysieve catalog", "TASK": task, "MODEL": f"{task}-model", "MODELVER": "3",
                       "MODALIAS": "champion", "MODELURI": f"models:/{task}-model@champion", **(meta or {})})
    table.write(path, format="fits")
    return path


@pytest.fixture
def optical(tmp_path) -> tuple[Path, list[Path]]:
    """A lens catalog of five rows (one off the images) and g, r, i images (0.396″ pixels) with red sources."""
    wcs = tan_wcs(OPT_N, OPT_PIX_DEG)
    ra, dec = positions(OPT_N, OPT_PIX_DEG)
    paths = []
    for k, band in enumerate(("g", "r", "i")):  # the sources are redder than the sky: brighter in i
        data = gaussians(wcs, OPT_N, ra[:4], dec[:4], [20.0 * (k + 1)] * 4, 2.0, noise=1.0, seed=k)
        header = wcs.to_header()
        header["FILTER"] = band
        header["BUNIT"] = "nanomaggy"
        paths.append(tmp_path / f"field_{band}.fits")
        fits.PrimaryHDU(data, header).writeto(paths[-1])
    cat = catalog(tmp_path / "lens.fits", ra, dec, task="lens", score="score",
                  extra={"is_lens": np.array([False, True, True, True, False]),
                         "label": np.array([0, 1, 0, 1, 0])}, meta={"SIZE_PX": 32, "NBANDS": 3})
    return cat, paths


@pytest.fixture
def mm_maps(tmp_path) -> tuple[Path, list[Path]]:
    """An SZ catalog of five rows (one off the maps) and 90/148/219 GHz maps with a decrement at each cluster."""
    wcs = tan_wcs(MM_N, MM_PIX_DEG)
    ra, dec = positions(MM_N, MM_PIX_DEG)
    paths = []
    for freq, amp in ((219.0, 5.0), (148.0, -150.0), (90.0, -250.0)):  # f(x) < 0 below 217 GHz
        data = gaussians(wcs, MM_N, ra[:4], dec[:4], [amp] * 4, 2.5, noise=10.0, seed=int(freq))
        paths.append(write_map(tmp_path / f"map_{freq:g}.fits", data, wcs, freq_ghz=freq))
    cat = catalog(tmp_path / "sz.fits", ra, dec, task="sz", score="rank_product",
                  extra={"cnn_prob": np.linspace(0.1, 0.9, 5), "decision_cnn": np.array([0, 1, 1, 0, 0], bool),
                         "truth_id": np.array([-1, 4, 2, -1, -1]),
                         "truth_sep_arcmin": np.array([np.nan, 0.2, 0.4, np.nan, np.nan])},
                  meta={"TILE_PX": 16})
    return cat, paths


# the real registry (an SZ ensemble and a lens classifier) and the tiny SZ sky of the catalog tests
from tests.catalog.conftest import (  # noqa: F401 - fixtures
    catalog_result,
    lens_registry,
    loaded_model,
    registry,
    sky_files,
    sky_wcs,
)
