r"""The base class of the detectors with trainable parts.

A :class:`LearnedDetector` is trained on pilots (``fit``) or loaded from a
checkpoint, then called like any detector. It owns what every learned
detector shares: the "not trained" guard, and ``save`` / ``load`` in the
format of :mod:`detectors.checkpoint` (atomic writes; every defect of a
checkpoint is a ``ValueError``). The parts it is built from live beside
it: :mod:`detectors.pilots` (pilot checks, validation split, features),
:mod:`detectors.training` (the compiled training loop) and
:mod:`detectors.checkpoint` (the file format).

Example
-------
A detector saved before training cannot exist, so this round trip uses a
small ViterbiNet trained for a few epochs on 1000 pilots:

>>> import os, tempfile
>>> import numpy as np
>>> from detectors import LearnedDetector, ViterbiNet
>>> rng = np.random.default_rng(0)
>>> s = rng.integers(0, 2, (1, 1000)).astype(np.int32)
>>> x = np.concatenate([np.ones((1, 1)), 1.0 - 2.0 * s], axis=1)
>>> y = x[:, 1:] + 0.5 * x[:, :-1] + 0.3 * rng.normal(size=(1, 1000))
>>> det = ViterbiNet(2, hidden=(8,), activations=("relu",))
>>> det.trained
False
>>> _ = det.fit(y, s, epochs=5, seed=0, verbose=False)
>>> path = os.path.join(tempfile.mkdtemp(), "vnet")
>>> _ = det.save(path)
>>> back = LearnedDetector.load(path)          # any learned detector
>>> type(back).__name__, bool(np.all(back(y, 0.09) == det(y, 0.09)))
('ViterbiNet', True)
"""

import numpy as np
import tensorflow as tf

from signals.checks import check_int, check_positive
from signals.constellations import (complex_baseband, constellation_name,
                                    is_real, make_constellation)

from . import checkpoint
from .base import Detector

__all__ = ["LearnedDetector", "TrainedWeights"]


class TrainedWeights:
    r"""What every detector with trained weights shares, whatever its
    input shape (the ISI detectors' :class:`LearnedDetector`, the MIMO
    ones' :class:`detectors.mimo.learned.LearnedMIMODetector`): the
    training flag, the checked training defaults, ``save`` / ``load`` in
    the format of :mod:`detectors.checkpoint`, ``set_weights_from`` and
    ``copy``. A class using it sets ``self._trained = False`` in its
    constructor and defines ``_config()`` and ``_variables()``; it also
    needs ``_constellation``, ``_hard_out`` and ``precision``.
    """

    _registry = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            TrainedWeights._registry[cls.__name__] = cls

    @property
    def trained(self):
        """bool : whether the detector was fitted or loaded."""
        return self._trained

    def _set_training_options(self, *, learning_rate, epochs, patience,
                              batch_size, clipnorm):
        """Check and keep the defaults of :meth:`fit` (constructor)."""
        self._learning_rate = check_positive(learning_rate, "learning_rate")
        self._epochs = check_int(epochs, "epochs")
        self._patience = check_int(patience, "patience")
        self._batch_size = check_int(batch_size, "batch_size",
                                     allow_none=True)
        self._clipnorm = check_positive(clipnorm, "clipnorm")

    def _training_options(self, *, epochs=None, patience=None,
                          batch_size=None, learning_rate=None):
        """``(epochs, patience, batch_size, learning_rate)`` of one
        :meth:`fit` call: each one given is checked, the others are this
        detector's defaults (a ``batch_size`` of 0 means full batch,
        returned as None)."""
        return (
            self._epochs if epochs is None else check_int(epochs, "epochs"),
            self._patience if patience is None
            else check_int(patience, "patience"),
            self._batch_size if batch_size is None
            else (check_int(batch_size, "batch_size", 0) or None),
            self._learning_rate if learning_rate is None
            else check_positive(learning_rate, "learning_rate"))

    # -- subclass hooks ---------------------------------------------------
    def _config(self):
        """Constructor arguments (JSON types) that rebuild this detector."""
        raise NotImplementedError

    def _variables(self):
        """All variables to checkpoint, in a fixed order."""
        raise NotImplementedError

    def _base_config(self):
        c = self._constellation
        name = constellation_name(c)
        try:
            named = make_constellation(name)
            same = np.array_equal(np.asarray(named.points),
                                  np.asarray(c.points))
        except ValueError:
            same = False
        if not same:
            raise ValueError(
                "Only named constellations ('bpsk', 'pamM', 'qamM') can be "
                "saved; this detector uses a custom constellation.")
        config = {"constellation": name, "hard_out": self._hard_out,
                  "precision": self.precision}
        if is_real(named) and not is_real(c):
            # a real constellation on a complex channel (complex_baseband):
            # its samples are complex, so are the network's inputs
            config["complex_baseband"] = True
        return config

    # -- save / load ------------------------------------------------------
    def save(self, path):
        """Write ``<path>.weights.h5`` and ``<path>.json`` atomically (see
        :mod:`detectors.checkpoint`): an interrupted save leaves no
        truncated file under those names.

        Parameters
        ----------
        path : str or os.PathLike
            Checkpoint path without suffix (``.json`` / ``.weights.h5`` are
            accepted and dropped).

        Output
        ------
        : (str, str), the weights and JSON file names
        """
        if not self._trained:
            raise RuntimeError(f"{type(self).__name__} is not trained; "
                               "nothing to save.")
        meta = {"class": type(self).__name__,
                "config": {**self._base_config(), **self._config()}}
        values = [np.asarray(tf.convert_to_tensor(v))
                  for v in self._variables()]
        return checkpoint.write(path, meta, values)

    @classmethod
    def load(cls, path):
        """Rebuild a saved detector; its outputs are bit-identical.

        ``ViterbiNet.load`` accepts only ViterbiNet checkpoints (and so
        on); ``LearnedDetector.load`` accepts any learned detector. A sweep
        resuming from cached checkpoints calls this once and retrains on
        ``ValueError``.

        Parameters
        ----------
        path : str or os.PathLike
            As given to :meth:`save`.

        Raises
        ------
        ValueError
            Missing, truncated, corrupt or edited files; another format,
            version, class or architecture.
        """
        meta, values = checkpoint.read(path)
        _, json_file = checkpoint.paths(path)

        def bad(why):
            return ValueError(f"Cannot load checkpoint {json_file!r}: {why}.")

        name = meta.get("class")
        klass = TrainedWeights._registry.get(name) \
            if isinstance(name, str) else None
        if klass is None:
            raise bad(f"unknown detector class {name!r}")
        if not issubclass(klass, cls):
            raise bad(f"it holds a {name}, not a {cls.__name__}")
        config = meta.get("config")
        if not isinstance(config, dict):
            raise bad("'config' is missing")
        build = dict(config)
        if build.pop("complex_baseband", False) is True:
            build["constellation"] = complex_baseband(
                make_constellation(build["constellation"]))
        try:
            det = klass(**build)
        except (TypeError, ValueError) as e:
            raise bad(f"its config does not build a {name} ({e})") from None
        # Constructors forward unknown keywords to sionna's Block, so an
        # added key would be silently accepted: compare the key sets.
        known = {**det._base_config(), **det._config()}
        if set(config) != set(known):
            raise bad(f"its config keys {sorted(config)} are not those of a "
                      f"{name} ({sorted(known)})")
        variables = det._variables()
        expected = [{"shape": list(map(int, v.shape)),
                     "dtype": tf.as_dtype(v.dtype).name} for v in variables]
        if meta["variables"] != expected:
            raise bad("the variable list does not match the architecture "
                      "its config describes")
        return det._take_weights(values)

    def set_weights_from(self, other):
        """Take the trained weights of ``other``, a detector of the same
        class and configuration: this detector's outputs are then
        bit-identical to ``other``'s. Functions compiled around this
        detector keep working without a new trace (they read its
        variables), which is how a sweep reuses one compiled link for
        the models it trains point by point.

        Raises
        ------
        ValueError
            ``other`` is of another class or configuration, or untrained.
        """
        points = [np.asarray(d._constellation.points) for d in (self, other)]
        if type(other) is not type(self) or \
                other._config() != self._config() or \
                (other._hard_out, other.precision) != \
                (self._hard_out, self.precision) or \
                not np.array_equal(*points):
            raise ValueError(
                f"set_weights_from needs a {type(self).__name__} of the "
                "same configuration; got a "
                f"{type(other).__name__} configured differently.")
        if not other._trained:
            raise ValueError(f"the {type(other).__name__} to copy from is "
                             "not trained.")
        return self._take_weights(other._variables())

    def copy(self, **changes):
        """A new detector of the same class holding this one's trained
        weights: with no ``changes`` of the same configuration (outputs
        bit-identical until either is trained further, e.g. to fine-tune
        per frame without touching the original, :meth:`adapt` of the
        learned trellis detectors); ``changes`` replace constructor
        options that leave the weights as they are (e.g. an SBRNN's
        ``stride``, a trellis net's ``metric_table`` or ``hard_out``).

        Raises
        ------
        ValueError
            This detector is untrained, or a change alters the weights'
            shapes (e.g. ``units``): train a new detector instead.
        """
        if not self._trained:
            raise ValueError(f"the {type(self).__name__} to copy is not "
                             "trained.")
        config = {**self._base_config(), **self._config()}
        config.pop("complex_baseband", None)
        config["constellation"] = self._constellation
        if not changes:
            return type(self)(**config).set_weights_from(self)
        other = type(self)(**{**config, **changes})
        mine, theirs = self._variables(), other._variables()
        if [v.shape for v in mine] != [v.shape for v in theirs]:
            raise ValueError(
                f"copy({', '.join(sorted(changes))}=...) changes the "
                f"weights of this {type(self).__name__}; only options that "
                "keep them can be changed in a copy. Train a new detector.")
        return other._take_weights(mine)

    def _take_weights(self, values):
        """Assign ``values`` (in :meth:`_variables` order, shapes checked
        by the caller) and mark this detector trained; returns it."""
        for var, value in zip(self._variables(), values):
            var.assign(value)
        self._after_load()
        self._trained = True
        return self

    def _after_load(self):
        """Hook run after the weights are assigned by :meth:`load`."""


class LearnedDetector(TrainedWeights, Detector):
    r"""Base class of detectors with trainable parts (Keras 3 layers).

    Subclasses define ``_config()`` (their constructor arguments, JSON
    types only), ``_variables()`` (every variable to save, in a fixed
    order), ``fit`` and the detector contract of :class:`Detector`.
    Calling a detector that was neither fitted nor loaded raises
    ``RuntimeError``.

    Parameters
    ----------
    constellation, hard_out, precision
        As in :class:`detectors.base.Detector`; keyword-only.

    Example
    -------
    The module docstring (:mod:`detectors.learned`) fits, saves and loads
    one. Untrained, a learned detector refuses to detect:

    >>> from detectors import ViterbiNet
    >>> ViterbiNet(2)([[0.5, -0.5]], 0.1)
    Traceback (most recent call last):
    ...
    RuntimeError: ViterbiNet is not trained: call fit(y, s) on pilots or load a checkpoint.
    """

    def __init__(self, *, constellation=None, hard_out=False,
                 precision=None, **kwargs):
        super().__init__(constellation=constellation, hard_out=hard_out,
                         precision=precision, **kwargs)
        self._trained = False


    def _prepare(self, y, no):
        if not self._trained:
            raise RuntimeError(f"{type(self).__name__} is not trained: call "
                               "fit(y, s) on pilots or load a checkpoint.")
        return super()._prepare(y, no)
