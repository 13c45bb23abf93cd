import numpy as np
import pytest
from astropy.table import Table

from skysieve.data import open_dataset, read_maps
from skysieve.errors import ConfigError
from skysieve.tasks.sz.cutouts import cutout_grid, label_cutouts, plan_cutouts, write_cutouts
from skysieve.tasks.sz.params import CutoutsSzParams

CFG = CutoutsSzParams(drop_adjacent_negatives_in_train=False)


def grid_for(n_px=96, cfg=CFG):
    return cutout_grid((n_px, n_px), 0.25, cfg)


def test_grid_geometry():
    grid = grid_for()
    assert (grid.size_px, grid.stride_px, grid.central_px, grid.margin_px) == (32, 24, 24, 4)
    assert (grid.nx, grid.ny) == (3, 3)  # (96 - 32) // 24 + 1


def test_labels_follow_the_halo_criteria_exactly():
    grid = grid_for()
    # Central region of cutout i spans pixel positions [24 i + 3.5, 24 i + 27.5).
    x = np.array([3.49, 3.5, 27.49, 27.5, 15.0, 15.0, 15.0])
    y = np.array([15.0, 15.0, 15.0, 15.0, 15.0, 15.0, 15.0])
    mass = np.array([3e14, 3e14, 3e14, 3e14, 1.99e14, 3e14, 3e14])
    z = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.249, 0.25])
    for k in range(len(x)):
        label, holder = label_cutouts(grid, x[k:k + 1], y[k:k + 1], mass[k:k + 1], z[k:k + 1], CFG)
        expected = {0: None, 1: (0, 0), 2: (0, 0), 3: (0, 1), 4: None, 5: None, 6: (0, 0)}[k]
        positives = list(zip(*np.nonzero(label)))
        assert positives == ([] if expected is None else [expected]), k


def test_each_halo_is_central_in_exactly_one_cutout_when_stride_equals_central():
    grid = grid_for(200)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(3.5, 24 * grid.nx + 3.5 - 1e-6, 50), rng.uniform(3.5, 24 * grid.ny + 3.5 - 1e-6, 50)
    for k in range(50):
        label, _ = label_cutouts(grid, x[k:k + 1], y[k:k + 1], np.array([1e15]), np.array([1.0]), CFG)
        assert label.sum() == 1


def test_positive_holder_is_the_passing_halo():
    grid = grid_for()
    x, y = np.array([10.0, 12.0]), np.array([10.0, 12.0])
    mass, z = np.array([9e14, 3e14]), np.array([0.1, 0.5])  # heavier halo fails the z cut
    label, holder = label_cutouts(grid, x, y, mass, z, CFG)
    assert label[0, 0] == 1 and holder[0, 0] == 1


def test_plan_and_write(tiny_sky, tmp_path):
    maps = read_maps(sorted(tiny_sky.glob("sky_*.fits"), key=lambda p: float(p.stem[4:-3])))
    halos = Table.read(tiny_sky / "halos.fits")
    catalog = plan_cutouts(maps.data.shape[1:], maps.wcs, maps.pixel_arcmin, halos, CFG)
    assert len(catalog) == 9
    # Halos at pixels (15,15) M=3e14 z=.5 → cutout (0,0); (40,15) M=1e14 → negative;
    # (62,40) z=0.1 → negative; (40,62) → cutout (ix=1, iy=2).
    positives = {(int(r["ix"]), int(r["iy"])) for r in catalog if r["label"] == 1}
    assert positives == {(0, 0), (1, 2)}
    row = catalog[(catalog["ix"] == 0) & (catalog["iy"] == 0)][0]
    assert row["halo_id"] == 0 and row["mvir"] == pytest.approx(3e14)
    assert row["offset_arcmin"] == pytest.approx(np.hypot(15 - 15.5, 15 - 15.5) * 0.25)
    assert set(catalog["split"]) <= {"train", "val", "test"}
    assert len(set(catalog["id"])) == len(catalog)

    out = write_cutouts(maps, catalog, tmp_path / "cutouts")
    ds = open_dataset(out)
    assert ds.shape == (9, 32, 32, 3)
    assert ds.channels == ("90GHz", "148GHz", "219GHz")
    k = int(np.flatnonzero((catalog["ix"] == 1) & (catalog["iy"] == 2))[0])
    np.testing.assert_array_equal(ds.read([k])[0], maps.data[:, 48:80, 24:56].transpose(1, 2, 0))
    # Reading out of order returns rows in the order asked for.
    np.testing.assert_array_equal(ds.read([5, 1, 5])[1], ds.read([1])[0])
    # The kept-open reader (training streams) reads the same cutouts, in the order asked, and pickles.
    import pickle

    from skysieve.data import CutoutReader

    reader = CutoutReader(ds)
    for rows in ([5, 1, 5], [2, 3, 4], []):
        np.testing.assert_array_equal(reader.read(rows), ds.read(rows))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reader)).read([k]), ds.read([k]))
    reader.close()


def test_split_by_ra_fractions(tiny_sky):
    maps = read_maps(sorted(tiny_sky.glob("sky_*.fits")))
    cfg = CutoutsSzParams(stride_arcmin=2.0, split={"test_frac": 0.3, "val_frac": 0.3})
    catalog = plan_cutouts(maps.data.shape[1:], maps.wcs, maps.pixel_arcmin, Table.read(tiny_sky / "halos.fits"), cfg)
    ra = np.asarray(catalog["ra"])
    # RA decreases with x in CAR; test is the low-RA strip, train the high-RA one.
    assert ra[catalog["split"] == "test"].max() < ra[catalog["split"] == "val"].min()
    assert ra[catalog["split"] == "val"].max() < ra[catalog["split"] == "train"].min()


def test_adjacent_negatives_dropped_from_train_only(tiny_sky):
    maps = read_maps(sorted(tiny_sky.glob("sky_*.fits")))
    halos = Table.read(tiny_sky / "halos.fits")
    args = (maps.data.shape[1:], maps.wcs, maps.pixel_arcmin, halos)
    all_train = CutoutsSzParams(split={"test_frac": 0.01, "val_frac": 0.01})
    kept = plan_cutouts(*args, all_train)
    full = plan_cutouts(*args, all_train.model_copy(update={"drop_adjacent_negatives_in_train": False}))
    dropped = set(full["id"]) - set(kept["id"])
    assert dropped, "some negatives next to a positive should be dropped"
    assert all(full[full["id"] == i]["label"][0] == 0 for i in dropped)
    assert all(full[full["id"] == i]["split"][0] == "train" for i in dropped)


def test_non_integer_pixel_geometry_is_rejected():
    with pytest.raises(ConfigError, match=r"cutouts_sz.stride_arcmin = 6.1′ is not a whole number"):
        cutout_grid((96, 96), 0.25, CutoutsSzParams(stride_arcmin=6.1))


def test_failed_write_leaves_nothing(tiny_sky, tmp_path):
    maps = read_maps(sorted(tiny_sky.glob("sky_*.fits")))
    catalog = plan_cutouts(maps.data.shape[1:], maps.wcs, maps.pixel_arcmin, Table.read(tiny_sky / "halos.fits"), CFG)
    catalog["x0"][0] = 10_000  # out of the map: the slice is empty and the write fails
    with pytest.raises(ValueError, match=r"could not broadcast input array from shape \(32,0,3\) into shape \(32,32,3"):
        write_cutouts(maps, catalog, tmp_path / "cutouts")
    assert not (tmp_path / "cutouts").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cutouts")]
