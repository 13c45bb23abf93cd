"""The paper's photometric comparisons on the same sources: a random forest and a colour (Bayesian) method.

Both start from aperture photometry measured here with photutils on the
cutouts themselves (so they see exactly the pixels the CNN sees):
``F_b(r) = Σ_pix w_pix(r) (I_pix − B)``, with exact circular-aperture
weights ``w`` (:class:`photutils.aperture.CircularAperture`) and ``B`` the
median of a local annulus (which removes most of the ICL gradient), turned
into asinh magnitudes ``m = ZP − (2.5/ln 10)[asinh(F/2β) + ln β]`` (β =
0.01 e⁻/s, so faint or negative fluxes stay finite).  Features: the
reference-band magnitude in the largest aperture and every colour
``m_b − m_ref`` in every aperture.

* :class:`RandomForestMembers` — scikit-learn's random forest on those features
  (the paper's RF comparison, §4.3);
* :class:`ColourMixtureMembers` — the Bayesian colour method: per cluster,
  one Gaussian mixture per class in (colours, magnitude) and
  ``P(member | x) = π_m p_m(x) / (π_m p_m(x) + π_n p_n(x))``, ``π`` the
  training class fractions (Grillo et al. 2015's approach as used in the
  paper); clusters with too few training sources fall back to one global
  mixture per class.
"""

import numpy as np

__all__ = ["ColourMixtureMembers", "RandomForestMembers", "aperture_magnitudes", "photometry_features"]

_BETA = 0.01


def _weights(size: int, radius_px: float, *, annulus: tuple[float, float] | None = None) -> np.ndarray:
    from photutils.aperture import CircularAnnulus, CircularAperture

    c = ((size - 1) / 2, (size - 1) / 2)
    ap = CircularAnnulus(c, r_in=annulus[0], r_out=annulus[1]) if annulus else CircularAperture(c, r=radius_px)
    return ap.to_mask(method="exact").to_image((size, size))


def aperture_magnitudes(images: np.ndarray, zero_points_ab: np.ndarray, *, radii_px: tuple[float, ...],
                        annulus_px: tuple[float, float] | None = None) -> np.ndarray:
    """Asinh AB magnitudes in centred circular apertures, local-annulus median subtracted.

    Parameters
    ----------
    images : ndarray of shape (n, size, size, nbands), e⁻/s
    zero_points_ab : ndarray of shape (nbands,)
    radii_px : tuple of float
    annulus_px : (r_in, r_out), optional
        Default (0.6, 0.9) × half the cutout side.

    Returns
    -------
    ndarray of shape (n, nbands, nradii), AB mag
    """
    images = np.asarray(images, dtype=np.float64)
    size = images.shape[1]
    ann = annulus_px or (0.6 * size / 2, 0.9 * size / 2)
    ring = _weights(size, 0, annulus=ann) > 0.5
    bkg = np.median(images[:, ring, :], axis=1)  # (n, nb)
    out = np.empty((images.shape[0], images.shape[-1], len(radii_px)))
    for k, r in enumerate(radii_px):
        w = _weights(size, r)
        flux = np.einsum("nyxb,yx->nb", images, w) - bkg * w.sum()
        out[..., k] = np.asarray(zero_points_ab)[None, :] - 2.5 / np.log(10) * (
            np.arcsinh(flux / (2 * _BETA)) + np.log(_BETA))
    return out


def photometry_features(mags: np.ndarray, *, reference: int) -> np.ndarray:
    """Features from :func:`aperture_magnitudes`: the reference magnitude (largest aperture) and every colour.

    Returns
    -------
    ndarray of shape (n, 1 + (nbands − 1) · nradii)
    """
    others = [b for b in range(mags.shape[1]) if b != reference]
    colours = mags[:, others, :] - mags[:, [reference], :]
    return np.column_stack([mags[:, reference, -1], colours.reshape(len(mags), -1)])


class RandomForestMembers:
    """A random forest on aperture-photometry features; ``fit`` / ``predict_proba`` like scikit-learn.

    Parameters
    ----------
    n_estimators : int
    seed : int
    """

    def __init__(self, *, n_estimators: int = 300, seed: int = 0):
        self.n_estimators = n_estimators
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> "RandomForestMembers":
        from sklearn.ensemble import RandomForestClassifier

        self.model_ = RandomForestClassifier(n_estimators=self.n_estimators, min_samples_leaf=2,
                                             random_state=self.seed, n_jobs=1).fit(x, y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Membership probability, shape (n,)."""
        return self.model_.predict_proba(x)[:, 1]


class ColourMixtureMembers:
    """Bayesian colour classifier: one Gaussian mixture per class (and per cluster where it has the sources).

    Parameters
    ----------
    n_components : int
        Mixture components per class (fewer where a class has few sources).
    min_per_class : int
        Training sources of each class a cluster needs for its own mixtures.
    seed : int
    """

    def __init__(self, *, n_components: int = 2, min_per_class: int = 12, seed: int = 0):
        self.n_components = n_components
        self.min_per_class = min_per_class
        self.seed = seed

    def _pair(self, x: np.ndarray, y: np.ndarray):
        from sklearn.mixture import GaussianMixture

        models = []
        for cls in (0, 1):
            xc = x[y == cls]
            k = max(1, min(self.n_components, len(xc) // (2 * x.shape[1] + 2)))
            models.append(GaussianMixture(k, covariance_type="full", reg_covar=1e-2, random_state=self.seed).fit(xc))
        return models, float(np.mean(y))

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> "ColourMixtureMembers":
        x, y, groups = np.asarray(x, float), np.asarray(y).astype(int), np.asarray(groups)
        self.global_ = self._pair(x, y)
        self.per_group_ = {}
        for g in np.unique(groups):
            sel = groups == g
            if min((y[sel] == 0).sum(), (y[sel] == 1).sum()) >= self.min_per_class:
                self.per_group_[g] = self._pair(x[sel], y[sel])
        return self

    def predict_proba(self, x: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """``P(member | x)``, shape (n,), from the source's cluster mixtures (global where it has none)."""
        x, groups = np.asarray(x, float), np.asarray(groups)
        out = np.empty(len(x))
        for g in np.unique(groups):
            sel = groups == g
            (m0, m1), prior = self.per_group_.get(g, self.global_)
            l1 = m1.score_samples(x[sel]) + np.log(prior)
            l0 = m0.score_samples(x[sel]) + np.log(1 - prior)
            out[sel] = 1.0 / (1.0 + np.exp(np.clip(l0 - l1, -700, 700)))
        return out
