"""``skysieve catalog``: the catalog and its summary; bad inputs exit 2 before any work, nothing written."""


import pytest
from astropy.io import fits
from typer.testing import CliRunner

from skysieve.cli import build_app
from tests.catalog.conftest import ENSEMBLE, truth_table

runner = CliRunner()
MODEL = f"models:/{ENSEMBLE}@candidate"


def _run(*args):
    return runner.invoke(build_app(), ["catalog", *map(str, args)])


def test_catalog_command_writes_the_table_and_prints_metrics(registry, sky_files, sky_wcs, tmp_path):
    truth = tmp_path / "halos.fits"
    truth_table(sky_wcs).write(truth)
    out = tmp_path / "out" / "candidates.fits"
    result = _run("--model", MODEL, "--maps", *sky_files, "--out", out, "--truth", truth, "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 1 candidates" in result.output and f"{ENSEMBLE} v1" in result.output
    assert "truth: 2 objects" in result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith("rank_product"))
    assert line.split()[1:4] == ["1.000", "0.500", "0.667"]
    assert "95 % (Wilson): purity 0.21–1.00, completeness 0.09–0.91" in result.output  # 1/1 and 1/2
    header = fits.getheader(out, 1)
    assert header["MODEL"] == ENSEMBLE and header["NCAND"] == 1 and header["MATCHRAD"] == 1.0
    assert [p.name for p in out.parent.iterdir()] == ["candidates.fits"]


def test_repeated_maps_option_works_too(registry, sky_files, tmp_path):
    out = tmp_path / "c.fits"
    args = [a for f in sky_files for a in ("--maps", f)]
    result = _run("--model", f"models:/{ENSEMBLE}/1", *args, "--out", out, "--stride-arcmin", "3")
    assert result.exit_code == 0, result.output
    assert fits.getheader(out, 1)["STRIDEPX"] == 12


def _shifted_wcs_copy(src, dst):
    with fits.open(src) as hdul:
        hdul[0].header["CRPIX1"] += 3.0
        hdul.writeto(dst)


def _corrupt_copy(src, dst):
    dst.write_bytes(src.read_bytes()[:4000])


@pytest.mark.parametrize("case", ["unknown model", "no champion", "bad uri", "missing band", "wrong band",
                                  "mismatched wcs", "corrupt map", "bad stride"])
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(case, registry, sky_files, tmp_path):
    maps = list(sky_files)
    model, extra = MODEL, []
    expect = {
        "unknown model": "no registered model named 'nope'",
        "no champion": "has no alias 'champion'",
        "bad uri": "expected models:/NAME@ALIAS",
        "missing band": "have bands ['90GHz', '148GHz'] but model 'test-sz-ensemble' v1 was trained on",
        "wrong band": "have bands ['90GHz', '150GHz', '219GHz']",
        "mismatched wcs": "WCS (projection, reference pixel or pixel size) differs",
        "corrupt map": "not a readable FITS file",
        "bad stride": "--stride-arcmin 4.0 is 16 px; it must be between one pixel and the central size",
    }[case]
    if case == "unknown model":
        model = "models:/nope@champion"
    elif case == "no champion":
        model = f"models:/{ENSEMBLE}@champion"
    elif case == "bad uri":
        model = "runs:/0123/model"
    elif case == "missing band":
        maps = maps[:2]
    elif case == "wrong band":
        maps[1] = tmp_path / "sky_150GHz.fits"
        with fits.open(sky_files[1]) as hdul:
            hdul[0].header["FREQ"] = 150.0
            hdul.writeto(maps[1])
    elif case == "mismatched wcs":
        maps[2] = tmp_path / "shifted.fits"
        _shifted_wcs_copy(sky_files[2], maps[2])
    elif case == "corrupt map":
        maps[0] = tmp_path / "broken.fits"
        _corrupt_copy(sky_files[0], maps[0])
    elif case == "bad stride":
        extra = ["--stride-arcmin", "4"]
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "candidates.fits"
    result = _run("--model", model, "--maps", *maps, "--out", out, *extra)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and expect in " ".join(result.output.split())
    assert list(outdir.iterdir()) == []  # no catalog, no partial file


def test_a_failure_leaves_an_existing_catalog_untouched(registry, sky_files, tmp_path):
    out = tmp_path / "candidates.fits"
    out.write_bytes(b"previous catalog")
    result = _run("--model", MODEL, "--maps", *sky_files[:2], "--out", out)
    assert result.exit_code == 2
    assert out.read_bytes() == b"previous catalog"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["candidates.fits"]


def test_unknown_option_among_the_maps_is_refused(registry, sky_files, tmp_path):
    result = _run("--model", MODEL, "--maps", *sky_files, "--out", tmp_path / "c.fits", "--strid", "3")
    assert result.exit_code != 0
    assert not (tmp_path / "c.fits").exists()


def test_a_version_registered_before_the_task_tag_still_makes_its_catalog(registry, sky_files, tmp_path):
    """Versions registered before the move carry no ``skysieve.task``: their catalog config tag names the search."""
    import json

    import mlflow

    from skysieve.registry import read_version_documents

    client = mlflow.MlflowClient()
    saved = dict(client.get_model_version(ENSEMBLE, "1").tags)
    config = read_version_documents(ENSEMBLE, "1")["catalog_config"]
    client.set_model_version_tag(ENSEMBLE, "1", "catalog_config", json.dumps(config))  # as such versions were
    client.delete_model_version_tag(ENSEMBLE, "1", "skysieve.task")
    try:
        out = tmp_path / "old.fits"
        result = _run("--model", f"models:/{ENSEMBLE}/1", "--maps", *sky_files, "--out", out, "--no-progress")
        assert result.exit_code == 0, result.output
        assert fits.getheader(out, 1)["MODEL"] == ENSEMBLE
        client.delete_model_version_tag(ENSEMBLE, "1", "catalog_config")
        client.set_model_version_tag(ENSEMBLE, "1", "params", "{}")
        result = _run("--model", f"models:/{ENSEMBLE}/1", "--maps", *sky_files, "--out", tmp_path / "no.fits")
        assert result.exit_code == 2
        assert (f"model '{ENSEMBLE}' v1 has no 'skysieve.task' tag and no registered search recognizes it"
                in " ".join(result.output.split()))
        assert not (tmp_path / "no.fits").exists()
    finally:  # the registry is shared by the package's tests: put every tag back
        for key in ("skysieve.task", "catalog_config", "params"):
            if key in saved:
                client.set_model_version_tag(ENSEMBLE, "1", key, saved[key])
            else:
                client.delete_model_version_tag(ENSEMBLE, "1", key)
