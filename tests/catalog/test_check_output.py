"""Catalog inputs and output checked before any work: --out, positions ids, truncated files."""

import pytest

from skysieve.catalog import check_output
from skysieve.errors import ConfigError


def test_an_output_that_would_replace_or_join_an_input_is_refused(tmp_path):
    cutouts = tmp_path / "cutouts"
    cutouts.mkdir()
    image = tmp_path / "F814W.fits"
    image.write_bytes(b"x")
    with pytest.raises(ConfigError, match="is an input of this command"):
        check_output(image, [None, [tmp_path / "F435W.fits", image]])
    with pytest.raises(ConfigError, match="lies inside the input directory"):
        check_output(cutouts / "catalog.fits", [cutouts, None])
    with pytest.raises(ConfigError, match="is a directory"):
        check_output(cutouts, [])
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        check_output(image / "catalog.fits", [])
    check_output(tmp_path / "new" / "catalog.fits", [cutouts, [image], 512, True])  # a new folder is fine
    assert image.read_bytes() == b"x"


def test_a_positions_table_with_an_id_twice_is_refused(tmp_path):
    from astropy.table import Table

    from skysieve.catalog import read_positions
    from skysieve.errors import DataError

    path = tmp_path / "positions.csv"
    Table({"id": ["a", "b", "a"], "ra": [1.0, 2.0, 3.0], "dec": [0.0, 0.0, 0.0]}).write(path)
    with pytest.raises(DataError, match=r"positions\.csv: 1 ids occur more than once \(e\.g\. \['a'\]\)"):
        read_positions(path)
    Table({"ra": [1.0, 1.0], "dec": [0.0, 0.0]}).write(tmp_path / "noid.csv")
    assert list(read_positions(tmp_path / "noid.csv")["id"]) == [0, 1]  # numbered rows are unique


def test_a_truncated_fits_file_is_named_as_truncated_not_as_missing_hdus(tmp_path):
    import numpy as np
    from astropy.io import fits

    from skysieve.catalog._fits_checks import _open
    from skysieve.errors import DataError

    path = tmp_path / "cut.fits"
    fits.HDUList([fits.PrimaryHDU()] + [fits.ImageHDU(np.ones((40, 40), np.float32)) for _ in range(3)]).writeto(path)
    with _open(path) as hdul:
        assert len(hdul) == 4
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut\.fits: truncated \(File may have been truncated"):
        _open(path)
