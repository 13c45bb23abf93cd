"""Galleries of catalogs written by the real ``skysieve catalog`` with registered models (SZ maps, lens cutouts)."""

import numpy as np
from astropy.io import fits
from astropy.table import Table
from typer.testing import CliRunner

from skysieve.catalog import write_catalog
from skysieve.cli import build_app
from tests.catalog.conftest import CLUSTER_XY, ENSEMBLE, LENS, LENS_SIZE


def _run(*args):
    return CliRunner().invoke(build_app(), list(map(str, args)))


def test_an_sz_catalog_gallery_shows_the_cluster_in_its_maps(catalog_result, sky_files, sky_wcs, registry, tmp_path):
    cat = write_catalog(catalog_result, tmp_path / "sz.fits")
    assert fits.getheader(cat, 1)["TASK"] == "sz"  # the header names the search
    out = tmp_path / "gallery"
    result = _run("gallery", cat, "--images", *sky_files, "--out", out, "--mlflow-url", "http://127.0.0.1:5000")
    assert result.exit_code == 0, result.output
    table = Table.read(cat)
    assert f"{len(table)} of {len(table)} candidates" in result.output and "outside" not in result.output
    page = (out / "index.html").read_text()
    assert f'href="http://127.0.0.1:5000/#/models/{ENSEMBLE}/versions/{registry["version"]}"' in page
    from PIL import Image

    ra, dec = sky_wcs.pixel_to_world_values(*CLUSTER_XY)
    sep = np.hypot((table["ra"] - ra) * np.cos(np.radians(dec)), table["dec"] - dec) * 60
    row = int(np.argmin(sep))  # the page is in the catalog's rank-product order
    thumb = np.asarray(Image.open(out / "thumbs" / f"{row:05d}.png").convert("RGB"), int)
    side = (thumb.shape[1] - 4) // 3
    red, _, blue = thumb[side // 2, side // 2]  # the 90 GHz panel's centre: the decrement, blue
    assert blue > red + 40


def test_a_lens_catalog_gallery_draws_its_cutouts_in_colour(lens_registry, tmp_path):
    from tests.tasks.lens.test_catalog import tan_wcs, write_cutout

    cutouts = tmp_path / "cutouts"
    cutouts.mkdir()
    rng = np.random.default_rng(4)
    for i in range(3):
        image = rng.normal(0.0, 1.0, (LENS_SIZE, LENS_SIZE, 3)).astype(np.float32)
        image[6:10, 6:10, 2] += 30.0  # a red (F814W-bright) galaxy
        write_cutout(cutouts / f"obj{i}.fits", image, wcs=tan_wcs(crpix=(8.5, 8.5), crval=(177.4 + 0.01 * i, 22.4)))
    cat = tmp_path / "lenses.fits"
    result = _run("catalog", "--model", lens_registry["uri"], "--cutouts", cutouts, "--out", cat, "--no-progress")
    assert result.exit_code == 0, result.output
    out = tmp_path / "gallery"
    result = _run("gallery", cat, "--out", out)  # the cutout directory from the header's CUTDIR
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    assert f"models:/{LENS}/{lens_registry['version']}" in page and 'class="decision"' in page
    from PIL import Image

    for png in sorted((out / "thumbs").glob("*.png")):
        thumb = np.asarray(Image.open(png).convert("RGB"), int)
        r, _, b = thumb[(thumb.shape[0] - 14) // 2, thumb.shape[1] // 2]
        assert r > b + 40  # F814W is red
    assert len(list((out / "thumbs").glob("*.png"))) == 3
