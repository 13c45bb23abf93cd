"""Custom layers (``keras.ops`` only, serialisable under the ``skysieve`` package)."""

from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = ["AsinhStretch", "ChannelSlice", "ColourDifference", "CutoutCentering", "input_layers", "preprocess",
           "ring_indices", "ring_pairs", "standardize"]


@keras.saving.register_keras_serializable(package="skysieve")
class ChannelSlice(keras.layers.Layer):
    """Select one channel of an image tensor, keeping the channel axis.

    Parameters
    ----------
    index : int
        Channel to keep.

    Input shape (batch, ny, nx, nchan) → output shape (batch, ny, nx, 1).
    """

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def build(self, input_shape):
        nchan = input_shape[-1]
        if nchan is not None and not 0 <= self.index < nchan:
            raise ValueError(f"ChannelSlice index {self.index} out of range for {nchan} channels")
        self.built = True

    def call(self, inputs, training=None):
        return ops.expand_dims(ops.take(inputs, self.index, axis=-1), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="skysieve")
class CutoutCentering(keras.layers.Layer):
    """Subtract each cutout's spatial mean, per channel.

    x'(i, j, c) = x(i, j, c) − mean_ij x(i, j, c).  On mm-wave cutouts this
    removes the CMB's large-scale level (≈ 100 µK rms over 8′, against a
    cluster decrement of tens of µK), on optical ones the sky level.  It is
    part of the model, so raw cutouts go in everywhere (training, registry,
    catalog).

    Input and output shape (batch, ny, nx, nchan).
    """

    def call(self, inputs, training=None):
        return inputs - ops.mean(inputs, axis=(1, 2), keepdims=True)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="skysieve")
class ColourDifference(keras.layers.Layer):
    """Append colour-difference images that cancel the light of the central (lens) galaxy.

    For every band b other than the reference band r (the reddest, F814W for
    the lens task) it appends the channel

        D_b(x) = I_b(x) − k_b · I_r(x),   k_b = Σ_{|x| < R} I_b / Σ_{|x| < R} I_r,

    with the sums over a central circular aperture of radius R pixels. For an
    early-type lens with no colour gradient (the same profile in every band)
    D_b holds no lens light at all, only what differs in colour from it —
    blue lensed arcs — and noise. It is the ``g − α i`` difference image of
    RingFinder (Gavazzi et al. 2014, ApJ 785, 144, §2.2), computed per cutout
    inside the model so raw cutouts go in everywhere. ``k_b`` is clipped to
    [0, ``k_max``], and is 0 (D_b = I_b) where the reference band has no
    positive light in the aperture (an empty position), so a cutout without
    a central galaxy does not get ``k_max`` times the reference noise.

    With ``ratio="unit"``, k_b = 1 for every band: in µK_CMB the CMB and the
    kSZ are the same in every band and cancel, the tSZ decrement does not.

    Input shape (batch, ny, nx, nchan) → (batch, ny, nx, 2·nchan − 1): the
    input bands, then the differences in band order (the reference skipped);
    with ``keep_bands=False`` only the nchan − 1 differences (a network that
    never sees the CMB cannot memorise its pattern: on few positives that is
    what it overfits to).  One band passes through unchanged. Apply it to
    sky-subtracted cutouts (after :class:`CutoutCentering`).

    Parameters
    ----------
    reference : int
        Channel index of the reference band (negative counts from the end).
    radius_px : float
        Aperture radius R, pixels.
    k_max : float
        Upper clip of the colour ratio.
    ratio : {"aperture", "unit"}
    keep_bands : bool
        Output the input bands before the differences (default) or the differences alone.
    """

    def __init__(self, reference: int = -1, radius_px: float = 3.0, k_max: float = 10.0, ratio: str = "aperture",
                 keep_bands: bool = True, **kwargs):
        super().__init__(**kwargs)
        if ratio not in ("aperture", "unit"):
            raise ValueError(f"ColourDifference ratio {ratio!r}: expected 'aperture' or 'unit'")
        self.reference, self.radius_px, self.k_max, self.ratio = int(reference), float(radius_px), float(k_max), ratio
        self.keep_bands = bool(keep_bands)

    def build(self, input_shape):
        ny, nx, nchan = input_shape[1], input_shape[2], input_shape[3]
        if not -nchan <= self.reference < nchan:
            raise ValueError(f"ColourDifference reference {self.reference} out of range for {nchan} channels; "
                             "set net.colour_reference to a channel index")
        if self.ratio == "aperture":
            yy, xx = np.mgrid[:ny, :nx]
            r = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2)
            self._aperture = (r < self.radius_px).astype("float32")[None, :, :, None]
            if not self._aperture.any():
                raise ValueError(f"ColourDifference aperture of radius {self.radius_px} px holds no pixel; "
                                 "raise net.colour_aperture_px")
        ref = self.reference % nchan
        self._others = [c for c in range(nchan) if c != ref]
        self._ref = ref
        self.built = True

    def call(self, inputs, training=None):
        if not self._others:  # one band: nothing to difference
            return inputs
        ref_image = inputs[..., self._ref: self._ref + 1]
        if self.ratio == "unit":
            diff = ops.take(inputs, self._others, axis=-1) - ref_image
        else:
            flux = ops.sum(inputs * ops.convert_to_tensor(self._aperture, dtype=inputs.dtype), axis=(1, 2))
            ref_flux = flux[:, self._ref: self._ref + 1]
            others = ops.take(flux, self._others, axis=1)
            k = ops.where(ref_flux > 0, ops.clip(others / ops.maximum(ref_flux, 1e-12), 0.0, self.k_max), 0.0)
            diff = ops.take(inputs, self._others, axis=-1) - k[:, None, None, :] * ref_image
        return ops.concatenate([inputs, diff], axis=-1) if self.keep_bands else diff

    def compute_output_shape(self, input_shape):
        nchan = input_shape[-1]
        if nchan == 1:
            return input_shape
        return (*input_shape[:-1], 2 * nchan - 1 if self.keep_bands else nchan - 1)

    def get_config(self):
        return {**super().get_config(), "reference": self.reference, "radius_px": self.radius_px,
                "k_max": self.k_max, "ratio": self.ratio, "keep_bands": self.keep_bands}


@keras.saving.register_keras_serializable(package="skysieve")
class AsinhStretch(keras.layers.Layer):
    """Noise-scaled asinh stretch of every channel, with the noise measured per cutout in its outer ring.

    For each cutout and channel c,

        y(x) = asinh( (x − m_c) / (a · σ_c) ),

    where m_c is the median of the pixels of the outer ring — those at a
    distance r ≥ ``ring_frac`` · n/2 from the centre of an n × n cutout (the
    corners outside the inscribed circle by default: 21 % of the pixels,
    none of the central galaxy) — σ_c the noise of the channel measured in
    that ring, and a = ``softening`` (the stretch is linear within ≈ a σ
    and logarithmic beyond).  Faint arcs at ~1 σ per pixel keep a unit of
    order one while the lens core (10³ σ) is compressed to ≈ 8, whatever
    the depth of the image: a deeper cluster (HFF) has a smaller σ, and the
    stretch is measured in its own noise.  σ_c is floored at ``floor_rel``
    × the channel's rms over the whole cutout (and 1e-12), so a noise-free
    cutout does not divide by zero.

    Two estimators of σ_c (``noise``):

    ``"ring_mad"`` (the original)
        σ_c = 1.4826 · median_ring |x − m_c|, the robust spread of the ring's
        pixel values.  It is the noise only where the ring is flat: the halo
        of a bright galaxy (or a neighbour's) adds its own variation across
        the ring, and σ_c grows with it — up to a few times in F814W for the
        brightest members of the lens sample (docs/lens.md, "Noise from pixel
        differences"), compressing exactly the bright cutouts.
    ``"ring_diff"``
        σ_c = 1.4826 · MAD(Δ) / √2, with Δ = x(p) − x(q) over the pairs of
        horizontally and vertically adjacent pixels p, q both in the ring and
        MAD(Δ) = median |Δ − median Δ|.  For white noise Var Δ = 2σ², hence
        the √2; a smooth background b(x) adds only its local slope,
        Δ = ∂b + noise, so with a slope g per pixel Var Δ = 2σ² + g² and σ is
        overestimated by ≈ g² / (4σ²) — a halo that changes by many σ across
        the ring but by ≪ σ from one pixel to the next leaves it unchanged.
        It assumes pixel-to-pixel independent noise: noise correlated with
        coefficient ρ between neighbours (a resampled, drizzled image) gives
        σ √(1 − ρ) instead of σ.
        The better noise estimate, but the lens finder trained with it
        measured no better (docs/lens.md), so ``ring_mad`` stays the default.

    Why the ring and not the noise model: the ring needs no metadata (a
    catalog cutout carries no exposure time or sky level), follows the depth
    of each field and each colour-difference channel (whose noise mixes two
    bands), and the medians ignore a neighbour or an arc crossing up to half
    of the ring's pixels (pairs, for ``ring_diff``).  It ignores the Poisson
    noise of the lens light, which a network can learn.

    Every term scales with the cutout, so y is unchanged when a cutout is
    multiplied by a positive constant or shifted by one (the sky level).

    Input and output shape (batch, ny, nx, nchan).

    Parameters
    ----------
    softening : float
        a, in units of σ.
    ring_frac : float
        Inner radius of the ring as a fraction of the cutout's half-size.
    floor_rel : float
        Floor of σ relative to the channel's rms.
    noise : {"ring_mad", "ring_diff"}
        Estimator of σ_c (above).  A model saved before this option existed
        has no ``noise`` in its config and loads as ``"ring_mad"``, the
        estimator it was trained with.
    """

    NOISE_ESTIMATORS = ("ring_mad", "ring_diff")

    def __init__(self, softening: float = 1.0, ring_frac: float = 1.0, floor_rel: float = 1e-3,
                 noise: str = "ring_mad", **kwargs):
        super().__init__(**kwargs)
        if softening <= 0 or not 0 <= ring_frac < 1.42 or floor_rel < 0:
            raise ValueError(f"AsinhStretch needs softening > 0, 0 ≤ ring_frac < √2, floor_rel ≥ 0 "
                             f"(got {softening}, {ring_frac}, {floor_rel})")
        if noise not in self.NOISE_ESTIMATORS:
            raise ValueError(f"AsinhStretch noise {noise!r}: expected 'ring_mad' or 'ring_diff' "
                             "(net.stretch_noise)")
        self.softening, self.ring_frac, self.floor_rel = float(softening), float(ring_frac), float(floor_rel)
        self.noise = noise

    def build(self, input_shape):
        ny, nx = input_shape[1], input_shape[2]
        self._ring = ring_indices(ny, nx, ring_frac=self.ring_frac)
        if self.noise == "ring_diff":
            self._pair_a, self._pair_b = ring_pairs(ny, nx, ring_frac=self.ring_frac)
        self.built = True

    def call(self, inputs, training=None):
        flat = ops.reshape(inputs, (-1, inputs.shape[1] * inputs.shape[2], inputs.shape[-1]))
        med, sigma = self._ring_stats(flat)
        return ops.reshape(_asinh((flat - med) / (self.softening * sigma)), ops.shape(inputs))

    def ring_stats(self, inputs):
        """m_c and the floored σ_c of every cutout and channel, each of shape (batch, 1, nchan).

        The numbers the stretch divides by, for looking at them (e.g. the
        ratio of the two estimators on a data set); ``inputs`` as for ``call``.
        """
        if not self.built:
            self.build(tuple(inputs.shape))
        inputs = ops.convert_to_tensor(inputs)
        return self._ring_stats(ops.reshape(inputs, (-1, inputs.shape[1] * inputs.shape[2], inputs.shape[-1])))

    def _ring_stats(self, flat):
        ring = ops.take(flat, self._ring, axis=1)  # (batch, n_ring, nchan)
        med = ops.median(ring, axis=1, keepdims=True)
        if self.noise == "ring_diff":
            # Δ of every adjacent pair in the ring: (batch, n_pairs, nchan)
            delta = ops.take(flat, self._pair_a, axis=1) - ops.take(flat, self._pair_b, axis=1)
            delta_med = ops.median(delta, axis=1, keepdims=True)
            sigma = (1.4826 / np.sqrt(2.0)) * ops.median(ops.abs(delta - delta_med), axis=1, keepdims=True)
        else:
            sigma = 1.4826 * ops.median(ops.abs(ring - med), axis=1, keepdims=True)
        rms = ops.sqrt(ops.mean(ops.square(flat - med), axis=1, keepdims=True))
        return med, ops.maximum(ops.maximum(sigma, self.floor_rel * rms), 1e-12)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "softening": self.softening, "ring_frac": self.ring_frac,
                "floor_rel": self.floor_rel, "noise": self.noise}


def _asinh(z):
    """asinh(z) = sign(z) · log1p(|z| + z² / (1 + √(z² + 1))): exact, and ≈ 3× faster than TF's ``Asinh`` on CPU."""
    a = ops.abs(z)
    return ops.sign(z) * ops.log1p(a + ops.square(a) / (1.0 + ops.sqrt(ops.square(a) + 1.0)))


def ring_indices(ny: int, nx: int, *, ring_frac: float) -> np.ndarray:
    """Flat indices (row-major) of the pixels at r ≥ ``ring_frac`` · min(ny, nx)/2 from the cutout centre.

    Raises
    ------
    ValueError
        If fewer than 16 pixels are in the ring.
    """
    yy, xx = np.mgrid[:ny, :nx]
    r = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2)
    idx = np.flatnonzero(r >= ring_frac * min(ny, nx) / 2)
    if idx.size < 16:
        raise ValueError(f"AsinhStretch ring at r ≥ {ring_frac} × {min(ny, nx) / 2} px holds {idx.size} pixels "
                         "(< 16); lower net.stretch_ring_frac")
    return idx.astype("int32")


def ring_pairs(ny: int, nx: int, *, ring_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (a, b) of the horizontally and vertically adjacent pixel pairs with both pixels in the ring.

    The ring is that of :func:`ring_indices`; b is the right-hand (j + 1) or
    lower (i + 1) neighbour of a, so x[a] − x[b] are the pixel differences Δ
    of ``AsinhStretch(noise="ring_diff")``.

    Raises
    ------
    ValueError
        If fewer than 16 pairs are in the ring.
    """
    in_ring = np.zeros(ny * nx, dtype=bool)
    in_ring[ring_indices(ny, nx, ring_frac=ring_frac)] = True
    in_ring = in_ring.reshape(ny, nx)
    flat = np.arange(ny * nx).reshape(ny, nx)
    right = in_ring[:, :-1] & in_ring[:, 1:]
    down = in_ring[:-1, :] & in_ring[1:, :]
    a = np.concatenate([flat[:, :-1][right], flat[:-1, :][down]])
    b = np.concatenate([flat[:, 1:][right], flat[1:, :][down]])
    if a.size < 16:
        raise ValueError(f"AsinhStretch ring at r ≥ {ring_frac} × {min(ny, nx) / 2} px holds {a.size} adjacent "
                         "pixel pairs (< 16); lower net.stretch_ring_frac")
    return a.astype("int32"), b.astype("int32")


def input_layers(net: Any = None) -> list[keras.layers.Layer]:
    """The parameter-free layers every model applies to raw cutouts before standardising.

    :class:`CutoutCentering`, then :class:`ColourDifference` when the
    architecture section asks for it (``colour_difference: true``, with
    ``colour_reference`` and ``colour_aperture_px``), then
    :class:`AsinhStretch` with ``input_stretch: asinh`` (``stretch_softening``,
    ``stretch_ring_frac``, ``stretch_noise``).
    """
    layers: list[keras.layers.Layer] = [CutoutCentering(name="center")]
    if getattr(net, "colour_difference", False):
        layers.append(ColourDifference(reference=net.colour_reference, radius_px=net.colour_aperture_px,
                                       ratio=net.colour_ratio, keep_bands=getattr(net, "colour_keep_bands", True),
                                       name="colour_difference"))
    if getattr(net, "input_stretch", "none") == "asinh":
        layers.append(AsinhStretch(softening=net.stretch_softening, ring_frac=net.stretch_ring_frac,
                                   noise=net.stretch_noise, name="asinh_stretch"))
    return layers


def preprocess(cutouts: np.ndarray, net: Any = None) -> np.ndarray:
    """:func:`input_layers` applied to a NumPy stack, as float64 (for the training statistics)."""
    x = ops.convert_to_tensor(np.asarray(cutouts, dtype=np.float32))
    for layer in input_layers(net):
        x = layer(x)
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


def standardize(image, inputs, net: Any = None):
    """Apply :func:`input_layers`, then scale each channel by the training statistics.

    ``inputs.mean`` / ``inputs.variance`` must be statistics of the
    preprocessed cutouts (see :func:`skysieve.train.channel_stats`), one per
    output channel of :func:`input_layers`.  With ``input_stretch: asinh``
    the stretched channels are already in units of each cutout's own noise
    and go in as they are: no global mean/variance scaling.
    """
    x = image
    for layer in input_layers(net):
        x = layer(x)
    if getattr(net, "input_stretch", "none") == "asinh":
        return x
    return keras.layers.Normalization(mean=inputs.mean, variance=inputs.variance, name="standardize")(x)
