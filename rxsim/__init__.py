"""rxsim: link-level receiver simulator (TensorFlow + Sionna)."""

__version__ = "0.1.0"

from .link import Link
from .transmitter import Transmitter

__all__ = ["Link", "Transmitter", "__version__"]
