"""``--out`` is checked before any work: not a directory, not under a file, never an input or inside one."""

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
