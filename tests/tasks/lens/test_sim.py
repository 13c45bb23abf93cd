"""Lens simulation: ring, image positions, caustics, fluxes, images in the cutout, reproducibility, errors."""

import dataclasses

import numpy as np
import pytest
import yaml

from skysieve.config import CosmologyParams, load_params
from skysieve.errors import ConfigError
from skysieve.tasks.lens.params import SimulateLensParams
from skysieve.tasks.lens.sim import (
    Galaxy,
    LensMass,
    LensSystem,
    plan_lens_tasks,
    LensTask,
    render_lens_system,
    run_lens_task,
    sample_lens_system,
    simulate_lens_cutouts,
    solve_images,
    tangential_caustic,
)


@pytest.fixture(scope="module")
def lens_cosmo() -> CosmologyParams:
    return CosmologyParams()


def tiny(**update) -> SimulateLensParams:
    """32-px cutouts, 2× supersampling, few neighbours: fast, still every code path."""
    base = {"n_cutouts": 8, "size_px": 32, "supersampling": 2, "seed": 5,
            "neighbours": {"mean_count": 0.5}}
    return SimulateLensParams.model_validate(base | update)


def zero_points(cfg: SimulateLensParams) -> np.ndarray:
    return np.array([b.zero_point_ab for b in cfg.bands])


def test_sis_source_on_axis_gives_einstein_ring():
    cfg = SimulateLensParams(size_px=64, pixel_arcsec=0.06, supersampling=4, noise=False)
    mass = LensMass(theta_e_arcsec=1.0, q=1.0, pa_rad=0.0)
    source = Galaxy(mags=(22.0, 22.0, 22.0), r_e_arcsec=0.05, n_sersic=1.0, q=1.0, pa_rad=0.0)
    ring = render_lens_system(LensSystem(centrals=(), mass=mass, source=source), cfg).source[2]

    c = (np.arange(64) - 31.5) * 0.06
    x, y = np.meshgrid(c, c)
    r, phi = np.hypot(x, y), np.arctan2(y, x)
    edges = np.arange(0.0, 1.9, 0.06)
    profile = np.array([ring[(r >= a) & (r < b)].mean() for a, b in zip(edges[:-1], edges[1:])])
    peak = 0.5 * (edges[np.argmax(profile)] + edges[np.argmax(profile) + 1])
    assert abs(peak - 1.0) <= 0.06  # the ring sits at θ_E, to a pixel
    on_ring = np.abs(r - 1.0) < 0.06
    sectors = [ring[on_ring & (phi >= a) & (phi < a + np.pi / 4)].mean() for a in np.arange(-np.pi, np.pi, np.pi / 4)]
    assert min(sectors) > 0.8 * max(sectors)  # a full ring, not arcs
    # The critical curve is the circle of radius θ_E and the caustic collapses to the origin.
    cx, cy, sx, sy = tangential_caustic(mass)
    np.testing.assert_allclose(np.hypot(cx, cy), 1.0, rtol=1e-4)
    assert np.abs(np.hypot(sx, sy)).max() < 1e-4


@pytest.mark.parametrize(("size_px", "lo", "hi"), [(None, 0.97, 1.0), (64, 0.0, 0.5)])
def test_the_default_cutout_holds_a_whole_ring_of_theta_e_2p2(size_px, lo, hi):
    # An Einstein ring of θ_E = 2.2″ (a member of F814W ≈ 18.5 with the cluster's κ and γ) fits in the
    # default 4.8″ (80 px) cutout; in 3.84″ (64 px) only the corners hold pieces of it (~35 % of the circle).
    cfg = SimulateLensParams(supersampling=2, noise=False)
    if size_px is not None:
        cfg = cfg.model_copy(update={"size_px": size_px})
    mass = LensMass(theta_e_arcsec=2.2, q=1.0, pa_rad=0.0)
    source = Galaxy(mags=(24.0, 24.0, 24.0), r_e_arcsec=0.05, n_sersic=1.0, q=1.0, pa_rad=0.0)
    rendered = render_lens_system(LensSystem(centrals=(), mass=mass, source=source), cfg)
    total = rendered.magnification * 10 ** (-0.4 * (24.0 - zero_points(cfg)))
    inside = rendered.source.sum(axis=(1, 2)) / total
    assert np.all((inside >= lo) & (inside <= hi)), inside


def test_image_positions_agree_with_lenstronomy_solver(lens_cosmo):
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver

    rng = np.random.default_rng(11)
    model = LensModel(["SIE", "SHEAR", "CONVERGENCE"])
    for _ in range(3):
        system = sample_lens_system(tiny(), lens_cosmo, kind="lens", seed=rng)
        kwargs = system.mass.lenstronomy_kwargs()
        xs, ys = system.source.x_arcsec, system.source.y_arcsec
        ours_x, ours_y, _ = solve_images(system.mass, xs, ys)
        ref_x, ref_y = LensEquationSolver(model).image_position_from_source(
            xs, ys, kwargs, solver="lenstronomy", search_window=8.0, min_distance=0.01, precision_limit=1e-10,
            num_iter_max=200, magnification_limit=1e-2)
        assert ours_x.size == ref_x.size == system.truth["n_images"]
        for x, y in zip(ours_x, ours_y):
            assert np.min(np.hypot(ref_x - x, ref_y - y)) < 1e-4
        bx, by = model.ray_shooting(ours_x, ours_y, kwargs)  # every image maps back onto the source
        np.testing.assert_allclose(bx, xs, atol=1e-6)
        np.testing.assert_allclose(by, ys, atol=1e-6)


def test_critical_curve_matches_lenstronomy_extensions():
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LensModel.lens_model_extensions import LensModelExtensions

    mass = LensMass(theta_e_arcsec=0.8, q=0.6, pa_rad=0.4, kappa_ext=0.2, gamma1=-0.1, gamma2=0.12)
    model = LensModel(["SIE", "SHEAR", "CONVERGENCE"])
    kwargs = mass.lenstronomy_kwargs()
    cx, cy, sx, sy = tangential_caustic(mass, n_angles=180)
    # On the curve the lens mapping is singular: det A = 1 / μ = 0.
    fxx, fxy, fyx, fyy = model.hessian(cx, cy, kwargs)
    assert np.abs((1 - fxx) * (1 - fyy) - fxy * fyx).max() < 1e-4
    # lenstronomy's grid-contour critical curve agrees within its grid spacing.
    grid = 0.01
    crit_x, crit_y, _, _ = LensModelExtensions(model).critical_curve_caustics(kwargs, compute_window=5,
                                                                               grid_scale=grid)
    ref = max(zip(crit_x, crit_y), key=lambda c: np.ptp(c[0]))  # the tangential curve is the largest
    dist = np.min(np.hypot(cx[:, None] - ref[0][None, :], cy[:, None] - ref[1][None, :]), axis=1)
    assert dist.max() < 2 * grid


def test_lens_light_flux_matches_catalog_magnitude(lens_cosmo):
    cfg = tiny(noise=False)
    big = cfg.model_copy(update={"size_px": 256})
    for seed in (1, 2):
        system = sample_lens_system(cfg, lens_cosmo, kind="lens", seed=seed)
        alone = dataclasses.replace(system, neighbours=(), source=None, mass=None)
        flux = render_lens_system(alone, big).scene.sum(axis=(1, 2))
        mags = np.array([system.truth[f"lens_mag_{b.name.lower()}"] for b in cfg.bands])
        np.testing.assert_allclose(flux, 10 ** (-0.4 * (mags - zero_points(cfg))), rtol=0.05)


def test_lensed_flux_is_intrinsic_flux_times_point_source_magnification():
    # SIS, source at β = 0.2″ (two images, at θ_E ± β): μ = |1 + θ_E/β| + |1 − θ_E/β| = 2 θ_E / β = 5.
    cfg = SimulateLensParams(size_px=64, supersampling=8, noise=False)
    mass = LensMass(theta_e_arcsec=0.5, q=1.0, pa_rad=0.0)
    source = Galaxy(mags=(24.0, 23.5, 23.0), r_e_arcsec=0.02, n_sersic=1.0, q=1.0, pa_rad=0.0, x_arcsec=0.2)
    rendered = render_lens_system(LensSystem(centrals=(), mass=mass, source=source), cfg)
    _, _, mu = solve_images(mass, 0.2, 0.0)
    assert mu.size == 2
    assert rendered.magnification == pytest.approx(np.abs(mu).sum(), rel=0.05)
    assert rendered.magnification == pytest.approx(5.0, rel=0.05)
    intrinsic = 10 ** (-0.4 * (np.array(source.mags) - zero_points(cfg)))
    np.testing.assert_allclose(rendered.source.sum(axis=(1, 2)), intrinsic * 5.0, rtol=0.05)


@pytest.fixture(scope="module")
def tiny_run(lens_cosmo):
    """Twelve noise-free cutouts; every plain-member negative is a twin of a lens."""
    cfg = tiny(n_cutouts=12, noise=False, negatives={"member": 1.0, "blue_neighbour": 0.0, "spiral": 0.0,
                                                       "edge_on": 0.0, "twin_fraction": 1.0,
                                                       "twin_min_arc_snr": 0.0})
    images, truth = simulate_lens_cutouts(cfg, lens_cosmo, seed=cfg.seed)
    return cfg, images, truth


def test_catalog_arc_magnitudes_match_injected_source_flux(tiny_run):
    cfg, images, truth = tiny_run
    twins = np.flatnonzero(np.asarray(truth["kind"]) == "twin")
    assert twins.size >= 1
    for t in twins:
        lens = t - 1  # a twin follows its lens
        assert truth["group"][lens] == truth["group"][t] and truth["label"][lens] == 1
        injected = (images[lens].astype(float) - images[t]).sum(axis=(0, 1))
        arc = np.array([truth[f"arc_mag_{b.name.lower()}"][lens] for b in cfg.bands])
        np.testing.assert_allclose(injected, 10 ** (-0.4 * (arc - zero_points(cfg))), rtol=0.05)
        for col in ("lens_mag_f814w", "lens_colour", "ra", "dec"):
            assert truth[col][t] == truth[col][lens]


def test_every_positive_has_a_lensed_image_in_the_cutout(tiny_run):
    cfg, images, truth = tiny_run
    half = cfg.size_px * cfg.pixel_arcsec / 2
    pos = np.asarray(truth["label"]) == 1
    assert pos.sum() >= 6
    assert np.all(np.asarray(truth["n_images_in_cutout"])[pos] >= 1)
    ix, iy = np.asarray(truth["image_x_arcsec"])[pos], np.asarray(truth["image_y_arcsec"])[pos]
    inside = (np.abs(ix) < half) & (np.abs(iy) < half)  # NaN padding compares False
    assert np.all(inside.sum(axis=1) == np.asarray(truth["n_images_in_cutout"])[pos])
    assert np.all(np.asarray(truth["arc_mag_f814w"])[pos] < 99)
    te = np.asarray(truth["theta_e_arcsec"])[pos]
    lo, hi = cfg.members.theta_e_range_arcsec
    assert np.all((te > lo) & (te < hi))
    assert np.all(np.asarray(truth["src_z"])[pos] >= np.asarray(truth["z_lens"])[pos] + cfg.sources.dz_min)
    assert np.all(np.asarray(truth["src_mag_f814w"])[pos] <= 29.0)
    assert np.all(np.isnan(np.asarray(truth["theta_e_arcsec"])[~pos]))


def test_plan_ratio_kinds_and_twins():
    cfg = SimulateLensParams(n_cutouts=300)
    tasks = plan_lens_tasks(cfg, seed=1)
    assert sum(t.n_cutouts for t in tasks) == 300
    n_pos = sum(t.kind == "lens" for t in tasks)
    assert n_pos == 200  # positive:negative = 2:1
    kinds = [t.kind for t in tasks]
    assert {"member", "blue_neighbour", "spiral", "edge_on"} <= set(kinds)
    n_member = kinds.count("member") + sum(t.twin for t in tasks)
    assert sum(t.twin for t in tasks) == round(0.5 * n_member)
    assert len({t.index for t in tasks}) == len(tasks)


def test_same_seed_same_cutouts_whatever_the_workers(lens_cosmo):
    cfg = tiny(n_cutouts=4)
    a_img, a_truth = simulate_lens_cutouts(cfg, lens_cosmo, seed=9)
    b_img, b_truth = simulate_lens_cutouts(cfg, lens_cosmo, seed=9, workers=2)
    np.testing.assert_array_equal(a_img, b_img)
    for col in a_truth.colnames:
        np.testing.assert_array_equal(np.asarray(a_truth[col]), np.asarray(b_truth[col]))
    c_img, _ = simulate_lens_cutouts(cfg, lens_cosmo, seed=10)
    assert not np.array_equal(a_img, c_img)


def test_hard_negatives_render(lens_cosmo):
    cfg = tiny()
    for kind in ("blue_neighbour", "spiral", "edge_on"):
        system = sample_lens_system(cfg, lens_cosmo, kind=kind, seed=3)
        assert system.source is None and system.truth["kind"] == kind
        scene = render_lens_system(system, cfg).scene
        assert scene.shape == (3, 32, 32) and np.all(np.isfinite(scene)) and scene.sum() > 0


def test_high_redshift_sources_drop_out_of_blue_bands():
    from skysieve.tasks.lens._population import sed_magnitudes

    cfg = SimulateLensParams()
    sed = cfg.sources.sed.model_copy(update={"slope_scatter": 0.0})
    rng = np.random.default_rng(0)
    low = sed_magnitudes(rng, 25.0, 1.0, cfg.bands, 2, sed)
    high = sed_magnitudes(rng, 25.0, 5.5, cfg.bands, 2, sed)
    assert low[2] == 25.0 and abs(low[0] - 25.0) < 1.0  # blue star-forming colours
    assert high[0] == 99.0  # F435W lies below the Lyman limit at z = 5.5
    red = sed_magnitudes(rng, 20.0, 0.4, cfg.bands, 2, cfg.members.sed.model_copy(update={"slope_scatter": 0.0}))
    assert 0.6 < red[1] - red[2] < 1.2  # red-sequence F606W − F814W at z = 0.4


@pytest.mark.parametrize(("section", "match"), [
    ({"negatives": {"member": 0.9}}, r"simulate_lens.negatives: member \+ blue_neighbour \+ spiral \+ edge_on "
                                     r"must sum to 1"),
    ({"reference_band": "F160W"}, r"reference_band 'F160W' is not one of the bands"),
    ({"members": {"theta_e_range_arcsec": [3.5, 0.2]}}, r"simulate_lens.members: theta_e_range_arcsec must be"),
    ({"sources": {"z0": [0.3, 0.04]}}, r"z0 and z_forms need one entry per magnitude bin"),
    ({"size_px": 4}, r"simulate_lens.size_px: .*greater than or equal to 8.*\(got 4\)"),
    ({"negatives": {"edge_on_discs": {"bulge_fraction_range": [0.2, 1.0]}}},
     r"bulge_fraction_range must lie in \[0, 1\)"),
    ({"negatives": {"twin_min_arc_snr": -1}}, r"twin_min_arc_snr.*greater than or equal to 0"),
])
def test_bad_params_name_key_and_value(tmp_path, section, match):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"simulate_lens": section}))
    with pytest.raises(ConfigError, match=match):
        load_params(path)


def test_impossible_lens_configuration_says_what_to_change(lens_cosmo):
    cfg = tiny(size_px=8, max_attempts=3, source_position_tries=2,
               members={"theta_e_range_arcsec": (3.0, 3.5)})
    with pytest.raises(ConfigError, match=r"no lens with an image inside the 8-px cutout .* widen the cutout"):
        sample_lens_system(cfg, lens_cosmo, kind="lens", seed=0)


def _one_task(cfg, cosmo, kind, *, twin=False, seed=4):
    return run_lens_task(LensTask(index=0, kind=kind, twin=twin, seed=np.random.SeedSequence(seed)), cfg, cosmo)


def test_invisible_arc_gets_a_plain_member_not_a_twin(lens_cosmo):
    """Below twin_min_arc_snr the twin would be the lens up to noise: a fresh member takes its place."""
    for floor, kind in ((0.0, "twin"), (1e9, "member")):
        cfg = tiny(negatives={"twin_min_arc_snr": floor})
        (_, lens), (_, other) = _one_task(cfg, lens_cosmo, "lens", twin=True)
        assert lens["label"] == 1 and other["label"] == 0 and other["kind"] == kind and other["group"] == 0
        same_scene = other["lens_mag_f814w"] == lens["lens_mag_f814w"]
        assert same_scene == (kind == "twin")


def test_edge_on_spiral_is_a_straight_disc_with_a_red_bulge(lens_cosmo):
    cfg = tiny()
    p = cfg.negatives.edge_on_discs
    for seed in range(5):
        system = sample_lens_system(cfg, lens_cosmo, kind="edge_on", seed=seed)
        disc, bulge = system.features
        assert abs(disc.bend_per_arcsec) <= p.bend_per_arcsec_range[1]
        assert (bulge.x_arcsec, bulge.y_arcsec) == (disc.x_arcsec, disc.y_arcsec) and bulge.n_sersic == 4.0
        b, r = cfg.band_index("F435W"), cfg.band_index("F814W")
        assert bulge.mags[b] - bulge.mags[r] > disc.mags[b] - disc.mags[r]  # bulge redder than its disc
        assert system.truth["n_neighbours"] >= 2


@pytest.mark.parametrize("min_snr", [0.0, 400.0])
def test_edge_on_spiral_is_brightened_to_min_snr(lens_cosmo, min_snr):
    cfg = tiny(negatives={"edge_on_discs": {"min_snr": min_snr}})
    ((image, truth),) = _one_task(cfg, lens_cosmo, "edge_on")
    natural = _one_task(tiny(negatives={"edge_on_discs": {"min_snr": 0.0}}), lens_cosmo, "edge_on")[0][1]
    assert natural["feature_snr"] < 400.0  # the tiny default disc is fainter than the floor tested
    expected = max(natural["feature_snr"], min_snr)
    assert truth["feature_snr"] == pytest.approx(expected, rel=0.02)
    assert image.shape == (32, 32, 3)


def test_feature_snr_in_the_catalog_only_for_look_alikes(lens_cosmo):
    cfg = tiny(n_cutouts=12, negatives={"member": 0.25, "blue_neighbour": 0.25, "spiral": 0.25, "edge_on": 0.25})
    _, truth = simulate_lens_cutouts(cfg, lens_cosmo, seed=cfg.seed)
    kinds, snr = np.asarray(truth["kind"]), np.asarray(truth["feature_snr"])
    look_alike = np.isin(kinds, ["blue_neighbour", "edge_on"])
    assert look_alike.any() and np.all(snr[look_alike] > 0) and np.all(np.isnan(snr[~look_alike]))


def test_faint_sources_shrink_as_shibuya_size_luminosity(lens_cosmo):
    """r_e ∝ L^0.27 below the pivot (Shibuya et al. 2015), the paper's size–z relation at and above it."""
    from skysieve.tasks.lens._population import distances, source_re_kpc

    dist = distances(lens_cosmo)
    src = SimulateLensParams().sources.model_copy(update={"re_scatter_kpc": 0.0})
    z = 2.0
    paper = src.re_b_kpc * (1 + z) ** src.re_beta
    m_pivot = src.re_pivot_abs_mag + float(dist.distance_modulus(z)) - 2.5 * np.log10(1 + z)
    rng = np.random.default_rng(0)
    assert source_re_kpc(rng, z, src, mag=m_pivot - 1.0, dist=dist) == pytest.approx(paper)  # brighter: unchanged
    assert source_re_kpc(rng, z, src, mag=m_pivot + 2.5, dist=dist) == pytest.approx(paper * 10 ** (-0.27))
    off = src.model_copy(update={"re_luminosity_slope": 0.0})
    assert source_re_kpc(rng, z, off, mag=m_pivot + 2.5, dist=dist) == pytest.approx(paper)
