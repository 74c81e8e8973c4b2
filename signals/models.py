"""Constants of the channel models that channels and detectors share.

A channel draws samples with them and a detector's metric assumes them; one
definition keeps the two consistent.
"""

__all__ = ["NO_FLOOR", "DARK_RATE"]

# A noise variance of exactly 0 is legal input (noiseless channel); the
# floor keeps metrics (and the Poisson channel's rate scale 1/sqrt(no))
# finite so that recursions never see -inf or NaN.
NO_FLOOR = 1e-12

# The background ("dark current") rate of the papers' Poisson channel:
# ``lam = sqrt(rho) * sum_l h[l] x[k-l] + DARK_RATE``.
DARK_RATE = 1.0
