"""A real S3 endpoint on loopback for the remote-storage tests: moto's server on a free port of 127.0.0.1.

``s3_endpoint`` starts the server once per module (well under a second) and
stops it at the end; ``s3_bucket`` gives the module a new bucket and puts its
credentials in the environment only (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, a random secret per test), with every other AWS
source of configuration switched off, so a test can assert that the secret
reached no file and no log. Import both fixtures into the test module.
"""

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["S3Bucket", "files_holding", "s3_bucket", "s3_endpoint"]

#: AWS settings from outside the test that could change what the clients do.
_FOREIGN_AWS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION",
                "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "MLFLOW_S3_ENDPOINT_URL")


@dataclass(frozen=True)
class S3Bucket:
    """A bucket on the loopback endpoint, and the credentials (from the environment) that open it.

    Attributes
    ----------
    endpoint : str
        ``http://127.0.0.1:PORT``.
    name : str
        The bucket.
    key_id, secret : str
        What ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` hold.
    """

    endpoint: str
    name: str
    key_id: str
    secret: str

    def url(self, path: str = "") -> str:
        """``s3://<bucket>/<path>``."""
        return f"s3://{self.name}/{path}".rstrip("/")

    def object_keys(self, prefix: str = "") -> list[str]:
        """Every object key under ``prefix``, read back with boto3 through the endpoint."""
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint)
        keys = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
        return keys


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server on a free loopback port, stopped when the module's tests are done."""
    from moto.server import ThreadedMotoServer

    from skysieve._server import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_bucket(s3_endpoint, tmp_path_factory) -> Iterator[S3Bucket]:
    """A new bucket for the module; its credentials in the environment only (this process and its children).

    Module-scoped, so a server started once for the module (``mlflow server``) reads them too;
    the environment is put back when the module's tests are done.
    """
    import boto3

    nowhere = tmp_path_factory.mktemp("no-aws-config")
    bucket = S3Bucket(endpoint=s3_endpoint, name=f"skysieve-{secrets.token_hex(4)}",
                      key_id=f"AKIA{secrets.token_hex(8).upper()}", secret=f"S3SECRET{secrets.token_hex(16)}")
    with pytest.MonkeyPatch.context() as env:
        for name in _FOREIGN_AWS:
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", str(nowhere / "config"))  # no ~/.aws: the environment only
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere / "credentials"))
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_ACCESS_KEY_ID", bucket.key_id)
        env.setenv("AWS_SECRET_ACCESS_KEY", bucket.secret)
        boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket.name)
        yield bucket


def files_holding(secret: str, *roots: Path) -> list[Path]:
    """Every file under ``roots`` (``.git``, DVC caches and databases included) whose bytes contain ``secret``."""
    needle = secret.encode()
    return [path for root in roots for path in Path(root).rglob("*")
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes()]
