"""What a registered members model expects of new cutouts: bands, pixel scale, size, unit, zero points."""

__all__ = ["CATALOG_CONFIG_DOCUMENT", "members_catalog_config"]

#: The document stored with every registered members model version.
CATALOG_CONFIG_DOCUMENT = "members_catalog_config"


def members_catalog_config(params) -> dict:
    """The catalog config from the params a model was trained with (``simulate_members``, ``cutouts_members``)."""
    sim, cut = params.simulate_members, params.cutouts_members
    zps = {b.name: b.zero_point_ab for b in sim.bands}
    return {"band_config": cut.band_config, "bands": list(cut.channels), "pixel_scale_arcsec": sim.pixel_scale_arcsec,
            "size_px": sim.size_px, "unit": "electron/s", "zero_points_ab": [zps[b] for b in cut.channels]}
