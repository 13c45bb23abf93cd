"""Fixtures the searches' tests share with the engine's: a registry with an SZ ensemble and a lens classifier
(package-scoped, built once for tests/tasks), the sky-simulation fixtures."""

from tests.catalog.conftest import (  # noqa: F401 - fixtures
    catalog_result,
    lens_model,
    lens_registry,
    loaded_model,
    registry,
    sky_files,
    sky_wcs,
)
from tests.sim.conftest import cosmo, tiny_cfg  # noqa: F401 - fixtures
