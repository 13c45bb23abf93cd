"""A team's MLflow tracking server: ``mlflow server`` on PostgreSQL, and the databases behind it.

``skysieve server start`` runs MLflow's own server (nothing home-made): runs,
params, metrics and the model registry in a PostgreSQL database (the backend
store), artifacts in a directory or an S3-style bucket served through the
server (``--artifacts-destination``), so a client needs only
``MLFLOW_TRACKING_URI=http://host:port`` — no database driver, no bucket
credentials: the server reads those from its own environment
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``; ``MLFLOW_S3_ENDPOINT_URL``
for an S3-compatible store other than AWS). ``ensure_database`` creates a PostgreSQL database that does not
exist yet (the tracking store's, or an Optuna storage's).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from skysieve._urls import safe_url
from skysieve.errors import ConfigError

__all__ = [
    "DEFAULT_ARTIFACTS",
    "DEFAULT_BACKEND",
    "DEFAULT_PORT",
    "MlflowServer",
    "ensure_database",
    "free_port",
    "init_mlflow_store",
    "mlflow_server_command",
    "mlflow_server_env",
    "safe_url",
    "start_mlflow_server",
]

#: Backend store of ``skysieve server start`` when none is given.
DEFAULT_BACKEND = "postgresql://localhost:5432/mlflow"
#: Where the server keeps artifacts when no destination is given (relative to the working directory).
DEFAULT_ARTIFACTS = "mlartifacts"
DEFAULT_PORT = 5000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _is_postgres(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in {"postgresql", "postgres"}


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database ``url`` names if it does not exist.

    Connects to the server's ``postgres`` maintenance database with the same
    user, password, host and port (the user needs ``CREATEDB``). Other URLs
    (``sqlite:///…``: the file is created on first use) are left alone.

    Returns
    -------
    bool
        True if the database was created now.

    Raises
    ------
    ConfigError
        The server cannot be reached or refuses; the message names the URL (password masked).
    """
    if not _is_postgres(url):
        return False
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.database:
        raise ConfigError(f"{safe_url(url)}: names no database; add one, e.g. postgresql://user@host:5432/mlflow")
    options = {"host": parsed.host, "port": parsed.port, "user": parsed.username, "password": parsed.password,
               **{k: v for k, v in parsed.query.items() if isinstance(v, str)}}
    options = {k: v for k, v in options.items() if v is not None}
    try:
        conn = psycopg.connect(dbname="postgres", connect_timeout=10, autocommit=True, **options)
    except psycopg.Error as exc:
        raise ConfigError(f"cannot connect to PostgreSQL at {safe_url(url)} ({str(exc).strip()}); start the server "
                          "or fix host, port, user and password in the URL") from None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,))
            if cur.fetchone():
                return False
            try:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
            except psycopg.errors.DuplicateDatabase:  # created by another process meanwhile
                return False
            except psycopg.Error as exc:
                raise ConfigError(f"cannot create database {parsed.database!r} at {safe_url(url)} "
                                  f"({str(exc).strip()}); create it by hand or grant the user CREATEDB") from None
            return True
    finally:
        conn.close()


def init_mlflow_store(url: str) -> None:
    """Create (or migrate) MLflow's tracking and registry tables in the database ``url`` names.

    ``mlflow server`` does this itself on start; doing it first makes the
    first start quick and lets several processes open a new store at once.
    """
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=url, registry_uri=url)
    client.search_experiments(max_results=1)
    client.search_registered_models(max_results=1)


def mlflow_server_command(*, backend_store_uri: str = DEFAULT_BACKEND, artifacts_destination: str = DEFAULT_ARTIFACTS,
                          host: str = "127.0.0.1", port: int = DEFAULT_PORT, workers: int = 2,
                          registry_store_uri: str | None = None) -> list[str]:
    """The ``mlflow server`` command line for a backend store and a served artifact destination.

    Parameters
    ----------
    backend_store_uri : str
        SQLAlchemy URL of runs and (unless ``registry_store_uri``) the registry.
    artifacts_destination : str
        A local directory (made absolute) or a URI such as ``s3://bucket/path``.
        Clients upload and download through the server (``--serve-artifacts``).
    host, port : str, int
        Where to listen; ``127.0.0.1`` keeps it on this machine, ``0.0.0.0`` opens it to the network.
    workers : int
        Server worker processes.
    registry_store_uri : str, optional

    Returns
    -------
    list of str
    """
    if "://" not in artifacts_destination:
        artifacts_destination = str(Path(artifacts_destination).resolve())
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri,
           "--serve-artifacts", "--artifacts-destination", artifacts_destination,
           "--host", host, "--port", str(port), "--workers", str(workers)]
    if registry_store_uri:
        cmd += ["--registry-store-uri", registry_store_uri]
    return cmd


def mlflow_server_env(*, artifacts_destination: str, s3_endpoint_url: str | None = None) -> dict[str, str]:
    """Environment variables ``mlflow server`` needs, beyond its own, for ``artifacts_destination``.

    Credentials are not among them: the server reads them from the
    environment it inherits (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
    an AWS profile or an instance role), never from the command line.

    Parameters
    ----------
    artifacts_destination : str
        A directory or ``s3://bucket/path``.
    s3_endpoint_url : str, optional
        An S3-compatible endpoint other than AWS (MinIO, Ceph, a loopback test
        server), passed as ``MLFLOW_S3_ENDPOINT_URL``.

    Returns
    -------
    dict of str to str

    Raises
    ------
    ConfigError
        An ``s3://`` destination names no bucket, or ``boto3`` (which MLflow's
        S3 artifact store needs) is not installed.
    """
    env: dict[str, str] = {}
    if artifacts_destination.startswith("s3://"):
        if not artifacts_destination[len("s3://"):].split("/", 1)[0]:
            raise ConfigError(f"--artifacts-destination {safe_url(artifacts_destination)!r} names no bucket; "
                              "write s3://BUCKET/PATH")
        import importlib.util

        if importlib.util.find_spec("boto3") is None:
            raise ConfigError(f"--artifacts-destination {safe_url(artifacts_destination)}: MLflow's S3 artifact "
                              "store needs boto3, which is not installed; `pip install boto3` on the server host")
    if s3_endpoint_url:
        if not s3_endpoint_url.startswith(("http://", "https://")):
            raise ConfigError(f"--s3-endpoint-url {safe_url(s3_endpoint_url)!r} is not an http(s):// URL; "
                              "give the store's address, e.g. https://minio.example.org:9000")
        env["MLFLOW_S3_ENDPOINT_URL"] = s3_endpoint_url
    return env


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class MlflowServer:
    """A running ``mlflow server`` process (its own process group), stopped by :meth:`stop`.

    Attributes
    ----------
    url : str
        The tracking URI clients set (``http://127.0.0.1:5000``).
    process : subprocess.Popen
    log : Path
        The server's stdout and stderr.
    """

    url: str
    process: subprocess.Popen
    log: Path
    command: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 20.0) -> None:
        """Terminate the server and its workers."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def __enter__(self) -> "MlflowServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_mlflow_server(command: list[str], *, log: str | Path, url: str, timeout: float = 120.0,
                        env: dict[str, str] | None = None) -> MlflowServer:
    """Start ``command`` (from :func:`mlflow_server_command`, or ``skysieve server start …``) and wait until it answers.

    Raises
    ------
    ConfigError
        The server exits or does not answer ``/health`` within ``timeout`` seconds (the log's tail is in the message).
    """
    log = Path(log)
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **(env or {})})
    server = MlflowServer(url, process, log, list(command))
    deadline = time.monotonic() + timeout
    while not _healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = log.read_text(errors="replace")[-3000:]
            raise ConfigError(f"MLflow server at {url} did not start (exit {process.returncode}); log {log}:\n{tail}")
        time.sleep(0.5)
    return server
