"""What a registered lens classifier must carry so the catalog can check new cutouts against it.

At registration (``skysieve register lens``) the pipeline stores
:func:`lens_catalog_config_from_params` with the version as the document
``lens_catalog_config`` (the artifact ``skysieve/lens_catalog_config.json`` of
the logged model, :func:`lens_catalog_documents`);
:func:`read_lens_catalog_config` reads it back.  It holds what the pixels fed
to the CNN must be: the bands in channel order with their AB zero points,
the pixel scale, the cutout side and the pixel unit.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skysieve.catalog import read_stored_config
from skysieve.errors import ConfigError

__all__ = ["LENS_CATALOG_CONFIG_FORMAT", "LENS_CATALOG_CONFIG_TAG", "LENS_UNIT", "LensBand", "LensCatalogConfig",
           "lens_catalog_config_from_params", "lens_catalog_documents", "read_lens_catalog_config"]

#: Name of the model-version document holding the lens catalog config (and of the JSON tag that held it before).
LENS_CATALOG_CONFIG_TAG = "lens_catalog_config"
#: Format string written into the config.
LENS_CATALOG_CONFIG_FORMAT = "skysieve.lens_catalog_config/1"
#: Pixel unit of the simulated lens cutouts (``skysieve simulate lens``): electrons per second per pixel.
LENS_UNIT = "electron/s"


class LensBand(BaseModel):
    """One band of a lens classifier: its name (the ``FILTER`` keyword) and AB zero point (mag giving 1 e⁻/s)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    zero_point_ab: float


class LensCatalogConfig(BaseModel):
    """The pixels a registered lens classifier takes, as stored with its model version.

    Attributes
    ----------
    bands : tuple of LensBand
        In the CNN's channel order (``cutouts_lens.channels`` of ``simulate_lens.bands``).
    pixel_arcsec : float
        Pixel side, arcsec.
    size_px : int
        Cutout side, pixels.
    unit : str
        Pixel unit (``BUNIT``), an astropy unit string; ``electron/s``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = LENS_CATALOG_CONFIG_FORMAT
    bands: tuple[LensBand, ...] = Field(min_length=1)
    pixel_arcsec: float = Field(gt=0)
    size_px: int = Field(ge=1)
    unit: str = Field(LENS_UNIT, min_length=1)

    @property
    def channels(self) -> tuple[str, ...]:
        """Band names in channel order."""
        return tuple(b.name for b in self.bands)

    @property
    def zero_points_ab(self) -> dict[str, float]:
        """AB zero point per band name."""
        return {b.name: b.zero_point_ab for b in self.bands}

    @property
    def size_arcsec(self) -> float:
        """Cutout side, arcsec."""
        return self.size_px * self.pixel_arcsec

    def cnn_mismatch(self, channels, input_shape) -> str | None:
        """How a CNN's channels and input shape (ny, nx, nchan) disagree with this config; None if they agree."""
        takes = (self.size_px, self.size_px, len(self.bands))
        have = tuple(int(n) for n in input_shape)
        if tuple(str(c) for c in channels) == self.channels and have == takes:
            return None
        return (f"the CNN takes {have} cutouts with channels {list(channels)} but the lens catalog config says "
                f"{takes} with {list(self.channels)}")


def _config(simulate: Any, cutouts: Any) -> LensCatalogConfig:
    by_name = {b.name: b for b in simulate.bands}
    channels = list(cutouts.channels) if cutouts.channels else list(by_name)
    unknown = [c for c in channels if c not in by_name]
    if unknown:
        raise ConfigError(f"cutouts_lens.channels: {unknown} not in simulate_lens.bands {list(by_name)}")
    return LensCatalogConfig(bands=tuple(LensBand(name=c, zero_point_ab=by_name[c].zero_point_ab) for c in channels),
                             pixel_arcsec=simulate.pixel_arcsec, size_px=simulate.size_px)


def lens_catalog_config_from_params(params: Any) -> dict[str, Any]:
    """The lens catalog config of a pipeline, JSON-ready, from its params.

    Parameters
    ----------
    params : Params
        The whole ``params.yaml`` (sections ``simulate_lens`` and ``cutouts_lens``).

    Returns
    -------
    dict
        ``format``, ``bands`` (``name``, ``zero_point_ab``, in channel
        order), ``pixel_arcsec``, ``size_px``, ``unit``; store it with
        :func:`lens_catalog_documents`.

    Raises
    ------
    ConfigError
        If ``cutouts_lens.channels`` names a band ``simulate_lens`` lacks.
    """
    return _config(params.simulate_lens, params.cutouts_lens).model_dump(mode="json")


def lens_catalog_documents(params: Any) -> dict[str, dict[str, Any]]:
    """The documents that carry the lens catalog config: ``{"lens_catalog_config": {...}}``.

    Pass them to :func:`skysieve.registry.register_cnn` (``documents=``).
    """
    return {LENS_CATALOG_CONFIG_TAG: lens_catalog_config_from_params(params)}


def read_lens_catalog_config(documents: Mapping[str, Any], *, where: str,
                             tags: Mapping[str, str] | None = None) -> LensCatalogConfig:
    """The lens catalog config of a model version, from its documents.

    Reads the ``lens_catalog_config`` document; a version stored without it
    but whose ``params`` hold the ``simulate_lens`` and ``cutouts_lens``
    sections (as ``skysieve register lens`` records them) works too, and so
    does a version registered before documents existed, which holds them as
    JSON ``tags``.

    Raises
    ------
    RegistryError
        If neither holds a valid config; the message says how to register one.
    """
    from skysieve.tasks.lens.params import CutoutsLensParams, SimulateLensParams

    return read_stored_config(
        documents, LENS_CATALOG_CONFIG_TAG, LensCatalogConfig, tags=tags, expected_format=LENS_CATALOG_CONFIG_FORMAT,
        what="lens catalog config", where=where,
        fix=("register it with `skysieve register lens` (or register_cnn(..., documents=skysieve.tasks.lens."
             "_catalog_config.lens_catalog_documents(params))) so the catalog knows the bands, pixel scale, cutout "
             "size and unit it takes"),
        sections=("simulate_lens", "cutouts_lens"),
        from_params=lambda payload: _config(SimulateLensParams.model_validate(payload["simulate_lens"]),
                                            CutoutsLensParams.model_validate(payload["cutouts_lens"])))
