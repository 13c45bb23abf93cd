"""Atomic writes (src/skysieve/_io.py): all or nothing, and concurrent writers of one path never collide."""

import threading
from pathlib import Path

import pytest

from skysieve._io import atomic_path


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
