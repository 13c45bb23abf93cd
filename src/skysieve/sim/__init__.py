"""The simulated millimetre-wave SZ sky: CMB, tSZ, kSZ, radio and IR sources, dust, beams and noise;
and HST-like cutouts of galaxy-scale strong lenses in cluster fields (:mod:`skysieve.sim.lens`).

The public functions of the component modules, re-exported::

    from skysieve.sim import simulate_sky, make_geometry, compute_cmb_spectrum
"""

from skysieve.sim.cmb import cl_from_table, cmb_map, compute_cmb_spectrum
from skysieve.sim.cosmo import NEFF, astropy_cosmology, colossus_cosmology
from skysieve.sim.dust import dust_frequency_scaling, dust_map
from skysieve.sim.halos import HALO_COLUMNS, expected_halo_count, halo_count_density, m500c_to_mvir, sample_halos
from skysieve.sim.instrument import apply_beam, beam_transfer, white_noise
from skysieve.sim.ksz import electron_temperature_kev, ksz_map, tau_over_y
from skysieve.sim.lens import (
    Galaxy,
    LensMass,
    LensSystem,
    LensTask,
    RenderedSystem,
    iter_lens_cutouts,
    lens_truth_columns,
    plan_lens_tasks,
    render_lens_system,
    run_lens_task,
    sample_lens_system,
    simulate_lens_cutouts,
    solve_images,
    tangential_caustic,
    write_lens_simulation,
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
    r500_mpc,
    theta_arcmin,
    tsz_frequency_factor,
    tsz_map,
    y_m_relation,
)

__all__ = [
    "COMPONENT_STREAMS",
    "Galaxy",
    "HALO_COLUMNS",
    "LensMass",
    "LensSystem",
    "LensTask",
    "NEFF",
    "RenderedSystem",
    "SOURCE_POPULATIONS",
    "SimulatedSky",
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
    "dust_map",
    "electron_temperature_kev",
    "empty_source_table",
    "expected_halo_count",
    "expected_source_count",
    "flux_column",
    "halo_count_density",
    "iter_lens_cutouts",
    "ksz_map",
    "lens_truth_columns",
    "m500c_to_mvir",
    "make_geometry",
    "mjy_to_uk",
    "paint_beta_profiles",
    "plan_lens_tasks",
    "poisson_cl",
    "r500_mpc",
    "render_lens_system",
    "run_lens_task",
    "sample_halos",
    "sample_lens_system",
    "sample_sources",
    "simulate_lens_cutouts",
    "simulate_sky",
    "solve_images",
    "source_map",
    "tangential_caustic",
    "tau_over_y",
    "theta_arcmin",
    "tsz_frequency_factor",
    "tsz_map",
    "uk_to_mjy",
    "white_noise",
    "write_lens_simulation",
    "write_sky",
]
