"""The SBRNN at the published size (3 x 80 BiLSTM units, window 16)
against the plain Keras model a user would write for it, in the same run
(issue 14): seconds per training epoch on the windows of 5000 pilots,
and detection rate (symbols/s, stride 1 and the ``stride`` option)."""

import os
import time

import numpy as np

from .settings import GAMMA, noise_variance
from .timing import Candidate, race, ratio

SNR_DB = 8.0


def _keras_reference(window, layers, units, num_points, dtype=None):
    """``keras.Sequential`` of ``layers`` x Bidirectional(LSTM(units)) and
    a Dense head, compiled with Adam and sparse cross-entropy on logits:
    what the SBRNN is, written with Keras' own training loop. ``dtype``:
    the recurrent layers' dtype policy (e.g. ``"mixed_bfloat16"``; the
    head stays float32)."""
    import keras
    model = keras.Sequential([keras.Input((window, 1))] + [
        keras.layers.Bidirectional(keras.layers.LSTM(
            units, return_sequences=True, dtype=dtype), dtype=dtype)
        for _ in range(layers)] + [keras.layers.Dense(num_points)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    return model


def _keras_detect(model, y, window):
    """Window-averaged posteriors of every stride-1 window (numpy
    averaging around ``model.predict``)."""
    B, T = y.shape
    idx = np.arange(T - window + 1)[:, None] + np.arange(window)[None, :]
    frames = y[:, idx].reshape(-1, window, 1)
    logits = model.predict(frames, batch_size=4096, verbose=0)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    p = p.reshape(B, -1, window, p.shape[-1])
    total = np.zeros((B, T, p.shape[-1]))
    for i in range(window):
        total[:, i:i + p.shape[1]] += p[:, :, i]
    return total.argmax(-1)


def run(cfg):
    from channels import exponential_taps  # pylint: disable=C0415
    from detectors import SBRNN  # pylint: disable=C0415
    from detectors.sbrnn import _windows  # pylint: disable=C0415
    from rxsim.pilots import pilot_data  # pylint: disable=C0415

    W, layers, units, epochs = 16, 3, 80, cfg["sbrnn_epochs"]
    taps = exponential_taps(4, GAMMA)
    no = noise_variance(SNR_DB)
    y, s = pilot_data(taps, SNR_DB, 5000, seed=1)
    frames = cfg["sbrnn_frames"]
    yt, st = pilot_data(taps, SNR_DB, frames * 1000, frame_length=1000,
                        seed=2)
    out = dict(config=dict(window=W, layers=layers, units=units,
                           pilots=5000, epochs=epochs, batch_size=128,
                           test_frames=frames, T=1000, snr_db=SNR_DB,
                           load_average_start=os.getloadavg()[0]),
               training={}, inference={})

    # Training: the same windows, batch 128, Adam 1e-3, no early stopping.
    xw, sw = _windows(y[..., None].astype(np.float32), s, W)
    ours = SBRNN(W, layers=layers, units=units, dropout=0.0,
                 batch_size=128, epochs=epochs)
    ref = _keras_reference(W, layers, units, 2)
    # Keras' mixed bfloat16 policy: the one-line way to train in bfloat16
    # (its LSTM state is bfloat16 too); timed, not used by rxsim.
    ref_bf16 = _keras_reference(W, layers, units, 2, dtype="mixed_bfloat16")
    for name, fit in (("rxsim SBRNN.fit", lambda: ours.fit(
            y, s, seed=0, validation=None, verbose=False)),
                      ("keras Sequential.fit", lambda: ref.fit(
                          xw, sw, batch_size=128, epochs=epochs,
                          verbose=0)),
                      ("keras Sequential.fit mixed_bfloat16",
                       lambda: ref_bf16.fit(xw, sw, batch_size=128,
                                            epochs=epochs, verbose=0))):
        fit()                                    # tracing / compilation
        t0 = time.perf_counter()
        fit()
        sec = time.perf_counter() - t0
        out["training"][name] = dict(seconds=sec,
                                     seconds_per_epoch=sec / epochs)
        print(f"    fit {name}: {sec / epochs:.2f} s per epoch", flush=True)
    tr = out["training"]
    tr["keras_over_rxsim"] = (tr["keras Sequential.fit"]["seconds"]
                              / tr["rxsim SBRNN.fit"]["seconds"])

    # Detection: ours (stride 1, 2, 4) against the Keras model.
    dets = {}
    for k in (1, 2, 4):
        dets[f"rxsim_stride{k}"] = ours if k == 1 else ours.copy(stride=k)
    for k in (1, 2):
        dets[f"rxsim_bf16_stride{k}"] = ours.copy(stride=k,
                                                  matmul_dtype="bfloat16")
    cands = [Candidate(name, lambda d=d: d(yt, no).numpy(), yt.size,
                       "rxsim", "eager") for name, d in dets.items()]
    cands.append(Candidate("keras_predict", lambda: _keras_detect(
        ref, yt, W), yt.size, "keras", "predict"))
    records, _ = race(cands, cfg["sbrnn_repeats"])
    for name in records:
        if name != "keras_predict":
            records[name]["vs_keras"] = ratio(records, name, "keras_predict")
    # The same weights' decisions in float32 and bfloat16 on the test data
    # (the paired SER check is tests/test_sbrnn.py; this is the record).
    hard = {k: np.argmax(dets[k](yt, no).numpy(), -1)
            for k in ("rxsim_stride1", "rxsim_bf16_stride1")}
    out["decisions"] = dict(
        ser_float32=float(np.mean(hard["rxsim_stride1"] != st)),
        ser_bfloat16=float(np.mean(hard["rxsim_bf16_stride1"] != st)),
        changed=float(np.mean(hard["rxsim_stride1"]
                              != hard["rxsim_bf16_stride1"])))
    out["inference"] = records
    out["config"]["load_average_end"] = os.getloadavg()[0]
    return out


def print_table(sec):
    dec = sec.get("decisions")
    tr = sec["training"]
    print(f"\nSBRNN, published size (3 x 80, W = 16), 5000 pilots, "
          f"{sec['config']['epochs']} epochs, batch 128")
    for name in ("rxsim SBRNN.fit", "keras Sequential.fit",
                 "keras Sequential.fit mixed_bfloat16"):
        if name not in tr:                      # older records
            continue
        print(f"  {name:36s} {tr[name]['seconds_per_epoch']:.2f} s per "
              "epoch")
    print(f"  Keras / rxsim training time: {tr['keras_over_rxsim']:.2f}x")
    print("Detection (min of repeats)")
    for name, r in sec["inference"].items():
        rate = r.get("symbols_per_s_min") or r.get("symbols_per_s")
        vs = r.get("vs_keras")
        extra = "" if vs is None else f"  {vs['min']:.2f}x keras"
        shown = "-" if rate is None else f"{rate:,.0f}"
        print(f"  {name:18s} {shown} symbols/s{extra}")
    if dec:
        print(f"  SER float32 {dec['ser_float32']:.3g}, bfloat16 "
              f"{dec['ser_bfloat16']:.3g}; decisions changed "
              f"{dec['changed']:.2g}")
