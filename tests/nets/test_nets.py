"""The architectures: output shapes, overfitting a tiny batch, save/load, the registry, backends."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from skysieve.config import CentreNetParams, ResNetSmallParams, ScVggParams, VggParams
from skysieve.errors import ConfigError

TINY = {
    "resnet_small": ResNetSmallParams(stem_filters=4, width=2, stages=2, dense_units=16, colour_difference=False),
    "vgg": VggParams(filters=4, blocks=2, convs_per_block=1, dense_units=16, dropout=0.0),
    "sc_vgg": ScVggParams(filters=4, blocks=2, convs_per_block=1, dense_units=16, dropout=0.0),
}
#: Nets that learn dense targets (maps, ``skysieve.data.targets``), not one probability per cutout.
DENSE_TINY = {
    "centre_net": CentreNetParams(filters=4, max_filters=8, levels=2, context_convs=1, head_filters=4),
}


def _spec(shape=(16, 16, 3)):
    from skysieve.nets import InputSpec

    return InputSpec(shape, np.zeros(shape[-1]), np.full(shape[-1], 400.0))


def test_registry_lists_the_builtin_architectures():
    from skysieve.nets import available_nets

    assert set(available_nets()) >= {"resnet_small", "vgg", "sc_vgg"}


def test_unknown_architecture_names_the_known_ones():
    from skysieve.nets import get_net

    with pytest.raises(ConfigError, match=r"net.name: unknown architecture 'alexnet'; registered: .*resnet_small"):
        get_net("alexnet")


def test_a_name_cannot_be_registered_twice():
    from skysieve.nets import build_vgg, register_net

    with pytest.raises(ValueError, match="already registered"):
        register_net("vgg")(lambda cfg, **kw: None)
    assert register_net("vgg")(build_vgg) is build_vgg  # re-registering the same builder is harmless


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("shape", [(16, 16, 3), (32, 32, 3)])
def test_output_is_one_probability_per_cutout(name, shape):
    from skysieve.nets import build_net

    model = build_net(TINY[name], inputs=_spec(shape), seed=0)
    x = np.random.default_rng(0).normal(0, 100, (5, *shape)).astype("float32")
    p = np.asarray(model.predict_on_batch(x))
    assert p.shape == (5, 1)
    assert np.all((p > 0) & (p < 1))


@pytest.mark.parametrize("name", sorted(TINY))
def test_each_model_overfits_a_tiny_batch(name):
    import keras

    from skysieve.nets import build_net
    from skysieve.train import set_seeds

    set_seeds(0)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 20, (16, 16, 16, 3)).astype("float32")
    y = np.tile([0.0, 1.0], 8).astype("float32")[:, None]
    model = build_net(TINY[name], inputs=_spec(), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=40, verbose=0)
    assert history.history["loss"][-1] < 0.15, history.history["loss"][-5:]
    # Training mode: batch-norm statistics of the batch itself (its moving averages lag after 40 steps).
    assert np.array_equal(np.asarray(model(x, training=True)) > 0.5, y > 0.5)


def test_sc_vgg_averages_one_tower_per_band(tmp_path):
    import keras

    from skysieve.nets import ChannelSlice, build_net

    model = build_net(TINY["sc_vgg"], inputs=_spec(), seed=0)
    slices = [layer for layer in model.layers if isinstance(layer, ChannelSlice)]
    assert [s.index for s in slices] == [0, 1, 2]
    x = np.random.default_rng(1).normal(0, 50, (4, 16, 16, 3)).astype("float32")
    towers = keras.Model(model.input, [model.get_layer(f"band{c}_proba").output for c in range(3)])
    mean = np.mean([np.asarray(t) for t in towers.predict_on_batch(x)], axis=0)
    np.testing.assert_allclose(np.asarray(model.predict_on_batch(x)), mean, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(TINY))
def test_models_load_back_from_keras_files(tmp_path, name):
    import keras

    from skysieve.nets import build_net

    model = build_net(TINY[name], inputs=_spec(), seed=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(2).normal(0, 50, (3, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded.predict_on_batch(x)), np.asarray(model.predict_on_batch(x)),
                               rtol=1e-6)


def _train_save_reload_every_net(folder: str, *, backend: str) -> None:
    """Build every registered net, train it one step, save it to ``folder/<name>.keras`` and reload it.

    Runs in a child process started with ``KERAS_BACKEND=backend``; also writes the
    batch and the predictions to ``folder/<name>.npz`` for the parent to compare across backends.
    """
    import keras

    from skysieve.nets import available_nets, build_net

    assert keras.config.backend() == backend, f"Keras runs on {keras.config.backend()!r}, not {backend!r}"
    from skysieve.nets import get_loss

    tiny = {**TINY, **DENSE_TINY}
    missing = sorted(set(available_nets()) - set(tiny))
    assert not missing, f"tests/nets/test_nets.py: TINY / DENSE_TINY have no tiny config for {missing}"
    rng = np.random.default_rng(0)
    x = rng.normal(0, 50, (8, 16, 16, 3)).astype("float32")
    for name in available_nets():
        model = build_net(tiny[name], inputs=_spec(), seed=0)
        if name in DENSE_TINY:  # a centre heatmap with one object per image, learned with its registered loss
            y = np.zeros((8, *model.output_shape[1:]), "float32")
            y[:, 1, 2, 0], y[:, 1, 2, 1:] = 1.0, 0.5
            model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=get_loss("centre_heatmap"))
        else:
            y = np.tile([0.0, 1.0], 4).astype("float32")[:, None]
            model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
        before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        assert any(not np.array_equal(b, a) for b, a in zip(before, after)), f"{name}: one step changed no weight"
        model.save(f"{folder}/{name}.keras")
        loaded = keras.saving.load_model(f"{folder}/{name}.keras")
        p = keras.ops.convert_to_numpy(model.predict_on_batch(x))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.predict_on_batch(x)), p, rtol=1e-6,
                                   err_msg=f"{name}: reloaded model predicts differently")
        np.savez(f"{folder}/{name}.npz", x=x, p=p)


def test_models_train_save_and_reload_on_jax(tmp_path):
    """The nets are backend-agnostic: each trains a step, saves and reloads on JAX, and loads back here (TF)."""
    import keras

    from skysieve.nets import available_nets

    if importlib.util.find_spec("jax") is None:
        pytest.fail("jax is not installed, so the nets are never tried on a second Keras backend: run `make install` "
                    "(requirements.lock pins jax and jaxlib for this test)", pytrace=False)
    # the nets a fresh process knows (this one may also hold nets that searches register on import)
    code = (f"from tests.nets.test_nets import _train_save_reload_every_net as f; f({str(tmp_path)!r}, backend='jax'); "
            "from skysieve.nets import available_nets; print('NETS', *available_nets())")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    nets = next(line.split()[1:] for line in out.stdout.splitlines() if line.startswith("NETS "))
    assert {"vgg", "sc_vgg", "resnet_small"} <= set(nets) <= set(available_nets())
    assert sorted(p.stem for p in tmp_path.glob("*.keras")) == sorted(nets)
    for name in nets:  # a model trained on JAX serves on TensorFlow
        on_jax = np.load(tmp_path / f"{name}.npz")
        loaded = keras.saving.load_model(tmp_path / f"{name}.keras")
        np.testing.assert_allclose(np.asarray(loaded.predict_on_batch(on_jax["x"])), on_jax["p"], rtol=1e-5,
                                   atol=1e-6, err_msg=name)


def test_cutout_centering_removes_each_cutouts_channel_mean():
    import keras

    from skysieve.nets import CutoutCentering

    x = np.random.default_rng(0).normal(size=(3, 8, 8, 2)).astype("float32") + np.array([100.0, -50.0], "float32")
    out = keras.ops.convert_to_numpy(CutoutCentering()(x))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out, x - x.mean(axis=(1, 2), keepdims=True), atol=1e-4)


def _sersic_like(shape=(32, 32), r_e=3.0):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = np.hypot(yy - (shape[0] - 1) / 2, xx - (shape[1] - 1) / 2)
    return np.exp(-7.67 * ((r / r_e) ** 0.25 - 1.0))  # de Vaucouleurs profile, arbitrary normalisation


def test_colour_difference_cancels_a_lens_without_colour_gradient_and_keeps_a_blue_arc():
    import keras

    from skysieve.nets import ColourDifference

    galaxy = _sersic_like()
    sed = np.array([0.2, 0.5, 1.0])  # F435W, F606W, F814W fluxes of a red early-type
    arc = np.zeros_like(galaxy)
    arc[16, 22:26] = 1.0  # a blue arc 6 px from the centre, outside the 3 px aperture
    arc_sed = np.array([1.0, 0.9, 0.8])
    x = (galaxy[..., None] * sed + arc[..., None] * arc_sed)[None].astype("float32")
    out = keras.ops.convert_to_numpy(ColourDifference(reference=-1, radius_px=3.0)(x))
    assert out.shape == (1, 32, 32, 5)
    np.testing.assert_allclose(out[..., :3], x, rtol=1e-6)  # the bands pass through
    # D_b = I_b − (sed_b / sed_ref) I_ref: the galaxy vanishes, the arc stays with weight arc_b − k_b arc_ref.
    for j, b in enumerate((0, 1)):
        k = sed[b] / sed[2]
        np.testing.assert_allclose(out[0, ..., 3 + j], arc * (arc_sed[b] - k * arc_sed[2]), atol=1e-5 * galaxy.max())
    # The same galaxy alone leaves nothing but rounding.
    alone = keras.ops.convert_to_numpy(ColourDifference()((galaxy[..., None] * sed)[None].astype("float32")))
    assert np.abs(alone[..., 3:]).max() < 1e-5 * galaxy.max()


def test_colour_difference_clips_the_ratio_and_leaves_bands_without_central_light():
    import keras

    from skysieve.nets import ColourDifference

    x = np.zeros((3, 16, 16, 2), "float32")
    x[..., 0] = 1.0  # blue light everywhere
    x[0, ..., 1] = 1e-3  # a faint reference: k = 1000 is clipped to k_max
    x[1, ..., 1] = -0.5  # negative reference light in the aperture (noise after centring): k = 0
    out = keras.ops.convert_to_numpy(ColourDifference(k_max=10.0)(x))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0, ..., 2], 1.0 - 10.0 * 1e-3, rtol=1e-6)
    np.testing.assert_allclose(out[1, ..., 2], 1.0)
    np.testing.assert_allclose(out[2, ..., 2], 1.0)  # no reference light at all
    one = np.ones((2, 8, 8, 1), "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ColourDifference()(one)), one)  # one band passes


def test_sc_vgg_gives_each_colour_difference_a_tower_and_loads_back(tmp_path):
    import keras

    from skysieve.nets import ChannelSlice, build_net, preprocess

    cfg = TINY["sc_vgg"].model_copy(update={"colour_difference": True, "colour_aperture_px": 2.0})
    x = np.random.default_rng(3).normal(0, 5, (4, 16, 16, 3)).astype("float32") + 20 * _sersic_like((16, 16))[
        None, ..., None].astype("float32")
    pre = preprocess(x, cfg)
    assert pre.shape == (4, 16, 16, 5)
    from skysieve.nets import InputSpec

    spec = InputSpec((16, 16, 3), pre.mean(axis=(0, 1, 2)), pre.var(axis=(0, 1, 2)))
    model = build_net(cfg, inputs=spec, seed=0)
    assert [s.index for s in model.layers if isinstance(s, ChannelSlice)] == [0, 1, 2, 3, 4]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded.predict_on_batch(x)), np.asarray(model.predict_on_batch(x)),
                               rtol=1e-6)


def test_unit_ratio_cancels_the_cmb_and_keeps_the_tsz_decrement():
    import keras

    from skysieve.nets import ColourDifference

    rng = np.random.default_rng(4)
    cmb = rng.normal(0, 100, (16, 16))  # µK_CMB: the same in every band
    profile = np.exp(-np.hypot(*np.mgrid[-8:8, -8:8]) ** 2 / 8.0)
    tsz = np.array([-1.5, -1.0, 0.0])  # ΔT/(y·T_CMB)-like ratios at 90, 148, 219 GHz (×y·T_CMB)
    x = (cmb[..., None] + 30.0 * profile[..., None] * tsz)[None].astype("float32")
    out = keras.ops.convert_to_numpy(ColourDifference(reference=-1, ratio="unit")(x))
    assert out.shape == (1, 16, 16, 5)
    for j in (0, 1):  # 90 − 219 and 148 − 219: no CMB left, the decrement (tsz_b − tsz_219) · profile
        np.testing.assert_allclose(out[0, ..., 3 + j], 30.0 * profile * (tsz[j] - tsz[2]), atol=1e-3)
    with pytest.raises(ValueError, match="expected 'aperture' or 'unit'"):
        ColourDifference(ratio="median")


def test_resnet_takes_the_colour_differences_too(tmp_path):
    import keras

    from skysieve.nets import InputSpec, build_net, preprocess

    cfg = TINY["resnet_small"].model_copy(update={"colour_difference": True})  # unit ratio: the resnet default
    x = np.random.default_rng(5).normal(0, 50, (4, 16, 16, 3)).astype("float32")
    pre = preprocess(x, cfg)
    np.testing.assert_allclose(pre[..., 3], (x[..., 0] - x[..., 0].mean(axis=(1, 2), keepdims=True))
                               - (x[..., 2] - x[..., 2].mean(axis=(1, 2), keepdims=True)), atol=1e-3)
    model = build_net(cfg, inputs=InputSpec((16, 16, 3), pre.mean(axis=(0, 1, 2)), pre.var(axis=(0, 1, 2))), seed=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded.predict_on_batch(x)), np.asarray(model.predict_on_batch(x)),
                               rtol=1e-6)
