"""A coded link: Sionna's 5G LDPC code around an ISI channel and a detector.

::

    b --LDPC5GEncoder(k, n)--> c --interleaver--> bits -> symbol indices s
      --ISIChannel--> y --detector--> symbol log-probs / hard decisions
      --> bit LLRs --deinterleaver--> LDPC5GDecoder --> b_hat

One codeword is one frame: ``T = n / bits_per_symbol`` symbols, preceded by
the channel's ``L - 1`` preamble symbols like every rxsim frame.

Decisions
---------
- **Labelling.** A group of ``bits_per_symbol`` consecutive (interleaved)
  code bits, most significant first, is the symbol *index*; index ``i`` is
  sent as ``constellation.points[i]``. This is Sionna's labelling
  (``sionna.phy.mapping.Mapper``) and the one ``Detector.bit_llrs`` and
  ``SymbolLogits2LLRs`` assume, so LLRs come back in the right order.
- **LLR sign.** Sionna's convention ``log p(b=1 | y) / p(b=0 | y)``, which
  is what ``LDPC5GDecoder`` takes as input.
- **Soft output** (``output="soft"``): the detector's symbol
  log-probabilities converted to bit LLRs with Sionna's
  ``SymbolLogits2LLRs("app")``, the same conversion as
  ``Detector.bit_llrs`` (exact for BCJR, max-log for ``maxlog-bcjr``,
  learned for BCJRNet / SBRNN).
- **Hard output** (``output="hard"``): the receiver has only symbol
  decisions (Viterbi's ML sequence when the detector is built with
  ``hard_out=True``, else the symbol-wise argmax). Their bits become
  saturated LLRs ``+-hard_llr``. The default ``hard_llr = 2.5`` is the
  LLR of a binary symmetric channel with crossover ``1 / (1 + e^2.5)``
  ~ 7.6%, about the raw bit error rate at which a rate-1/2 code of a few
  hundred bits starts to decode. Belief propagation is not scale
  invariant, so the value matters: measured here (QPSK, 3 taps
  ``exp(-0.3 l)``, k=256, n=512, Viterbi decisions at 3.5 dB, 2000
  codewords) the BLER was 0.37 / 0.081 / 0.075 / 0.095 for
  ``hard_llr`` = 1.5 / 2 / 2.5 / 3, and at 3 dB 0.46 for 6 and 0.55
  for 10 against 0.24 for 2. A receiver without soft information does
  not know the true crossover, so a fixed value is the honest model.
- **Interleaver** (on by default): ISI makes detection errors bursty (an
  error event of a trellis detector flips several neighbouring symbols,
  i.e. adjacent code bits), while the LDPC decoder assumes independent
  bit reliabilities. One fixed pseudo-random permutation of the ``n`` code
  bits (Sionna ``RandomInterleaver``, seed :data:`INTERLEAVER_SEED`, the
  same for every frame) spreads a burst over the codeword.
  ``interleave=False`` maps code bits to symbols in order.
- **Turbo detection-decoding** (``iterations=I``; Tuechler, Koetter and
  Singer, "Turbo equalization: principles and new results", 2002). Pass
  1 is the one-shot link. Each further pass gives the detector a prior:
  the extrinsic code-bit LLRs of a soft-output BP decoder (its posterior
  minus its input, ``num_iter`` BP iterations started afresh each time,
  clipped at :data:`PRIOR_LLR_MAX`), interleaved into channel order. The
  detector returns its posterior; posterior minus prior (its extrinsic
  information) goes to the decoder. After pass ``I`` the hard
  information-bit decoder of the one-shot link decodes, so ``I = 1`` is
  exactly the one-shot link and pass ``i`` of an ``I``-pass link equals
  the last pass of an ``i``-pass link on the same frames. The whole loop
  is unrolled in the link's compiled front end (the shared soft decoder
  graph is called, not traced again, inside it); the final decoding stays
  the code's shared tail. The uncoded SER counts the decisions of the
  last detector pass.
- **Compilation.** The decoder is the expensive part to trace and compile
  (seconds), and learned detectors get a new link per sweep point. The
  encoder/decoder pair is therefore shared between links with the same
  ``(k, n, num_iter, precision)``, and :meth:`CodedLink.count_stages`
  tells the Monte Carlo engine to compile the front end (source, encoder,
  channel, detector) per link and the decoding stage once per code (see
  :mod:`rxsim.counts`).
"""

import contextlib
import io
import numbers

import numpy as np
import tensorflow as tf
from sionna.phy import Block, config
from sionna.phy.fec.interleaving import Deinterleaver, RandomInterleaver
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import SymbolLogits2LLRs

from detectors.compiled import compiled
from signals.checks import check_int
from signals.constellations import constellation_points
from signals.seeds import is_int

from .counts import CountStages, symbol_counts
from .link import Link
from .transmitter import Transmitter

__all__ = ["CodedLink", "code_problems", "interleavers", "shared_code",
           "CODE_TYPES", "OUTPUTS",
           "DEFAULT_HARD_LLR", "DEFAULT_NUM_ITER", "INTERLEAVER_SEED",
           "PRIOR_LLR_MAX"]

#: Channel code types a config may name.
CODE_TYPES = ("ldpc5g",)
#: What the decoder gets from the detector.
OUTPUTS = ("soft", "hard")
#: Magnitude of the saturated LLRs of hard decisions (see module notes).
DEFAULT_HARD_LLR = 2.5
#: Belief-propagation iterations of the LDPC decoder.
DEFAULT_NUM_ITER = 20
#: Seed of the fixed bit interleaver ("rx" in ASCII).
INTERLEAVER_SEED = 0x7278
#: Magnitude at which the decoder's extrinsic LLRs are clipped before they
#: become the detector's prior (the decoder clips its messages there too).
PRIOR_LLR_MAX = 20.0


def code_problems(k, n, bits_per_symbol=None):
    """Problems (list of str) with a 5G LDPC code ``(k, n)`` carried by
    symbols of ``bits_per_symbol`` bits; empty when it is usable.

    Checks the types, ``n % bits_per_symbol == 0`` (a codeword is a whole
    frame) and asks Sionna's ``LDPC5GEncoder`` whether it supports the
    code (``12 <= k <= 8448``, rate between 1/5 and 0.95, ...).
    """
    problems = []
    for name, value in (("k", k), ("n", n)):
        if not is_int(value) or value < 1:
            problems.append(f"{name} must be an integer >= 1, got {value!r}")
    if problems:
        return problems
    if k >= n:
        problems.append(f"k (information bits) must be smaller than n "
                        f"(codeword bits), got k={k}, n={n}")
        return problems
    if bits_per_symbol is not None and n % bits_per_symbol:
        problems.append(
            f"n={n} is not a multiple of the {bits_per_symbol} bits per "
            f"symbol; a codeword must fill whole symbols (e.g. "
            f"n={n - n % bits_per_symbol + bits_per_symbol})")
    try:
        # Sionna prints warnings about effective rates; keep them quiet.
        with contextlib.redirect_stdout(io.StringIO()):
            LDPC5GEncoder(int(k), int(n))
    except (ValueError, AssertionError, TypeError) as e:
        problems.append(f"5G LDPC code k={k}, n={n} not supported: {e}")
    return problems


def _build_code(k, n, num_iter, precision):
    with contextlib.redirect_stdout(io.StringIO()):
        enc = LDPC5GEncoder(k, n, precision=precision)
    dec = LDPC5GDecoder(enc, num_iter=num_iter, hard_out=True,
                        return_infobits=True, precision=precision)
    return _Code(enc, dec)


def _in_xla_context():
    """Whether the function being traced is XLA-compiled."""
    # pylint: disable=import-outside-toplevel
    from tensorflow.python.ops import control_flow_util
    return not tf.executing_eagerly() and \
        control_flow_util.GraphOrParentsInXlaContext(
            tf.compat.v1.get_default_graph())


class _Code:
    """The encoder and decoders of one code, shared by all links with the
    same parameters so that each decoder is traced once (see module
    notes).

    The decoders are called through ``tf.function`` graphs for any batch
    size (eager calls of Sionna's BP decoder run its ragged message passing
    op by op, seconds per call): one graph per decoder and per context,
    because a ``tf.function`` traced outside XLA builds while loops that
    XLA cannot compile ("Range must be a compile-time constant") and is
    not traced again when later called inside an XLA-compiled function
    (a code simulated with ``xla=False`` and then with ``xla=True`` in one
    process failed so)."""

    def __init__(self, encoder, decoder):
        self.encoder, self.decoder = encoder, decoder
        self._soft_decoder = None
        self._graphs = {}

    @property
    def soft_decoder(self):
        """The code's BP decoder with soft output on all ``n`` code bits
        (LLRs ``log p(c=1)/p(c=0)``, codeword order): the decoder of a
        turbo iteration, whose output minus its input is the extrinsic
        information handed back to the detector. Built on first use."""
        if self._soft_decoder is None:
            with tf.init_scope():   # first use may be inside a trace
                self._soft_decoder = LDPC5GDecoder(
                    self.encoder, num_iter=int(self.decoder.num_iter),
                    hard_out=False, return_infobits=False,
                    precision=self.decoder.precision)
        return self._soft_decoder

    def graph(self, soft=False):
        """The hard information-bit decoder (or, with ``soft``, the soft
        codeword decoder) as the ``tf.function`` of the calling context
        (class notes)."""
        key = (bool(soft), _in_xla_context())
        if key not in self._graphs:
            decoder = self.soft_decoder if soft else self.decoder
            self._graphs[key] = tf.function(
                decoder, input_signature=[
                    tf.TensorSpec([None, self.encoder.n], decoder.rdtype)])
        return self._graphs[key]

    def tail(self):
        """The decoding stage of a coded link's count: ``(b, llr) ->``
        counts of information bits and blocks; the engine compiles it
        once per code (this object, cached for the process's life by
        :func:`shared_code`) and per ``xla`` flag."""
        graph = self.graph

        def count_decoded(b, llr):
            b_hat = tf.cast(graph()(llr), b.dtype)
            wrong = tf.not_equal(b, b_hat)
            blocks = tf.shape(b, out_type=tf.int64)
            bit_errors = tf.reduce_sum(tf.cast(wrong, tf.int64), axis=-1)
            block_errors = tf.cast(tf.reduce_any(wrong, axis=-1), tf.int64)
            return {
                "bits": blocks[0] * blocks[1],
                "bit_errors": tf.reduce_sum(bit_errors),
                "blocks": blocks[0],
                "block_errors": tf.reduce_sum(block_errors),
                "frame_bit_errors": bit_errors,
                "frame_block_errors": block_errors}

        return count_decoded


def interleavers(precision=None):
    """``(interleaver, deinterleaver)``: the fixed bit permutation of coded
    links (Sionna ``RandomInterleaver``, seed :data:`INTERLEAVER_SEED`, the
    same for every frame; module notes)."""
    interleaver = RandomInterleaver(
        seed=INTERLEAVER_SEED, keep_batch_constant=True, keep_state=True,
        axis=-1, precision=precision)
    return interleaver, Deinterleaver(interleaver)


def shared_code(k, n, num_iter, precision):
    """The encoder and decoders of ``(k, n, num_iter, precision)`` (a
    ``_Code``: ``encoder``, ``decoder``, ``graph(soft=False)``), built once
    per process and shared by every link and study that uses the code."""
    return compiled(("rxsim.coded", k, n, num_iter, precision),
                    lambda: _build_code(k, n, num_iter, precision))


class CodedLink(Block):
    r"""One batch of LDPC codewords through a channel and a detector.

    Wraps a :class:`rxsim.Link` (:attr:`link`) of ``T = n / bits_per_symbol``
    symbols per frame: the link's seed split, channel, CSI case and detector
    are used as they are; only the symbols come from code bits.

    Parameters
    ----------
    transmitter : rxsim.Transmitter | None | str | Constellation
        Gives the constellation (``None`` -> BPSK); the transmitter's own
        random symbols are not used: symbols come from code bits.
    channel : Block called as ``channel(x, no, seed=...)``
        E.g. ``channels.ISIChannel(taps, constellation=...)``.
    detector : detectors.Detector
        Called as ``detector(y, no)`` (``detector(y, no, taps=...)`` under
        imperfect CSI). For ``output="soft"`` it must return
        log-probabilities (``hard_out=False``).
    k : int
        Information bits per codeword.
    n : int
        Codeword bits; must be a multiple of the bits per symbol
        (``T = n / bits_per_symbol`` symbols per frame).
    output : "soft" | "hard"
        What the decoder gets: bit LLRs of the detector's posteriors, or
        its hard decisions as saturated LLRs ``+-hard_llr``.
    num_iter : int
        Belief-propagation iterations of ``LDPC5GDecoder`` (default 20).
    hard_llr : float
        Magnitude of the LLRs of hard decisions (default
        :data:`DEFAULT_HARD_LLR` = 2.5, see the module notes).
    interleave : bool
        Permute the code bits with a fixed random interleaver before
        mapping (default True; see the module notes).
    iterations : int
        Detector passes of turbo detection-decoding (default 1: detector
        -> decoder once, today's one-shot link). With ``I > 1`` the
        detector and a soft-output decoder exchange extrinsic LLRs through
        the interleaver ``I - 1`` times before the final decoding (module
        notes); needs ``output="soft"`` and a detector that takes a
        ``prior`` (``detector.takes_prior``).
    csi : None | str | channels.csi.CSISpec
        As in :class:`rxsim.Link`: ``None`` / ``"perfect"`` keeps the
        detector's taps; other cases draw believed taps per batch from the
        channel's true taps and pass them as ``detector(y, no, taps=...)``.
    noise_variance : None or float
        As in :class:`rxsim.Link`: the noise variance the receiver believes
        (``None``: the true one).
    believed_taps : None or [L] array
        As in :class:`rxsim.Link`: taps the receiver believes at every
        call (``None``: the detector's own).
    residual_noise : bool
        As in :class:`rxsim.Link` (fading channels with a kept window).
    retrain_pilots, retrain_epochs :
        As in :class:`rxsim.Link`: a learned trellis detector fine-tuned
        per frame on pilots through that frame's channel.
    precision : None | "single" | "double"

    Input
    -----
    batch_size : int
        Codewords (frames) per batch.
    no : scalar or [batch_size], tf.float
        Noise variance of the channel.
    seed : None or [2], tf.int32 / tf.int64
        Stateless seed of the batch, split into source-bit, channel and CSI
        seeds by :meth:`rxsim.Link.split_seed`; ``None`` uses Sionna's
        global RNG.

    Output
    ------
    b : [batch_size, k], tf.float
        Information bits (0/1).
    b_hat : [batch_size, k], tf.float
        Decoded information bits.
    s : [batch_size, T], tf.int32
        Transmitted symbol indices.
    s_hat : [batch_size, T], tf.int32
        The detector's hard symbol decisions (uncoded SER; of its last
        pass when ``iterations > 1``).

    For the Monte Carlo engine, :meth:`count` gives the counts of a batch
    (uncoded symbol errors, information-bit and block errors after
    decoding) and :meth:`count_stages` splits them where the engine
    compiles them apart (the decoder once per code).

    Example
    -------
    >>> from channels import ISIChannel
    >>> from detectors import BCJRDetector
    >>> from rxsim.coded import CodedLink
    >>> taps = [1.0, 0.5]
    >>> link = CodedLink("bpsk", ISIChannel(taps), BCJRDetector(taps),
    ...                  k=64, n=128)
    >>> b, b_hat, s, s_hat = link(2, 0.01, seed=[3, 4])
    >>> b.shape, s.shape
    (TensorShape([2, 64]), TensorShape([2, 128]))
    >>> c = link.count(2, 0.01, seed=[3, 4])
    >>> int(c["blocks"]), int(c["bits"]), int(c["block_errors"])
    (2, 128, 0)
    """

    #: Coded points stop on codeword errors (see :mod:`rxsim.montecarlo`).
    stop_on = "block_errors"

    def __init__(self, transmitter, channel, detector, k, n, *,
                 output="soft", num_iter=DEFAULT_NUM_ITER,
                 hard_llr=DEFAULT_HARD_LLR, interleave=True, iterations=1,
                 csi=None, noise_variance=None, believed_taps=None,
                 residual_noise=True, retrain_pilots=None,
                 retrain_epochs=100, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if not isinstance(transmitter, Transmitter):
            transmitter = Transmitter(transmitter, precision=precision)
        bps = int(transmitter.bits_per_symbol)
        problems = code_problems(k, n, bps)
        if problems:
            bad_type = any(not is_int(v) for v in (k, n))
            raise (TypeError if bad_type else ValueError)(
                "CodedLink: " + "; ".join(problems) + ".")
        if output not in OUTPUTS:
            raise ValueError(f"`output` must be 'soft' or 'hard', got "
                             f"{output!r}.")
        num_iter = check_int(num_iter, "num_iter")
        iterations = check_int(iterations, "iterations")
        if iterations > 1 and output != "soft":
            raise ValueError(
                f"iterations={iterations} exchanges soft information with "
                "the decoder; it needs output='soft' (hard decisions carry "
                "no reliabilities to iterate on). Use iterations=1 with "
                "output='hard'.")
        if iterations > 1 and not getattr(detector, "takes_prior", False):
            reason = getattr(detector, "no_prior_reason", "")
            raise ValueError(
                f"iterations={iterations} feeds the decoder's extrinsic "
                f"LLRs back as a prior, but {type(detector).__name__} does "
                f"not take one ({reason}); use iterations=1 or a detector "
                "with takes_prior = True (BCJR, max-log BCJR, BCJRNet, "
                "LMMSE, symbol-wise).")
        if isinstance(hard_llr, bool) or not isinstance(
                hard_llr, numbers.Real) or not 0 < hard_llr < np.inf:
            raise ValueError(f"`hard_llr` must be a finite number > 0, got "
                             f"{hard_llr!r}.")
        #: The uncoded :class:`rxsim.Link` this link sends its symbols over.
        self.link = Link(transmitter, channel, detector, int(n) // bps,
                         csi=csi, noise_variance=noise_variance,
                         believed_taps=believed_taps,
                         residual_noise=residual_noise,
                         retrain_pilots=retrain_pilots,
                         retrain_epochs=retrain_epochs, precision=precision)
        if output == "soft" and getattr(detector, "hard_out", False):
            raise ValueError(
                "output='soft' needs the detector's posteriors, but it was "
                "built with hard_out=True; build it with hard_out=False or "
                "use output='hard'.")
        self.k, self.n = int(k), int(n)
        self.bits_per_symbol = bps
        self.num_symbols = self.link.num_symbols
        self.output = output
        self.num_iter = num_iter
        self.hard_llr = float(hard_llr)
        self.interleave = bool(interleave)
        self.iterations = iterations
        self._code = shared_code(self.k, self.n, self.num_iter,
                                  self.precision)
        self.encoder, self.decoder = self._code.encoder, self._code.decoder
        if self.interleave:
            self._interleaver, self._deinterleaver = interleavers(precision)
        self._points = constellation_points(transmitter.constellation,
                                            self.rdtype)
        self._logits2llrs = SymbolLogits2LLRs("app", bps,
                                              precision=precision)
        # Bit j of a symbol index has weight 2**(bps-1-j) (MSB first).
        self._shifts = tf.range(bps - 1, -1, -1, dtype=tf.int32)

    @property
    def compiled_receiver(self):
        """bool: as :attr:`rxsim.Link.compiled_receiver`."""
        return self.link.compiled_receiver

    @property
    def transmitter(self):
        """rxsim.Transmitter (its constellation; symbols come from bits)"""
        return self.link.transmitter

    @property
    def channel(self):
        """The channel block"""
        return self.link.channel

    @property
    def detector(self):
        """The detector block"""
        return self.link.detector

    @property
    def csi(self):
        """None (perfect CSI) or the channels.csi.CSISpec of the link"""
        return self.link.csi

    # -- pieces ------------------------------------------------------------
    def bits_to_indices(self, bits):
        """``[batch, n]`` 0/1 (any dtype) -> symbol indices ``[batch, T]``
        (int32), bit groups MSB first."""
        bits = tf.reshape(tf.cast(bits, tf.int32),
                          [-1, self.num_symbols, self.bits_per_symbol])
        weights = tf.bitwise.left_shift(1, self._shifts)
        return tf.reduce_sum(bits * weights, axis=-1)

    def indices_to_bits(self, s):
        """Symbol indices ``[batch, T]`` -> bits ``[batch, n]`` (int32)."""
        bits = tf.bitwise.bitwise_and(
            tf.bitwise.right_shift(tf.cast(s, tf.int32)[..., None],
                                   self._shifts), 1)
        return tf.reshape(bits, [-1, self.n])

    def detect(self, y, no, taps=None):
        """The receiver's view of received frames.

        Input
        -----
        y : [batch, T], tf.float or tf.complex
        no : scalar or [batch], tf.float
        taps : None or [L] or [batch, L]
            Believed taps for this call (imperfect CSI).

        Output
        ------
        llr : [batch, n], tf.float
            Bit LLRs ``log p(b=1)/p(b=0)`` in channel order (before
            deinterleaving); saturated ``+-hard_llr`` for ``output="hard"``.
        s_hat : [batch, T], tf.int32
            Hard symbol decisions.
        """
        out = (self.detector(y, no) if taps is None
               else self.detector(y, no, taps=taps))
        return self._llrs(out)

    def _llrs(self, out):
        """``(llr, s_hat)`` of the detector's output (see :meth:`detect`)."""
        if out.dtype.is_integer:
            s_hat = tf.cast(out, tf.int32)
        else:
            s_hat = tf.argmax(out, axis=-1, output_type=tf.int32)
        if self.output == "soft":
            llr = self._logits2llrs(tf.cast(out, self.rdtype))
            llr = tf.reshape(llr, [-1, self.n])
        else:
            signs = 2 * self.indices_to_bits(s_hat) - 1
            llr = tf.cast(signs, self.rdtype) * self.hard_llr
        return llr, s_hat

    def transmit(self, batch_size, no, seed=None):
        """Everything but the decoder (the engine compiles the two apart).

        Output
        ------
        b : [batch_size, k], tf.float
            Information bits.
        llr : [batch_size, n], tf.float
            Code-bit LLRs in codeword order (deinterleaved), the decoder's
            input.
        s, s_hat : [batch_size, T], tf.int32
        """
        b, s, y, state = self.draw(batch_size, no, seed)
        llr, s_hat = self._receive(y, no, state)
        return b, llr, s, s_hat

    def _receive(self, y, no, state):
        """Deinterleaved code-bit LLRs and symbol decisions of received
        frames ``y`` (the receiver half of :meth:`transmit`): the input of
        the final decoding, after ``iterations - 1`` turbo exchanges."""
        prior = None
        for it in range(self.iterations):
            out = self.link.detect(y, no, **state, prior=prior)
            llr, s_hat = self._llrs(out)
            if prior is not None:                  # extrinsic information
                llr = llr - prior
            llr = self._deinterleave(llr)
            if it + 1 < self.iterations:
                prior = self._interleave(self._decoder_extrinsic(llr))
        return llr, s_hat

    def _deinterleave(self, llr):
        return self._deinterleaver(llr) if self.interleave else llr

    def _interleave(self, llr):
        return self._interleaver(llr) if self.interleave else llr

    def _decoder_extrinsic(self, llr):
        """The soft decoder's extrinsic code-bit LLRs (posterior minus its
        input, clipped at :data:`PRIOR_LLR_MAX`) for code-bit LLRs
        ``llr`` ``[batch, n]`` (codeword order)."""
        llr_in = tf.clip_by_value(tf.cast(llr, self.decoder.rdtype),
                                  -PRIOR_LLR_MAX, PRIOR_LLR_MAX)
        posterior = self._code.graph(soft=True)(llr_in)
        extrinsic = tf.clip_by_value(posterior - llr_in, -PRIOR_LLR_MAX,
                                     PRIOR_LLR_MAX)
        return tf.cast(extrinsic, self.rdtype)

    def draw(self, batch_size, no, seed=None):
        """Information bits through the encoder, interleaver, mapper and
        channel: the part of a batch every coded link of a point shares.

        Output
        ------
        : ``(b, s, y, state)``: information bits ``[batch, k]``
          (tf.float), sent indices and received samples ``[batch, T]``,
          the receiver's draws (:meth:`rxsim.Link.draw`)
        """
        b_seed, ch_seed, csi_seed = self.link.split_seed(seed)
        shape = [batch_size, self.k]
        if b_seed is None:
            b = config.tf_rng.uniform(shape, 0, 2, dtype=tf.int32)
        else:
            b = tf.random.stateless_uniform(shape, b_seed, 0, 2,
                                            dtype=tf.int32)
        b = tf.cast(b, self.rdtype)
        c = self.encoder(b)
        s = self.bits_to_indices(self._interleave(c))
        x = tf.gather(self._points, s)
        y, state = self.link.through_channel(x, no, ch_seed)
        return b, s, y, {"csi_seed": csi_seed, **state}

    def adopt_receiver(self, other):
        """Take the receiver of ``other``, a coded link built the same way
        (see :meth:`rxsim.Link.adopt_receiver`; the code and output mode
        must match too)."""
        if type(other) is not type(self) or self.draw_key() != \
                other.draw_key() or (self.output, self.num_iter,
                                     self.hard_llr, self.iterations) != \
                (other.output, other.num_iter, other.hard_llr,
                 other.iterations):
            raise ValueError("adopt_receiver takes the receiver of a coded "
                             "link with the same code, interleaver and "
                             "output; build a new link instead.")
        self.link.adopt_receiver(other.link)
        return self

    def draw_key(self):
        """Links with equal keys draw the same batches (see
        :meth:`rxsim.Link.draw_key`); ``None``: draws its own."""
        inner = self.link.draw_key()
        if inner is None:
            return None
        return ("CodedLink", self.k, self.n, self.interleave,
                INTERLEAVER_SEED, inner)

    def decode(self, llr):
        """Code-bit LLRs ``[batch, n]`` (codeword order) -> decoded
        information bits ``[batch, k]`` (tf.float 0/1)."""
        # The shared graph is traced once per code and context (XLA or
        # not); inside a caller's tf.function it is called, not traced.
        llr = tf.cast(llr, self.decoder.rdtype)
        return tf.cast(self._code.graph()(llr), self.rdtype)

    def call(self, batch_size, no, seed=None):
        b, llr, s, s_hat = self.transmit(batch_size, no, seed=seed)
        return b, self.decode(llr), s, s_hat

    # -- the engine's protocol (rxsim.counts) --------------------------------
    def count_front(self, batch_size, no, seed=None):
        """The counts before decoding (uncoded symbol errors) and the
        decoder's inputs ``(b, llr)``."""
        return self.count_drawn(self.draw(batch_size, no, seed), no)

    def count_drawn(self, drawn, no):
        """:meth:`count_front` on a batch of :meth:`draw` (of this link or
        of one with the same :meth:`draw_key`)."""
        b, s, y, state = drawn
        llr, s_hat = self._receive(y, no, state)
        return symbol_counts(s, s_hat), (b, tf.cast(llr, self.decoder.rdtype))

    def count_stages(self):
        """:class:`rxsim.counts.CountStages`: the front end per link, the
        decoding stage once per code."""
        return CountStages(
            front=self.count_front, tail=self._code.tail(),
            tail_owner=self._code,
            tail_signature=[tf.TensorSpec([None, self.k], self.rdtype),
                            tf.TensorSpec([None, self.n],
                                          self.decoder.rdtype)])

    def count(self, batch_size, no, seed=None):
        """Counts of one batch (uncompiled; see :mod:`rxsim.counts`):
        ``frames``, ``symbols``, ``errors``, ``sum_sq`` of the uncoded
        symbol decisions, ``bits`` / ``bit_errors`` of the information bits
        after decoding and ``blocks`` / ``block_errors`` of the codewords."""
        counts, carry = self.count_front(batch_size, no, seed)
        return {**counts, **self._code.tail()(*carry)}
