"""Tiny seeded fixtures shared across the suite (photutils-style)."""

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


def make_car_wcs(shape: tuple[int, int], pixel_arcmin: float = 0.25, ra0: float = 15.0, dec0: float = 0.0):
    """A CAR WCS for a small patch centred on (ra0, dec0), built with pixell."""
    from pixell import enmap, utils

    ny, nx = shape
    half_h, half_w = ny * pixel_arcmin / 120.0, nx * pixel_arcmin / 120.0
    box = np.deg2rad([[dec0 - half_h, ra0 + half_w], [dec0 + half_h, ra0 - half_w]])
    geo_shape, wcs = enmap.geometry(pos=box, res=pixel_arcmin * utils.arcmin, proj="car")
    assert tuple(geo_shape[-2:]) == (ny, nx), geo_shape
    return wcs


@pytest.fixture
def tiny_sky(tmp_path) -> Path:
    """A 96×96-pixel three-band sky with white noise and a small halo catalog, as FITS files."""
    from skysieve.data.maps import band_name, write_map

    rng = np.random.default_rng(7)
    shape = (96, 96)
    wcs = make_car_wcs(shape)
    sky = tmp_path / "sky"
    sky.mkdir()
    for freq in (90.0, 148.0, 219.0):
        write_map(sky / f"sky_{band_name(freq)}.fits", rng.normal(0, 10, shape).astype(np.float32), wcs,
                  freq_ghz=freq)
    # Halos at chosen pixel positions: (x, y, mvir, z).
    px = [(15.0, 15.0, 3e14, 0.5), (40.0, 15.0, 1e14, 0.5), (62.0, 40.0, 5e14, 0.1), (40.0, 62.0, 4e14, 0.8)]
    x, y, m, z = (np.array(c) for c in zip(*px))
    ra, dec = wcs.wcs_pix2world(x, y, 0)
    halos = Table({"halo_id": np.arange(len(px)), "ra": ra, "dec": dec, "z": z, "mvir": m, "m500c": m / 1.6})
    halos["ra"].unit = halos["dec"].unit = "deg"
    halos["mvir"].unit = halos["m500c"].unit = "solMass"
    halos.write(sky / "halos.fits")
    return sky
