"""What channels and detectors share about signals, owned by neither.

``signals`` imports neither :mod:`channels` nor :mod:`detectors` (nor
:mod:`rxsim`); both of them import it. It holds

- :mod:`signals.checks`: what a valid received block, noise variance, tap
  vector or integer option is, and the error each violation raises;
- :mod:`signals.constellations`: constellations by name (Sionna's, plus
  on-off keying);
- :mod:`signals.models`: constants of the channel models that a channel and
  a detector must agree on (the Poisson dark rate, the noise-variance floor).

Keeping them here means a channel and a detector can never disagree on
what is valid, and ``import channels`` does not load the learned stack.
"""

from .checks import (MAX_STATES, as_taps, check_int, check_noise_variance,
                     check_received, check_taps, is_eager)
from .constellations import (constellation_name, constellation_points,
                             is_real, make_constellation)
from .models import DARK_RATE, NO_FLOOR

__all__ = ["MAX_STATES", "as_taps", "check_int", "check_noise_variance",
           "check_received", "check_taps", "is_eager", "constellation_name",
           "constellation_points", "is_real", "make_constellation",
           "DARK_RATE", "NO_FLOOR"]
