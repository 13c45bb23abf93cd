"""Small file helpers shared by every stage: atomic writes."""

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path"]

#: Times a directory replace is retried when concurrent writers keep landing in between.
_REPLACE_TRIES = 50


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` on success.

    On any exception the temporary file (or directory) is removed and ``path``
    is left untouched, so a failed stage never leaves a half-written output
    that looks valid.

    The temporary name is unique (``.<name>.<random>.partial``), so several
    writers of the same ``path`` (threads, processes, hosts on a shared
    disk) never write into each other's files: each renames its own complete
    output onto ``path`` and the last one to finish wins.  A directory at
    ``path`` is first renamed aside to a unique name and deleted from there,
    so a concurrent writer never meets a half-deleted directory.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _replace(tmp_path, path)
    except BaseException:
        if tmp_path.is_dir():
            shutil.rmtree(tmp_path, ignore_errors=True)
        else:
            tmp_path.unlink(missing_ok=True)
        raise


def _replace(source: Path, path: Path) -> None:
    """``os.replace(source, path)``, replacing a directory at ``path`` too, whoever else replaces it meanwhile."""
    for attempt in range(_REPLACE_TRIES):
        if path.is_dir() and not path.is_symlink():
            _remove_dir(path)
        try:
            os.replace(source, path)
            return
        except OSError as exc:  # another writer's directory landed between the removal and the rename
            landed = exc.errno in (errno.ENOTEMPTY, errno.EEXIST) or isinstance(exc, IsADirectoryError)
            if not landed or attempt == _REPLACE_TRIES - 1:
                raise


def _remove_dir(path: Path) -> None:
    """Rename directory ``path`` to a unique sibling and delete that (nothing if another writer moved it first)."""
    aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    try:
        os.replace(path, aside)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        pass  # gone already, or a file landed there: the caller's os.replace handles both
    shutil.rmtree(aside, ignore_errors=True)
