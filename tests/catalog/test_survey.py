"""Survey catalogs (``skysieve catalog --fields``): the serial loop and a real Dask ``LocalCluster`` of two worker
processes give the same rows; a killed worker's field is redone; bad fields are reported by name while the rest
finish; a second run skips the fields done and redoes one whose output was tampered with."""

import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from typer.testing import CliRunner

from skysieve.catalog import drop_duplicates, fields_dir, file_sha256, find_fields
from skysieve.cli import build_app
from skysieve.errors import ConfigError
from tests.catalog.conftest import CLUSTER_XY, ENSEMBLE, SHAPE, paint_sky
from tests.conftest import make_car_wcs

distributed = pytest.importorskip("distributed")

MODEL = f"models:/{ENSEMBLE}@candidate"
SHIFT_DEG = 0.1  # field b is field a moved 6′ (24 px) in RA: both hold the planted cluster


def _catalog(*args):
    return CliRunner().invoke(build_app(), ["catalog", "--model", MODEL, *map(str, args)])


def _paint_fields(root: Path) -> dict[str, Path]:
    """Three fields: a and b overlap and hold the same cluster, c lies elsewhere with its own cluster."""
    wcs_a = make_car_wcs(SHAPE)
    ra, dec = wcs_a.wcs_pix2world([CLUSTER_XY], 0)[0]
    wcs_b = make_car_wcs(SHAPE, ra0=15.0 + SHIFT_DEG)
    xy_b = tuple(wcs_b.wcs_world2pix([[ra, dec]], 0)[0])
    assert 30 < xy_b[0] < 130, xy_b  # the cluster is inside field b too, away from its edges
    paint_sky(root / "a", wcs=wcs_a, seed=5)
    paint_sky(root / "b", wcs=wcs_b, seed=6, cluster_xy=xy_b, source_xy=None)
    paint_sky(root / "c", wcs=make_car_wcs(SHAPE, ra0=17.0), seed=7, cluster_xy=(60.2, 90.7), source_xy=None)
    return {name: root / name for name in "abc"}


@pytest.fixture(scope="module")
def fields(tmp_path_factory) -> dict[str, Path]:
    return _paint_fields(tmp_path_factory.mktemp("survey"))


@pytest.fixture(scope="module")
def cluster(registry):
    """A real LocalCluster: two worker processes, one thread each; yields the scheduler address."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as lc:
        with Client(lc) as client:
            client.wait_for_workers(2)
        yield lc.scheduler_address


def _fields_glob(root: Path) -> str:
    return str(root / "*")


def _rows(path: Path) -> Table:
    table = Table.read(path, hdu=1)
    table.sort(["field", "id"])
    return table


@pytest.fixture(scope="module")
def serial_survey(registry, fields, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serial") / "survey.fits"
    result = _catalog("--fields", _fields_glob(fields["a"].parent), "--out", out)
    assert result.exit_code == 0, result.output
    assert "dask" not in result.output  # the serial loop: no cluster
    return out


def test_the_serial_loop_merges_the_fields_with_their_provenance(serial_survey, fields):
    table = _rows(serial_survey)
    header = fits.getheader(serial_survey, 1)
    assert header["MODEL"] == ENSEMBLE and header["NFIELDS"] == 3 and header["NFAILED"] == 0
    assert "SHA256_1" not in header  # what differs between fields lives in the FIELDS table
    # the cluster of the overlap is one row, from one field; the other field's copy is counted as a duplicate
    assert header["NDUPL"] >= 1 and header["NCAND"] == len(table)
    ra, dec = make_car_wcs(SHAPE).wcs_pix2world([CLUSTER_XY], 0)[0]
    near = np.hypot((table["ra"] - ra) * np.cos(np.radians(dec)), table["dec"] - dec) * 60 < header["DUPRAD"]
    assert near.sum() == 1 and table["field"][near][0] in {"a", "b"}
    assert "c" in set(table["field"])  # the far field's own cluster
    per_field = {f: fits.getheader(fields_dir(serial_survey) / f / "catalog.fits", 1)["NCAND"] for f in "abc"}
    assert len(table) == sum(per_field.values()) - header["NDUPL"]
    inputs = Table.read(serial_survey, hdu="FIELDS")
    assert len(inputs) == 9  # three maps in each of three fields
    for row in inputs:
        assert row["sha256"] == file_sha256(fields[row["field"]] / row["file"])
        assert row["catalog_sha256"] == file_sha256(fields_dir(serial_survey) / row["field"] / "catalog.fits")


def test_two_local_workers_give_the_same_rows_as_the_serial_loop(serial_survey, fields, tmp_path):
    out = tmp_path / "survey.fits"
    result = _catalog("--fields", fields["a"], fields["b"], fields["c"], "--out", out, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert re.search(r"dask: scheduler tcp://127\.0\.0\.1:\d+, 2 workers; dashboard http://", result.output)
    dask_rows, serial_rows = _rows(out), _rows(serial_survey)
    assert dask_rows.colnames == serial_rows.colnames and len(dask_rows) == len(serial_rows)
    for col in dask_rows.colnames:
        assert np.array_equal(np.ma.getmaskarray(dask_rows[col]), np.ma.getmaskarray(serial_rows[col])), col
        np.testing.assert_array_equal(np.ma.getdata(dask_rows[col]), np.ma.getdata(serial_rows[col]), err_msg=col)


class _KillOnce(distributed.WorkerPlugin):
    """Kills the worker process that starts the first field task (once per marker file)."""

    def __init__(self, marker: str):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "skysieve-field-" in str(key):
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
            os._exit(1)


def test_a_killed_worker_s_field_is_redone(cluster, serial_survey, fields, tmp_path):
    import cloudpickle
    from distributed import Client

    me = sys.modules[__name__]
    marker = tmp_path / "killed"
    cloudpickle.register_pickle_by_value(me)  # the workers cannot import the tests package
    try:
        with Client(cluster) as client:
            client.register_plugin(_KillOnce(str(marker)), name="kill-once")
            try:
                out = tmp_path / "survey.fits"
                result = _catalog("--fields", _fields_glob(fields["a"].parent), "--out", out, "--scheduler", cluster)
            finally:
                client.unregister_worker_plugin("kill-once")
                client.wait_for_workers(2, timeout=60)
    finally:
        cloudpickle.unregister_pickle_by_value(me)
    assert marker.exists()  # a worker died running a field
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in fields_dir(out).iterdir()) == ["a", "b", "c"]  # nothing half-written left
    assert "FAILED" not in result.output
    assert len(_rows(out)) == len(_rows(serial_survey)) and set(_rows(out)["field"]) == set(_rows(serial_survey)["field"])


def _bad_fields(root: Path, good: dict[str, Path]) -> dict[str, str]:
    """Bad fields beside copies of the good ones; returns the reason expected for each."""
    maps = sorted(good["a"].glob("*.fits"))
    for name in ("truncated", "nowcs", "twobands", "mismatched", "empty"):
        (root / name).mkdir()
    for p in maps:
        shutil.copy(p, root / "truncated" / p.name)
        shutil.copy(p, root / "nowcs" / p.name)
        shutil.copy(p, root / "mismatched" / p.name)
    (root / "truncated" / maps[0].name).write_bytes(maps[0].read_bytes()[:4000])
    with fits.open(maps[1]) as hdul:
        header = fits.Header({k: hdul[0].header[k] for k in ("FREQ", "BUNIT")})
        fits.PrimaryHDU(hdul[0].data, header).writeto(root / "nowcs" / maps[1].name, overwrite=True)
    for p in maps[:2]:
        shutil.copy(p, root / "twobands" / p.name)
    with fits.open(maps[2]) as hdul:
        hdul[0].header["FREQ"] = 150.0
        hdul.writeto(root / "mismatched" / maps[2].name, overwrite=True)
    for name in ("a", "c"):
        shutil.copytree(good[name], root / name)
    return {"truncated": "not a readable FITS file", "nowcs": "no celestial WCS", "empty": "no FITS map",
            "twobands": "have bands ['148GHz', '219GHz'] but model", "mismatched": "have bands",
            "missing": "field directory not found"}


def test_bad_fields_are_reported_by_name_while_the_others_finish(cluster, fields, tmp_path):
    root = tmp_path / "fields"
    root.mkdir()
    expected = _bad_fields(root, fields)
    out = tmp_path / "survey.fits"
    result = _catalog("--fields", _fields_glob(root), root / "missing", "--out", out, "--scheduler", cluster)
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    for name, reason in expected.items():
        assert re.search(rf"FAILED field {name}: [^\n]*{re.escape(reason)}", result.output), (name, result.output)
    assert "6 of 8 field(s) failed" in output
    assert sorted(p.name for p in fields_dir(out).iterdir()) == ["a", "c"]  # nothing of a bad field
    header = fits.getheader(out, 1)
    assert header["NFIELDS"] == 2 and header["NFAILED"] == 6
    assert set(Table.read(out, hdu=1)["field"]) <= {"a", "c"}


def test_a_second_run_skips_done_fields_and_redoes_a_tampered_or_changed_one(registry, fields, tmp_path):
    root = tmp_path / "fields"
    for name in "abc":
        shutil.copytree(fields[name], root / name)
    out = tmp_path / "survey.fits"
    assert _catalog("--fields", _fields_glob(root), "--out", out).exit_code == 0
    first = _rows(out)
    done = fields_dir(out)
    stamp = (done / "a" / "manifest.json").stat().st_mtime_ns
    with fits.open(done / "b" / "catalog.fits", mode="update") as hdul:  # tamper with b's output
        hdul[1].header["NCAND"] = 99
    with fits.open(root / "c" / "sky_219GHz.fits", mode="update") as hdul:  # a new version of c's map
        hdul[0].header["OBSERVER"] = "someone"
    result = _catalog("--fields", _fields_glob(root), "--out", out)
    assert result.exit_code == 0, result.output
    assert "1 field(s) already done, outputs verified by sha256: a" in result.output
    assert re.search(r"field b: redone, \S+catalog\.fits differs from its manifest \(sha256\)", result.output)
    assert "field c: redone, its inputs changed" in result.output
    assert (done / "a" / "manifest.json").stat().st_mtime_ns == stamp
    assert fits.getheader(done / "b" / "catalog.fits", 1)["NCAND"] != 99
    again = _rows(out)
    assert len(again) == len(first) and np.array_equal(again["ra"], first["ra"])


def test_a_model_uri_that_does_not_resolve_fails_before_any_worker_starts(registry, fields, tmp_path):
    out = tmp_path / "survey.fits"
    result = CliRunner().invoke(build_app(), ["catalog", "--model", "models:/nope@champion", "--fields",
                                              _fields_glob(fields["a"].parent), "--out", str(out), "--workers", "2"])
    assert result.exit_code == 2
    assert "no registered model named 'nope'" in " ".join(result.output.split())
    assert "dask" not in result.output and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "2"], "--workers and --scheduler spread survey fields: give them with --fields"),
    (["--fields", "F", "--maps", "x.fits"], "--maps: each field gives its own with --fields"),
    (["--fields", "F", "--workers", "0"], "--workers must be >= 1"),
    (["--fields", "F", "--workers", "1", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    (["--fields", "nowhere/*"], "'nowhere/*' matches no directory"),
])
def test_bad_survey_options_exit_2(registry, fields, tmp_path, args, message):
    args = [str(fields["a"]) if a == "F" else a for a in args]
    result = _catalog(*args, "--out", tmp_path / "s.fits")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []


def test_find_fields_reads_directories_globs_and_lists(fields, tmp_path):
    listing = tmp_path / "fields.txt"
    listing.write_text(f"# the survey\n{fields['a']}\n{fields['a'].parent}/[bc]  # two more\n")
    found = find_fields([listing])
    assert [f.name for f in found] == ["a", "b", "c"]
    assert [f.name for f in find_fields([fields["c"], fields["a"], fields["c"]])] == ["c", "a"]
    (tmp_path / "other" / "a").mkdir(parents=True)
    with pytest.raises(ConfigError, match="two fields are named 'a'"):
        find_fields([fields["a"], tmp_path / "other" / "a"])


def test_drop_duplicates_keeps_the_best_row_of_each_object_across_fields_only():
    ra = np.array([10.0, 10.0 + 0.5 / 60, 10.0 + 0.2 / 60, 11.0])
    dec = np.zeros(4)
    group = np.array([0, 0, 1, 1])
    keep = drop_duplicates(ra, dec, score=np.array([0.5, 0.9, 0.8, 0.1]), group=group, radius_arcmin=1.0)
    # rows 0 and 1 (one field) both stay; row 2 of the other field is within 1′ of the better row 1
    assert keep.tolist() == [True, True, False, True]
    assert drop_duplicates(ra, dec, score=np.ones(4), group=np.arange(4), radius_arcmin=0.0).all()
    ra[1] = np.nan  # no position: kept, and drops nothing; row 2 now outranks row 0 of the other field
    keep = drop_duplicates(ra, dec, score=np.array([0.5, 0.9, 0.8, 0.1]), group=group, radius_arcmin=1.0)
    assert keep.tolist() == [False, True, True, True]
