import numpy as np
import pytest
from astropy.io import fits

from skysieve.data.maps import read_maps, write_map
from skysieve.errors import DataError
from tests.conftest import make_car_wcs


def maps_in(sky):
    return sorted(sky.glob("sky_*.fits"))


def test_round_trip(tiny_sky):
    maps = read_maps(maps_in(tiny_sky))
    assert maps.data.shape == (3, 96, 96)
    assert maps.data.dtype == np.float32
    assert set(maps.bands) == {"90GHz", "148GHz", "219GHz"}
    assert maps.unit == "uK_CMB"
    assert maps.pixel_arcmin == pytest.approx(0.25, rel=1e-6)
    header = fits.getheader(maps_in(tiny_sky)[0])
    assert header["CTYPE1"].startswith("RA---CAR")


def test_truncated_file_is_named(tiny_sky):
    path = maps_in(tiny_sky)[0]
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match=rf"{path.name}: not a readable FITS file"):
        read_maps(maps_in(tiny_sky))


def test_garbage_file(tmp_path):
    path = tmp_path / "sky_90GHz.fits"
    path.write_text("this is not fits")
    with pytest.raises(DataError, match="not a readable FITS file"):
        read_maps([path])


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="map file not found"):
        read_maps([tmp_path / "nope.fits"])


def test_no_celestial_wcs(tmp_path):
    path = tmp_path / "m.fits"
    hdu = fits.PrimaryHDU(np.zeros((8, 8), np.float32))
    hdu.header["FREQ"] = 90.0
    hdu.writeto(path)
    with pytest.raises(DataError, match="no celestial WCS"):
        read_maps([path])


def test_nan_pixels(tmp_path):
    image = np.zeros((16, 16), np.float32)
    image[3, 4] = np.nan
    path = write_map(tmp_path / "m.fits", image, make_car_wcs((16, 16)), freq_ghz=90)
    with pytest.raises(DataError, match="1 NaN or infinite pixels"):
        read_maps([path])


def test_band_shapes_differ(tmp_path):
    a = write_map(tmp_path / "a.fits", np.zeros((16, 16)), make_car_wcs((16, 16)), freq_ghz=90)
    b = write_map(tmp_path / "b.fits", np.zeros((20, 20)), make_car_wcs((20, 20)), freq_ghz=148)
    with pytest.raises(DataError, match=r"b.fits: shape \(20, 20\) differs"):
        read_maps([a, b])


def test_wcs_differs(tmp_path):
    a = write_map(tmp_path / "a.fits", np.zeros((16, 16)), make_car_wcs((16, 16)), freq_ghz=90)
    b = write_map(tmp_path / "b.fits", np.zeros((16, 16)), make_car_wcs((16, 16), ra0=20.0), freq_ghz=148)
    with pytest.raises(DataError, match="b.fits: WCS .* differs"):
        read_maps([a, b])


def test_missing_freq(tmp_path):
    path = tmp_path / "a.fits"
    fits.PrimaryHDU(np.zeros((16, 16), np.float32), header=make_car_wcs((16, 16)).to_header()).writeto(path)
    with pytest.raises(DataError, match="no FREQ"):
        read_maps([path])


def test_duplicate_band(tmp_path):
    a = write_map(tmp_path / "a.fits", np.zeros((16, 16)), make_car_wcs((16, 16)), freq_ghz=90)
    b = write_map(tmp_path / "b.fits", np.zeros((16, 16)), make_car_wcs((16, 16)), freq_ghz=90)
    with pytest.raises(DataError, match="band given twice"):
        read_maps([a, b])


def test_write_is_atomic(tmp_path, monkeypatch):
    """A write that fails half-way leaves no partial file, and the map it was replacing as it was."""
    wcs = make_car_wcs((16, 16))
    path = write_map(tmp_path / "m.fits", np.ones((16, 16)), wcs, freq_ghz=90)
    before = path.read_bytes()
    real_writeto = fits.PrimaryHDU.writeto

    def fill_the_disk(self, name, *args, **kwargs):
        real_writeto(self, name, *args, **kwargs)  # the bytes reach the disk, then the device is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fits.PrimaryHDU, "writeto", fill_the_disk)
    with pytest.raises(OSError, match="No space left on device"):
        write_map(path, np.zeros((16, 16)), wcs, freq_ghz=148)
    assert [p.name for p in tmp_path.iterdir()] == ["m.fits"]
    assert path.read_bytes() == before
