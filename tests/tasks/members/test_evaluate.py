"""Members metrics against scikit-learn, thresholds for a target purity, red-sequence offsets, Venn counts."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from skysieve.tasks.members.baselines import ColourMixtureMembers, aperture_magnitudes, photometry_features
from skysieve.tasks.members.evaluate import (
    bootstrap_metrics,
    red_sequence_offset,
    target_purity_threshold,
    venn_counts,
)


@pytest.fixture
def scored():
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.45).astype(int)
    s = np.clip(0.5 + 0.25 * (2 * y - 1) + 0.2 * rng.standard_normal(400), 0, 1)
    return y, s


def test_bootstrap_metrics_match_sklearn_and_bracket_the_estimate(scored):
    y, s = scored
    m = bootstrap_metrics(y, s, threshold=0.5, n_boot=200, seed=1)
    d = s >= 0.5
    assert m["purity"] == pytest.approx(precision_score(y, d))
    assert m["completeness"] == pytest.approx(recall_score(y, d))
    assert m["f1"] == pytest.approx(f1_score(y, d))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    assert m["ae"] == pytest.approx(accuracy_score(y, d))  # eq. A.1 of the paper
    for k in ("purity", "completeness", "f1", "ae", "roc_auc"):
        assert m[f"{k}_lo"] < m[k] < m[f"{k}_hi"]
    assert m["n"] == 400 and m["n_members"] == y.sum()


def test_target_purity_threshold_is_the_most_complete_that_reaches_the_target(scored):
    y, s = scored
    thr, rule = target_purity_threshold(y, s, target=0.9)
    assert rule == "purity>=0.9"
    assert precision_score(y, s >= thr) >= 0.9
    lower = np.max(s[s < thr])
    assert precision_score(y, s >= lower) < 0.9
    y = y.copy()
    y[np.argmax(s)] = 0  # the top-scored source is an interloper: no threshold is 99.99 % pure
    thr, rule = target_purity_threshold(y, s, target=0.9999)
    assert rule == "f1"


def test_a_purity_reached_only_by_the_top_few_falls_back_to_the_f1_best_threshold(scored):
    from sklearn.metrics import f1_score, recall_score

    from skysieve.evaluate import best_f1_threshold

    y, s = scored
    thr, rule = target_purity_threshold(y, s, target=0.9)
    completeness = recall_score(y, s >= thr)
    f1_thr = best_f1_threshold(y, s)[0]
    same, _ = target_purity_threshold(y, s, target=0.9, min_completeness=completeness - 1e-9)
    assert same == thr
    thr, rule = target_purity_threshold(y, s, target=0.9, min_completeness=completeness + 1e-9)
    assert thr == f1_thr and rule == f"f1 (purity>=0.9 only at completeness {completeness:.2f})"
    assert f1_score(y, s >= thr) >= f1_score(y, s >= same)


def test_red_sequence_offset_removes_each_clusters_line():
    rng = np.random.default_rng(0)
    m = rng.uniform(18, 24, 300)
    g = np.repeat(["A", "B"], 150)
    slope, zero = np.where(g == "A", -0.05, -0.03), np.where(g == "A", 2.0, 2.6)
    c = zero + slope * (m - 20) + 0.02 * rng.standard_normal(300)
    y = np.ones(300, int)
    c[:20] -= 0.8  # blue members are clipped from the fit and keep their offset
    off = red_sequence_offset(c, m, y, g)
    assert np.abs(off[20:]).max() < 0.1
    assert np.all(off[:20] < -0.6)


def test_venn_counts_partition_the_sources():
    d = {"cnn": np.array([1, 1, 0, 0, 1], bool), "rf": np.array([1, 0, 1, 0, 1], bool),
         "gmm": np.array([1, 0, 0, 0, 0], bool)}
    rows = venn_counts(d, np.array([1, 1, 0, 0, 1]))
    by = {r["selected_by"]: (r["n"], r["n_members"]) for r in rows}
    assert by["cnn+rf+gmm"] == (1, 1) and by["cnn+rf"] == (1, 1) and by["cnn"] == (1, 1) and by["rf"] == (1, 0)
    assert by["none"] == (1, 0) and sum(n for n, _ in by.values()) == 5


def test_aperture_photometry_of_a_gaussian_matches_the_analytic_enclosed_flux():
    """F(<r) = F (1 − exp(−r²/2σ²)) for a circular Gaussian (photutils exact apertures)."""
    size, sigma, flux = 64, 3.0, 500.0
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    img = flux * np.exp(-(x**2 + y**2) / (2 * sigma**2)) / (2 * np.pi * sigma**2)
    images = np.stack([img, 2 * img], axis=-1)[None]
    mags = aperture_magnitudes(images, np.array([25.0, 25.0]), radii_px=(3.0, 9.0))
    enclosed = flux * (1 - np.exp(-np.array([3.0, 9.0]) ** 2 / (2 * sigma**2)))
    expected = 25.0 - 2.5 * np.log10(enclosed)
    np.testing.assert_allclose(mags[0, 0], expected, atol=0.02)
    np.testing.assert_allclose(mags[0, 1] - mags[0, 0], -2.5 * np.log10(2), atol=0.01)  # twice as bright
    feats = photometry_features(mags, reference=0)
    assert feats.shape == (1, 3)


def test_colour_mixture_separates_two_colour_populations():
    rng = np.random.default_rng(2)
    x1 = rng.normal([1.0, 0.5], 0.1, (200, 2))
    x0 = rng.normal([0.3, 0.0], 0.3, (300, 2))
    x, y = np.vstack([x1, x0]), np.r_[np.ones(200), np.zeros(300)].astype(int)
    groups = np.where(rng.random(500) < 0.5, "A", "B")
    model = ColourMixtureMembers(n_components=2, seed=0).fit(x, y, groups)
    p = model.predict_proba(x, groups)
    assert roc_auc_score(y, p) > 0.95
    assert model.predict_proba(x[:5], np.array(["unseen"] * 5)).shape == (5,)  # global fallback


def test_members_intervals_are_the_engines_unstratified_bootstrap(scored):
    from skysieve.metrics import bootstrap_indices
    from skysieve.metrics import bootstrap_metrics as engine

    y, s = scored
    m = bootstrap_metrics(y, s, threshold=0.5, n_boot=300, seed=4)
    iv = engine(y, scores=s, decisions=s >= 0.5, metrics=("f1", "accuracy", "roc_auc"), n_boot=300, seed=4,
                stratify=False)
    # the member fraction varies between resamples (a stratified bootstrap would hold it fixed)
    idx = bootstrap_indices(y, n_boot=300, seed=4, stratify=False)
    assert np.ptp(y[idx].sum(axis=1)) > 10
    for key, name in (("f1", "f1"), ("ae", "accuracy"), ("roc_auc", "roc_auc")):
        assert (m[key], m[f"{key}_lo"], m[f"{key}_hi"]) == (iv[name].value, iv[name].lo, iv[name].hi)
    members_only = bootstrap_metrics(np.ones(5, int), np.linspace(0, 1, 5), threshold=0.5, n_boot=20, seed=0)
    assert members_only["completeness"] == 0.6 and members_only["ae"] == 0.6 and np.isnan(members_only["roc_auc"])


def test_ae_is_the_papers_eq_a1_as_its_table_d5_prints_it():
    """Angora et al. (2020) Table D.5, CNN on M1149: member purity 82.3 %, completeness 91.3 %, non-member
    completeness 88.3 %, AE 89.4 % — the fraction of all sources right (eq. A.1), not the mean of the two
    completenesses (89.8 %)."""
    n_mem = 1000  # members; the non-members follow from the purity: FP = TP (1 − pur) / pur
    tp = round(0.913 * n_mem)
    fp = round(tp * (1 - 0.823) / 0.823)
    n_non = round(fp / (1 - 0.883))
    y = np.r_[np.ones(n_mem), np.zeros(n_non)].astype(int)
    s = np.r_[np.ones(tp), np.zeros(n_mem - tp), np.ones(fp), np.zeros(n_non - fp)]
    m = bootstrap_metrics(y, s, threshold=0.5, n_boot=20, seed=0)
    assert round(100 * m["purity"], 1) == 82.3 and round(100 * m["completeness"], 1) == 91.3
    assert round(100 * m["ae"], 1) == 89.4


def test_the_cnn_against_each_baseline_is_a_paired_roc_auc_difference(tmp_path):
    """A CNN that ranks better than one baseline and worse than another: ΔAUC matches sklearn, signs and report."""
    from skysieve.tasks.members.evaluate import evaluate_members
    from skysieve.tasks.members.report import write_members_report

    rng = np.random.default_rng(5)
    n = 600
    y = (rng.random(n) < 0.45).astype(int)
    latent = (2 * y - 1) + 0.6 * rng.standard_normal(n)  # what every method sees, so their errors are shared

    def method(noise):
        return 1 / (1 + np.exp(-(latent + noise * rng.standard_normal(n))))

    s = {"cnn": method(0.4), "rf": method(1.5), "gmm": method(0.05)}
    half = n // 2
    scores = {m: {"val": v[:half], "test": v[half:]} for m, v in s.items()}
    ev = evaluate_members({"val": y[:half], "test": y[half:]}, scores, {}, target_purity=0.9, n_boot=400, seed=1,
                          bins={})
    yt = y[half:]
    for m in ("rf", "gmm"):
        d = ev.auc_vs_cnn[m]
        assert d["value"] == pytest.approx(roc_auc_score(yt, s["cnn"][half:]) - roc_auc_score(yt, s[m][half:]),
                                           abs=1e-12)
        assert d["lo"] <= d["value"] <= d["hi"]
    assert ev.auc_vs_cnn["rf"]["lo"] > 0 and ev.auc_vs_cnn["rf"]["fraction_not_above_zero"] < 0.025
    assert ev.auc_vs_cnn["gmm"]["hi"] < 0 and ev.auc_vs_cnn["gmm"]["fraction_not_above_zero"] > 0.975
    # The paired interval is narrower than the two methods' own intervals side by side.
    t = ev.test
    assert ev.auc_vs_cnn["rf"]["hi"] - ev.auc_vs_cnn["rf"]["lo"] < (t["cnn"]["roc_auc_hi"] - t["cnn"]["roc_auc_lo"]
                                                                    + t["rf"]["roc_auc_hi"] - t["rf"]["roc_auc_lo"])
    files = write_members_report(ev, tmp_path, meta={"band_config": "mixed", "target_purity": 0.9})
    table = files.markdown.read_text()
    assert "## Does the CNN rank members better than the baselines?" in table
    assert f"| random forest (aperture photometry) | {100 * ev.auc_vs_cnn['rf']['value']:+.1f} [" in table
    assert files.metrics["auc_cnn_minus"]["gmm"]["value"] < 0
