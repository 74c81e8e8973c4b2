"""Channels: ISI/AWGN with tap profiles (and, later, Poisson, time-varying,
CSI models). Note: this top-level package shares its import name with
Django Channels; do not install both in one environment."""

from .isi import ISIChannel, convolve_with_preamble
from .taps import exponential_taps

__all__ = ["ISIChannel", "convolve_with_preamble", "exponential_taps"]
