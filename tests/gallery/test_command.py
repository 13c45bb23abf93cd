"""``skysieve gallery`` on the command line: the page, --max by score, and bad input refused with nothing written."""

import re

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from typer.testing import CliRunner

from skysieve.cli import build_app
from tests.gallery.conftest import OPT_N


@pytest.fixture(scope="module")
def app():
    return build_app()


def run(app, *args):
    return CliRunner().invoke(app, ["gallery", *map(str, args)])


def test_sz_page_sorted_by_rank_product_with_marks_and_the_model_uri(app, mm_maps, tmp_path):
    cat, maps = mm_maps
    out = tmp_path / "gallery"
    result = run(app, cat, "--images", *maps, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "5 of 5 candidates" in result.output and "1 outside every image" in result.output
    page = (out / "index.html").read_text()
    assert len(list((out / "thumbs").glob("*.png"))) == 5
    assert '<code id="model-link">models:/sz-model/3</code>' in page  # no --mlflow-url: the URI
    assert 'id="n-placeholders">1<' in page
    assert page.count('data-v="nan">\u2013<') == 3  # unmatched rows: no truth separation, a dash sorted last
    assert all(f">{ra:.5f}<" in page for ra in Table.read(cat)["ra"])  # to 1e-5 deg, not 4 digits
    assert 'class="score"' in page and 'class="decision"' in page and 'class="truth"' in page
    shown = [float(v) for v in re.findall(r'<tr[^>]*><td class="thumb">.*?</td><td class="" data-v="(\d+)"', page)]
    assert shown == [1, 3, 2, 0, 4]  # ids by rank_product, highest first
    assert "http" not in page.replace("http://www.w3", "")  # nothing fetched: no URL at all


def test_max_keeps_the_best_rows_and_mlflow_url_links_the_version(app, optical, tmp_path):
    cat, images = optical
    out = tmp_path / "g"
    result = run(app, cat, "--images", *images, "--out", out, "--max", 2, "--mlflow-url", "http://user:pw@mlf:5000/")
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    assert 'href="http://user:***@mlf:5000/#/models/lens-model/versions/3"' in page  # password masked
    assert "2 of 5 candidates" in result.output and len(list((out / "thumbs").glob("*.png"))) == 2
    assert "the best 2 by score" in page


def test_a_search_not_installed_here_gets_the_engine_thumbnails(app, optical, tmp_path):
    cat, images = optical
    table = Table.read(cat)
    table.meta["TASK"] = "elsewhere"
    other = tmp_path / "other.fits"
    table.write(other)
    result = run(app, other, "--images", *images, "--out", tmp_path / "g")
    assert result.exit_code == 0, result.output
    assert "search 'elsewhere' is not installed here" in result.output and "5 of 5 candidates" in result.output
    assert "elsewhere (not installed here: the engine&#x27;s thumbnails)" in (tmp_path / "g" / "index.html").read_text()


def _refused(result, *texts):
    assert result.exit_code == 2, result.output
    for text in texts:
        assert text in result.output, result.output


def test_bad_input_is_refused_naming_the_file_and_writes_nothing(app, optical, tmp_path):
    cat, images = optical
    out = tmp_path / "g"
    out.mkdir()
    (out / "index.html").write_text("previous page")  # an earlier gallery stays as it was

    table = Table.read(cat)
    table.remove_column("dec")
    nodec = tmp_path / "nodec.fits"
    table.write(nodec)
    _refused(run(app, nodec, "--images", *images, "--out", out), "nodec.fits: no dec column")

    nowcs = tmp_path / "nowcs.fits"
    fits.PrimaryHDU(np.zeros((OPT_N, OPT_N), np.float32), fits.Header({"FILTER": "r"})).writeto(nowcs)
    _refused(run(app, cat, "--images", nowcs, "--out", out), "nowcs.fits: no celestial WCS")

    table = Table.read(cat)
    table["ra"] += 20.0
    far = tmp_path / "far.fits"
    table.write(far)
    _refused(run(app, far, "--images", *images, "--out", out), "far.fits: every one of the 5 rows lies outside")

    _refused(run(app, tmp_path / "missing.fits", "--images", *images, "--out", out), "missing.fits: catalog not found")
    _refused(run(app, cat, "--images", tmp_path / "none.fits", "--out", out), "none.fits: image not found")
    _refused(run(app, cat, "--images", *images, "--out", out, "--max", 0), "--max 0")
    _refused(run(app, cat, "--images", *images, "--out", out, "--size", 1), "--size 1")
    _refused(run(app, cat, "--images", *images, "--out", out, "--task", "nosuch"), "no search named 'nosuch'")

    assert (out / "index.html").read_text() == "previous page" and sorted(p.name for p in out.iterdir()) == [
        "index.html"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".g.")]  # no temporary left behind
