"""Atomic writes (src/skysieve/_io.py): all or nothing, and concurrent writers of one path never collide."""

import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from skysieve._io import atomic_path
from skysieve.errors import ConfigError


def test_a_failed_write_leaves_the_old_output(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_directory_replaces_a_directory(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "stale.bin").write_text("x")
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "weights.bin").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["weights.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def _write_many(path: Path, writer: int, rounds: int, barrier: threading.Barrier, errors: list, *, directory: bool):
    barrier.wait()
    try:
        for i in range(rounds):
            with atomic_path(path) as tmp:
                if directory:
                    tmp.mkdir()
                    for part in ("a", "b", "c"):
                        (tmp / part).write_text(f"{writer}:{i}")
                else:
                    tmp.write_text(f"{writer}:{i}")
    except BaseException as exc:  # noqa: BLE001 - collected for the assertion in the main thread
        errors.append(exc)


@pytest.mark.parametrize("directory", [False, True], ids=["file", "directory"])
def test_concurrent_writers_of_one_path_do_not_collide(tmp_path, directory):
    path, writers, rounds = tmp_path / "shared", 4, 40
    barrier, errors = threading.Barrier(writers), []
    threads = [threading.Thread(target=_write_many, args=(path, w, rounds, barrier, errors),
                                kwargs={"directory": directory}) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    if directory:  # one writer's complete output, never a mix
        assert len({(path / part).read_text() for part in ("a", "b", "c")}) == 1
    else:
        assert path.read_text().split(":")[1] == str(rounds - 1)
    assert [p.name for p in tmp_path.iterdir()] == ["shared"]  # no temporary left behind


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_an_output_under_a_file_is_a_clear_error_and_nothing_is_written(tmp_path):
    (tmp_path / "maps").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"maps/sub/m\.fits: cannot write this output — .*maps is a file, not a "
                                          r"directory; remove it or choose another output path"):
        with atomic_path(tmp_path / "maps" / "sub" / "m.fits") as tmp:
            tmp.write_text("x")
    assert (tmp_path / "maps").read_text() == "not a folder" and _leftovers(tmp_path) == []


_READ_ONLY_CHECK = """
import sys
from pathlib import Path
from skysieve._io import atomic_path
from skysieve.errors import ConfigError
try:
    with atomic_path(Path(sys.argv[1]) / "out.fits") as tmp:
        tmp.write_text("x")
except ConfigError as exc:
    print(exc)
    sys.exit(3)
"""


def _without_override() -> None:
    """Drop the capabilities that let root ignore file modes (DAC override, read search, owner) before exec."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: root's next exec gets none of them
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_an_output_in_a_read_only_directory_is_a_clear_error(tmp_path):
    """Root may write anywhere, so under root the write runs in a child without the DAC-override capabilities."""
    import subprocess
    import sys

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    run = [sys.executable, "-c", _READ_ONLY_CHECK, str(locked)]
    kwargs = {"preexec_fn": _without_override} if os.geteuid() == 0 else {}
    try:
        out = subprocess.run(run, capture_output=True, text=True, timeout=120, **kwargs)
    except subprocess.SubprocessError as exc:  # no CAP_SETPCAP here: the capabilities cannot be dropped
        pytest.skip(f"cannot start a child without root's DAC override here: {exc}")
    finally:
        locked.chmod(0o700)
    assert out.returncode == 3, out.stderr[-2000:]
    assert re.search(r"locked/out\.fits: cannot write this output — no permission to write in \S*/locked; "
                     r"choose a writable directory", out.stdout), out.stdout  # the folder, not a temporary name
    assert list(locked.iterdir()) == []


def test_a_file_is_never_written_over_a_directory_and_a_directory_never_over_a_file(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "keep.md").write_text("mine")
    with pytest.raises(ConfigError, match=r"reports: is a directory, so the file written there would replace it"):
        with atomic_path(tmp_path / "reports") as tmp:
            tmp.write_text("x")
    assert (tmp_path / "reports" / "keep.md").read_text() == "mine"
    (tmp_path / "cutouts").write_text("a file")
    with pytest.raises(ConfigError, match=r"cutouts: is a file, and this output is a directory; remove the file"):
        with atomic_path(tmp_path / "cutouts") as tmp:
            tmp.mkdir()
            (tmp / "a").write_text("x")
    assert (tmp_path / "cutouts").read_text() == "a file" and _leftovers(tmp_path) == []


def test_write_map_and_write_cutouts_name_a_bad_output_path(tmp_path):
    from astropy.table import Table

    from skysieve.data import read_maps
    from skysieve.data.maps import write_map
    from skysieve.tasks.sz.cutouts import write_cutouts
    from tests.conftest import make_car_wcs

    (tmp_path / "blocker").write_text("")
    wcs = make_car_wcs((16, 16))
    with pytest.raises(ConfigError, match=r"blocker/m\.fits: cannot write this output — .*blocker is a file"):
        write_map(tmp_path / "blocker" / "m.fits", np.zeros((16, 16)), wcs, freq_ghz=90)
    maps = read_maps([write_map(tmp_path / "m.fits", np.ones((16, 16)), wcs, freq_ghz=90)])
    catalog = Table({"x0": [0, 8], "y0": [0, 8], "size_px": [8, 8]})
    with pytest.raises(ConfigError, match=r"blocker/cutouts: cannot write this output — .*blocker is a file"):
        write_cutouts(maps, catalog, tmp_path / "blocker" / "cutouts")
    with pytest.raises(ConfigError, match=r"blocker: is a file, and this output is a directory"):
        write_cutouts(maps, catalog, tmp_path / "blocker")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "m.fits"]
