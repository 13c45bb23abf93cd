"""The millimetre-wave sky library: CMB, tSZ, kSZ, radio and IR sources, dust, beams and noise, and cosmology.

The public functions of the component modules, re-exported::

    from skysieve.sim import simulate_sky, make_geometry, compute_cmb_spectrum
"""

from skysieve.sim.cluster_sources import expected_cluster_source_counts, sample_cluster_sources, with_cluster_sources
from skysieve.sim.cmb import cl_from_table, cmb_map, compute_cmb_spectrum
from skysieve.sim.cosmo import NEFF, astropy_cosmology, colossus_cosmology
from skysieve.sim.dust import dust_frequency_scaling, dust_map
from skysieve.sim.gnfw import (
    draw_ellipticities,
    gnfw_pressure,
    gnfw_projected,
    gnfw_volume_integral,
    paint_gnfw_profiles,
)
from skysieve.sim.halos import (
    HALO_COLUMNS,
    expected_halo_count,
    halo_count_density,
    m500c_to_mvir,
    mean_compton_y,
    sample_halos,
)
from skysieve.sim.instrument import apply_beam, beam_transfer, white_noise
from skysieve.sim.ksz import electron_temperature_kev, ksz_map, tau_over_y
from skysieve.sim.patches import (
    SkyPatch,
    patch_layout,
    patch_name,
    patch_seed,
    read_patch_dirs,
    simulate_patches,
)
from skysieve.sim.sky import COMPONENT_STREAMS, SimulatedSky, make_geometry, simulate_sky, write_sky
from skysieve.sim.sources import (
    SOURCE_POPULATIONS,
    empty_source_table,
    expected_source_count,
    flux_column,
    mjy_to_uk,
    poisson_cl,
    sample_sources,
    source_map,
    uk_to_mjy,
)
from skysieve.sim.tsz import (
    beta_profile,
    beta_profile_area,
    paint_beta_profiles,
    paint_halo_signal,
    r500_mpc,
    theta_arcmin,
    tsz_frequency_factor,
    tsz_map,
    y_m_relation,
)

__all__ = [
    "COMPONENT_STREAMS",
    "HALO_COLUMNS",
    "NEFF",
    "SOURCE_POPULATIONS",
    "SimulatedSky",
    "SkyPatch",
    "apply_beam",
    "astropy_cosmology",
    "beam_transfer",
    "beta_profile",
    "beta_profile_area",
    "cl_from_table",
    "cmb_map",
    "colossus_cosmology",
    "compute_cmb_spectrum",
    "dust_frequency_scaling",
    "draw_ellipticities",
    "dust_map",
    "electron_temperature_kev",
    "empty_source_table",
    "expected_cluster_source_counts",
    "expected_halo_count",
    "expected_source_count",
    "flux_column",
    "gnfw_pressure",
    "gnfw_projected",
    "gnfw_volume_integral",
    "halo_count_density",
    "ksz_map",
    "m500c_to_mvir",
    "make_geometry",
    "mean_compton_y",
    "mjy_to_uk",
    "paint_beta_profiles",
    "paint_gnfw_profiles",
    "paint_halo_signal",
    "patch_layout",
    "patch_name",
    "patch_seed",
    "poisson_cl",
    "r500_mpc",
    "read_patch_dirs",
    "sample_cluster_sources",
    "sample_halos",
    "sample_sources",
    "simulate_patches",
    "simulate_sky",
    "source_map",
    "tau_over_y",
    "theta_arcmin",
    "tsz_frequency_factor",
    "tsz_map",
    "uk_to_mjy",
    "white_noise",
    "with_cluster_sources",
    "write_sky",
    "y_m_relation",
]
