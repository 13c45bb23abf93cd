"""A PostgreSQL server for the team-scale tests, and fresh databases on it.

The server is the one ``$SKYSIEVE_TEST_POSTGRES_URL`` names (``.ci/run``
starts a throw-away cluster on the loopback interface and sets it); tests
that need it are marked ``postgres`` and skip, saying why, when it is not
there.
"""

import os
import uuid

import pytest

from tests.train.conftest import tiny_cutouts  # noqa: F401

POSTGRES_ENV = "SKYSIEVE_TEST_POSTGRES_URL"


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a reachable PostgreSQL server whose user may create databases; skips the test otherwise."""
    from skysieve._server import safe_url

    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"no PostgreSQL server: ${POSTGRES_ENV} is not set (`bash .ci/run` starts a throw-away one, "
                    f"or export {POSTGRES_ENV}=postgresql://user@127.0.0.1:5432/postgres)")
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL at {safe_url(url)} (${POSTGRES_ENV}) is not reachable: {str(exc).strip()}")
    return url


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
