"""The SZ CNN's inputs (noise-scaled per band and per CMB-free difference) and the DeepSZ paper profile."""

from pathlib import Path

import numpy as np

from skysieve.config import ResNetSmallParams, load_params

ROOT = Path(__file__).resolve().parents[3]


def _sz_cutouts(noise_uk, *, n=8, size=32, seed=0):
    """3-band cutouts in µK_CMB: one CMB gradient shared by every band, a tSZ decrement, white noise per band."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    cmb = 80.0 * np.sin(xx / 9.0 + 0.5) + 40.0 * np.cos(yy / 7.0)  # the same µK in every band
    tsz = np.exp(-(xx**2 + yy**2) / (2 * 3.0**2))[..., None] * np.array([-30.0, -20.0, 0.0])
    noise = rng.normal(0.0, 1.0, (n, size, size, 3)) * np.asarray(noise_uk)
    return (cmb[None, :, :, None] + tsz[None] + noise).astype("float32")


def _corner_std(x):
    return x[:, :5, :5, :].std(axis=(0, 1, 2))  # far from the cluster: noise only (and CMB in the raw bands)


def test_stretch_gives_the_cmb_free_differences_equal_noise_whatever_the_depth():
    from skysieve.nets import preprocess

    shallow = np.array([11.0, 10.0, 26.0])  # µK per pixel: 2.8, 2.6, 6.6 µK-arcmin at 0.25′ pixels
    net = ResNetSmallParams(input_stretch="asinh")
    a = preprocess(_sz_cutouts(shallow), net)
    b = preprocess(_sz_cutouts(3.0 * shallow, seed=1), net)
    assert a.shape[-1] == 5  # 90, 148, 219 GHz, then 90 − 219 and 148 − 219
    ref = np.arcsinh(np.random.default_rng(2).normal(0, 1, 200_000)).std()  # asinh of unit-σ noise
    np.testing.assert_allclose(_corner_std(a)[3:], _corner_std(b)[3:], rtol=0.12)
    np.testing.assert_allclose(_corner_std(a)[3:], ref, rtol=0.15)
    # without the stretch the same differences differ by the depth ratio (the global scaling is one number)
    raw_a = preprocess(_sz_cutouts(shallow), ResNetSmallParams())
    raw_b = preprocess(_sz_cutouts(3.0 * shallow, seed=1), ResNetSmallParams())
    np.testing.assert_allclose(_corner_std(raw_b)[3:] / _corner_std(raw_a)[3:], 3.0, rtol=0.15)


def test_the_stretch_is_saved_with_the_model(tmp_path):
    import keras

    from skysieve.nets import InputSpec, build_net

    net = ResNetSmallParams(input_stretch="asinh", stem_filters=2, width=2, stages=1, dense_units=4)
    model = build_net(net, inputs=InputSpec((32, 32, 3), np.zeros(5), np.ones(5)), seed=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    names = [layer.name for layer in loaded.layers]
    assert "asinh_stretch" in names and "standardize" not in names
    x = _sz_cutouts([11.0, 10.0, 26.0], n=4)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)


def test_paper_profile_sets_deepsz_sizes_and_builds():
    from skysieve.nets import InputSpec, build_net

    text = (ROOT / "params" / "paper_sz.yaml").read_text()
    assert "KERAS_BACKEND" in text and "backend:" not in text  # chosen by the environment, never by a key
    paper = load_params(ROOT / "params" / "paper_sz.yaml")
    t = paper.train_sz
    assert t.imbalance.strategy == "curriculum"
    assert t.imbalance.curriculum_ratios == tuple(float(r) for r in range(1, 21))  # DeepSZ: r = 1 … 20
    assert (t.net.width, t.net.stem_filters, t.net.stages, t.net.expansion) == (64, 64, 3, 4)
    assert (t.optimizer.name, t.optimizer.learning_rate, t.optimizer.weight_decay, t.optimizer.warmup_steps) == (
        "sgd", 0.005, 0.003, 500)
    assert (t.batch_size, t.splitter) == (128, "holdout")
    # Its data volume: thirteen 20° patches, 1 test / 2 validation / 10 training, every negative kept.
    assert (paper.simulate_sz.patch.width_deg, paper.simulate_sz.patches.count) == (20.0, 13)
    assert (paper.cutouts_sz.split.test_patches, paper.cutouts_sz.split.val_patches) == (1, 2)
    assert paper.cutouts_sz.train_negative_fraction == 1.0
    model = build_net(t.net, inputs=InputSpec((32, 32, 3), np.zeros(5), np.ones(5)), seed=0)
    n_params = model.count_params()
    assert 5e6 < n_params < 3e7, n_params  # ResNet-50 stages 2–4 at full width, two dense layers of 256
    default = load_params(ROOT / "params.yaml").train_sz
    assert default.net.width < t.net.width and default.epochs < t.epochs


def test_differences_only_inputs_hold_no_cmb():
    from skysieve.nets import preprocess

    x = _sz_cutouts([11.0, 10.0, 26.0], n=3)
    rng = np.random.default_rng(5)
    other_cmb = x + rng.normal(0, 60.0, (3, 1, 1, 1)) * np.linspace(-1, 1, 32)[None, :, None, None].astype("float32")
    net = ResNetSmallParams(input_stretch="asinh", colour_keep_bands=False)
    a, b = preprocess(x, net), preprocess(other_cmb, net)
    assert a.shape == (3, 32, 32, 2)  # 90 − 219 and 148 − 219 GHz only
    np.testing.assert_allclose(a, b, atol=1e-3)  # a different CMB (the same in every band) changes nothing
    with_bands = preprocess(other_cmb, ResNetSmallParams(input_stretch="asinh"))
    assert with_bands.shape[-1] == 5 and not np.allclose(with_bands[..., :3], preprocess(x, ResNetSmallParams(
        input_stretch="asinh"))[..., :3], atol=1e-2)
