"""Simulated visual classifiers: soft labels as vote fractions, and the labels' own noise floor.

Annotator a, looking at an image of true class c, votes from the
probability vector

    v_a = (1 − w_u) · [(1 − w_c) · e_c' + w_c · k] + w_u · e_U,
    e_c' = (1 − ε_a) e_c + ε_a · M_c,          ε_a = ε₀ / s_a,

where e_c is the one-hot class vector, M_c a row of plausible confusions,
s_a the annotator's skill, k = (0.6, 0, 0, 0.4, 0) the "compact" vote
(spheroid or point source) weighted by w_c = (1 − s_a/2) / (1 + (x/x½)³) with
x = r_e / FWHM_PSF, and w_u = 1 / (1 + (S/N / S/N½)²) the share of
unclassifiable votes on faint images.  Disks inclined by i lose a share
w_e = ω sin⁶ i (1.2 − s_a) of their votes to spheroid.  Each annotator draws
one vote; the label is the vote fraction over the n annotators.
"""

import numpy as np

__all__ = ["annotator_noise_floor", "vote_probabilities", "vote_fractions"]

#: Plausible confusions of an expert, row = true class (spheroid, disk, irregular, point source, unclassifiable).
CONFUSION = np.array([
    [0.0, 0.6, 0.1, 0.2, 0.1],
    [0.6, 0.0, 0.3, 0.0, 0.1],
    [0.1, 0.6, 0.0, 0.0, 0.3],
    [0.7, 0.0, 0.0, 0.0, 0.3],
    [0.3, 0.2, 0.4, 0.1, 0.0],
])
COMPACT = np.array([0.6, 0.0, 0.0, 0.4, 0.0])
UNCLASSIFIABLE = 4


def vote_probabilities(klass: np.ndarray, *, snr: np.ndarray, size_ratio: np.ndarray, inclination_deg: np.ndarray,
                       skill: np.ndarray, base_error: float, snr_half: float, size_psf_half: float,
                       edge_on_weight: float) -> np.ndarray:
    """Each annotator's vote probabilities for each image (the model in the module docstring).

    Parameters
    ----------
    klass : ndarray of int, shape (n,)
        True classes.
    snr, size_ratio, inclination_deg : ndarray of shape (n,)
        S/N within the Petrosian radius, r_e / PSF FWHM, disk inclination.
    skill : ndarray of shape (m,)
        One per annotator, in (0, 1].

    Returns
    -------
    ndarray of shape (n, m, 5)
        Rows sum to one.
    """
    k = CONFUSION.shape[0]
    onehot = np.eye(k)[klass][:, None, :]  # (n, 1, k)
    eps = np.clip(base_error / skill, 0, 0.9)[None, :, None]
    p = (1 - eps) * onehot + eps * CONFUSION[klass][:, None, :]
    compact = (1 - skill / 2)[None, :] / (1 + (size_ratio / size_psf_half) ** 3)[:, None]
    compact = np.where((klass < 3)[:, None], compact, 0.0)[..., None]
    p = (1 - compact) * p + compact * COMPACT
    edge = edge_on_weight * np.sin(np.radians(inclination_deg))[:, None] ** 6 * (1.2 - skill)[None, :]
    edge = np.where((klass == 1)[:, None], np.clip(edge, 0, 1), 0.0)
    moved = edge * p[..., 1]
    p[..., 1] -= moved
    p[..., 0] += moved
    faint = (1 / (1 + (snr / snr_half) ** 2))[:, None, None]
    p = (1 - faint) * p + faint * np.eye(k)[UNCLASSIFIABLE]
    return p / p.sum(axis=-1, keepdims=True)


def vote_fractions(probabilities: np.ndarray, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one vote per annotator and image; return (votes (n, m) int, fractions (n, k)).

    The fractions are counts / m, so each row sums to one exactly in binary
    floating point for m ≤ 2⁵³.
    """
    n, m, k = probabilities.shape
    cdf = np.cumsum(probabilities, axis=-1)
    u = rng.random((n, m, 1))
    votes = np.minimum((u > cdf).sum(axis=-1), k - 1)
    counts = np.stack([(votes == c).sum(axis=1) for c in range(k)], axis=1)
    return votes, counts / m


def annotator_noise_floor(votes: np.ndarray, *, n_classes: int) -> dict[str, float]:
    """How noisy the labels themselves are, as RMSE over probability vectors.

    ``one_vs_rest``: each annotator's one-hot vote against the vote fraction
    of the *other* annotators (leave-one-out consensus), RMSE over images,
    annotators and classes — what one human scores against the consensus.
    ``one_vs_all``: the same against the full consensus (the annotator
    included), the definition that flatters the annotator.

    Parameters
    ----------
    votes : ndarray of int, shape (n, m)
    n_classes : int

    Returns
    -------
    dict with ``one_vs_rest``, ``one_vs_all``, ``n_images``, ``n_annotators``
    """
    n, m = votes.shape
    onehot = np.eye(n_classes)[votes]  # (n, m, k)
    total = onehot.sum(axis=1, keepdims=True)
    rest = (total - onehot) / (m - 1)
    full = total / m
    return {"one_vs_rest": float(np.sqrt(np.mean((onehot - rest) ** 2))),
            "one_vs_all": float(np.sqrt(np.mean((onehot - full) ** 2))), "n_images": int(n), "n_annotators": int(m)}
