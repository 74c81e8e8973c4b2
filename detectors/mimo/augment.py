r"""Class-translation augmentation of MIMO pilots: more labelled samples
from the same pilots, without a channel model.

A pilot ``y`` sent with the users' symbols ``s`` (one *joint class* ``c``
of ``C = M^K``) is its class's centre plus a disturbance, ``y = mu_c + r``.
With every class's centre estimated as the mean of its pilots, the
disturbance ``r = y - mu_c`` of one pilot is moved to other classes,
``y' = mu_c' + r`` labelled ``c'``: each pilot's noise is seen at
``1 + copies`` symbol vectors, so every joint class gets the noise of all
pilots instead of its own ``P / C`` (class diversity). Nothing assumes a
linear channel or Gaussian noise: the centres are sample means and the
disturbances are the pilots' own; what it does assume is that the
disturbance does not depend on the class (additive), which holds for
``y = H x + w`` and fails for, e.g., a saturating amplifier at high power.

This is the "translation" idea of Raviv and Shlezinger, "Data Augmentation
for Deep Receivers", IEEE TWC 2023 (the DeepSIC authors' group); their
scheme adds geometric and Gaussian-sampled copies and differs in detail.
rxsim implements this one augmentation, for DeepSIC and the black-box DNN
alike (``augment=`` of :class:`~detectors.mimo.DeepSIC` and
:class:`~detectors.mimo.MIMODNN`, config key ``augment``).
"""

import numpy as np

from signals.checks import check_int

from ..pilots import MIN_SAMPLES_PER_CLASS

__all__ = ["translate_classes", "class_centres", "joint_classes",
           "check_augment"]


def joint_classes(users, num_points):
    """``C = M^K``, the number of joint symbol classes."""
    return int(num_points) ** int(users)


def check_augment(augment, users, num_points):
    """``augment`` as an int in ``[0, C - 1]``; the error says why not."""
    C = joint_classes(users, num_points)
    return check_int(augment, "augment", 0, maximum=C - 1, what=(
        "class-translated copies of each pilot, 0 for none; at most C - 1 "
        f"with C = M^K = {num_points}^{users} joint symbol classes"))


def class_centres(x, s, num_points):
    r"""Every joint class's mean, where it is estimated from enough pilots.

    Input
    -----
    x : [P, D], np.ndarray, float
    s : [P, K], np.ndarray, int
    num_points : int

    Output
    ------
    : [C, D], np.ndarray, row ``c`` the mean of the pilots of joint class
      ``c = sum_k s_k M^k``, NaN for a class with fewer than ``10`` pilots
      (its centre would be mostly noise; it takes no part in translation)
    """
    code = _codes(s, num_points)
    C = joint_classes(s.shape[1], num_points)
    counts = np.bincount(code, minlength=C)
    sums = np.stack([np.bincount(code, weights=x[:, d], minlength=C)
                     for d in range(x.shape[1])], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = sums / counts[:, None]
    centres[counts < MIN_SAMPLES_PER_CLASS] = np.nan
    return centres


def _codes(s, num_points):
    return (s.astype(np.int64) * int(num_points) ** np.arange(s.shape[1])
            ).sum(axis=1)


def translate_classes(x, s, num_points, copies, *, seed, centres=None):
    r"""The pilots and ``copies`` class-translated copies of each.

    Parameters
    ----------
    x : [P, D], np.ndarray, float
        Real features of the received pilots.
    s : [P, K], np.ndarray, int
        The users' symbol indices.
    num_points : int
        M.
    copies : int
        Copies per pilot, each at a different joint class other than the
        pilot's own, drawn uniformly (``C - 1``: every other class once).
        Classes seen fewer than ``10`` times take no part: their pilots
        are kept without copies and no copy goes to them (so a block of
        few pilots still trains); at most ``Q - 1`` copies with ``Q`` the
        classes that do.
    seed : int
        Fixes the classes drawn.
    centres : None | [C, D], np.ndarray
        The classes' centres (:func:`class_centres`); ``None``: those of
        ``x``. Held-out pilots are translated with the training pilots'
        centres, so that no held-out sample shapes what trains.

    Output
    ------
    x : [P + copies P', D], np.ndarray, the pilots first, then the copies
        of the ``P'`` pilots whose class takes part (all, usually)
    s : [P + copies P', K], np.ndarray, int32

    Raises
    ------
    ValueError
        Fewer than two classes seen ``10`` times: give more pilots, or
        ``augment = 0``.

    Example
    -------
    >>> import numpy as np
    >>> from detectors.mimo.augment import translate_classes
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 2, size=(100, 2))          # K = 2 users, BPSK
    >>> x = (1 - 2 * s) @ np.array([[1.0, 0.4], [0.4, 1.0]])
    >>> x = x + 0.1 * rng.standard_normal(x.shape)
    >>> xa, sa = translate_classes(x, s, 2, 3, seed=0)  # all 4 classes
    >>> xa.shape, sa.shape
    ((400, 2), (400, 2))
    """
    K = s.shape[1]
    M = int(num_points)
    if copies == 0:
        return x, s.astype(np.int32)
    code = _codes(s, M)
    if centres is None:
        centres = class_centres(x, s, M)
    classes = np.flatnonzero(~np.isnan(centres[:, 0]))         # [Q]
    Q = len(classes)
    if Q < 2:
        raise ValueError(
            f"augment needs at least two joint symbol classes (of M^K = "
            f"{len(centres)}) seen {MIN_SAMPLES_PER_CLASS} times among the "
            f"pilots, found {Q} in {len(code)} pilots: give more pilots or "
            "set augment = 0.")
    rank = np.full(len(centres), -1)
    rank[classes] = np.arange(Q)
    src = np.flatnonzero(rank[code] >= 0)                       # [P']
    rest = x[src] - centres[code[src]]                          # [P', D]
    rng = np.random.default_rng(seed)
    # distinct offsets 1 .. Q-1 per pilot: targets other than its own class
    offsets = np.argsort(rng.random((len(src), Q - 1)), axis=1)[
        :, :min(copies, Q - 1)]
    target = classes[(rank[code[src]][:, None] + 1 + offsets) % Q]
    xa = centres[target] + rest[:, None, :]
    digits = (target[..., None] // M ** np.arange(K)) % M      # [P', c, K]
    return (np.concatenate([x, xa.reshape(-1, x.shape[1])]),
            np.concatenate([s, digits.reshape(-1, K)]).astype(np.int32))
