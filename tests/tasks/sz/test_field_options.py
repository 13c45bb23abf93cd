"""A survey field directory: band maps, weight maps paired by FREQ, truth tables left out, bad layouts refused."""

import numpy as np
import pytest
from astropy.table import Table

from skysieve.data.maps import write_map
from skysieve.errors import DataError
from skysieve.tasks.sz._catalog_cli import field_options
from tests.conftest import make_car_wcs

SHAPE = (16, 16)
FREQS = (90.0, 148.0, 219.0)


def _field(directory, *, weights=FREQS, weight_name="weight_{f:g}GHz.fits", weight_bunit="uK^-2"):
    directory.mkdir()
    wcs = make_car_wcs(SHAPE)
    for f in FREQS:
        write_map(directory / f"sky_{f:g}GHz.fits", np.zeros(SHAPE), wcs, freq_ghz=f)
    for f in weights:
        write_map(directory / weight_name.format(f=f), np.ones(SHAPE), wcs, freq_ghz=f, bunit=weight_bunit)
    Table({"ra": [1.0], "dec": [2.0]}).write(directory / "halos.fits")  # a truth table beside the maps
    return directory


def test_weight_maps_are_paired_with_their_bands_and_tables_left_out(tmp_path):
    options = field_options(_field(tmp_path / "f"))
    assert [p.name for p in options["maps"]] == ["sky_148GHz.fits", "sky_219GHz.fits", "sky_90GHz.fits"]
    assert [p.name for p in options["weights"]] == ["weight_148GHz.fits", "weight_219GHz.fits", "weight_90GHz.fits"]
    assert options["extra"] == []


def test_a_weight_map_is_known_by_its_unit_whatever_its_name(tmp_path):
    options = field_options(_field(tmp_path / "f", weight_name="depth_{f:g}.fits", weight_bunit="1/uK2"))
    assert [p.name for p in options["weights"]] == ["depth_148.fits", "depth_219.fits", "depth_90.fits"]
    assert all(p.name.startswith("sky_") for p in options["maps"])


def test_a_field_without_weight_maps_gives_only_its_bands(tmp_path):
    options = field_options(_field(tmp_path / "f", weights=()))
    assert "weights" not in options and len(options["maps"]) == 3


@pytest.mark.parametrize(("weights", "match"), [
    ((90.0, 148.0), "none for sky_219GHz.fits"),
    ((90.0, 148.0, 219.0, 30.0), "weight_30GHz.fits match no band map by FREQ"),
])
def test_incomplete_or_unpaired_weight_maps_are_refused(tmp_path, weights, match):
    with pytest.raises(DataError, match=match):
        field_options(_field(tmp_path / "f", weights=weights))


def test_a_field_of_tables_only_is_refused(tmp_path):
    (tmp_path / "f").mkdir()
    Table({"ra": [1.0]}).write(tmp_path / "f" / "halos.fits")
    with pytest.raises(DataError, match="no FITS map"):
        field_options(tmp_path / "f")


def test_a_survey_field_with_weight_maps_is_filtered_with_them(registry, tmp_path):
    """``skysieve catalog --fields`` on a field holding weight maps: they weight the filter, not pose as bands."""
    from astropy.io import fits
    from typer.testing import CliRunner

    from skysieve.catalog import fields_dir
    from skysieve.cli import build_app
    from tests.catalog.conftest import ENSEMBLE, paint_sky

    field = tmp_path / "fields" / "a"
    for band in paint_sky(field):
        header = fits.getheader(band)
        shape = (header["NAXIS2"], header["NAXIS1"])
        write_map(field / band.name.replace("sky_", "weight_"), np.full(shape, 0.05), make_car_wcs(shape),
                  freq_ghz=header["FREQ"], bunit="uK^-2")
    out = tmp_path / "survey.fits"
    result = CliRunner().invoke(build_app(), ["catalog", "--model", f"models:/{ENSEMBLE}@candidate",
                                              "--fields", str(field), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    header = fits.getheader(fields_dir(out) / "a" / "catalog.fits", 1)
    assert {header[f"WGT{i}"] for i in (1, 2, 3)} == {"weight_90GHz.fits", "weight_148GHz.fits", "weight_219GHz.fits"}
    assert fits.getheader(out, 1)["NFAILED"] == 0
