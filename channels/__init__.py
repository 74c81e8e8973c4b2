"""Channels: ISI/AWGN with tap profiles, the Poisson channel, time-varying
taps, 3GPP TDL channels (Sionna's TR 38.901 models), multiuser MIMO
(``MIMOChannel``) and the CSI models
(the taps a receiver believes). They import only :mod:`signals`, never
:mod:`detectors` or :mod:`rxsim`. Note: this top-level package shares its
import name with Django Channels; do not install both in one environment."""

from .csi import (CSISpec, estimate_taps_from_pilots, estimate_taps_ls,
                  parse_csi, perturb_taps_additive, perturb_taps_multiplicative)
from .isi import ISIChannel, convolve_with_preamble
from .mimo import MIMOChannel
from .poisson import PoissonChannel
from .taps import exponential_taps
from .tdl import TDLChannel, tdl_models
from .time_varying import PAPER_PERIODS, time_varying_taps

__all__ = ["ISIChannel", "PoissonChannel", "convolve_with_preamble",
           "exponential_taps",
           "CSISpec", "parse_csi", "perturb_taps_multiplicative",
           "perturb_taps_additive", "estimate_taps_ls",
           "estimate_taps_from_pilots", "time_varying_taps",
           "PAPER_PERIODS", "TDLChannel", "tdl_models", "MIMOChannel"]
