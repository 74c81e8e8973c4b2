"""The Monte Carlo engine (``rxsim.simulate_point``) on a BPSK / AWGN link
against Sionna's ``sim_ber``, equal batch sizes and number of batches."""

import numpy as np
import tensorflow as tf

from .settings import SNR_DB, TARGETS, noise_variance
from .timing import Candidate, fmt_ratio, race, ratio, short_error, target


def run(cfg):
    from scipy.stats import norm  # pylint: disable=import-outside-toplevel
    from sionna.phy.channel import AWGN  # pylint: disable=C0415
    from sionna.phy.mapping import (  # pylint: disable=C0415
        BinarySource, Demapper, Mapper)
    from sionna.phy.utils import sim_ber  # pylint: disable=C0415

    B, T, n_batches = cfg["mc_batch"], cfg["mc_T"], cfg["mc_batches"]
    no = noise_variance(SNR_DB)
    symbols = B * T * n_batches
    out = dict(config=dict(batch=B, T=T, batches=n_batches,
                           symbols_per_run=symbols, snr_db=SNR_DB,
                           noise_variance_per_real_dim=no,
                           repeats=cfg["mc_repeats"],
                           expected_ber=float(norm.sf(1 / np.sqrt(no))),
                           note=("rxsim: real BPSK, w ~ N(0, no); Sionna: "
                                 "Mapper('pam', 1) gives complex symbols, "
                                 "AWGN with variance 2 no (the real part "
                                 "sees no, as in rxsim), Demapper('app', "
                                 "hard_out=True). Both run XLA; wall time "
                                 "of the whole call (sim_ber counts errors "
                                 "eagerly outside its compiled mc_fun, "
                                 "rxsim inside).")),
               measurements={}, ratios={}, targets=[])

    # Sionna reference.
    source, mapper = BinarySource(), Mapper("pam", 1)
    awgn = AWGN()
    demapper = Demapper("app", "pam", 1, hard_out=True)

    @tf.function(jit_compile=True)
    def mc_fun(batch_size, ebno_db):
        n0 = 2.0 * tf.pow(10.0, -ebno_db / 10.0)
        b = source([batch_size, T])
        b_hat = demapper(awgn(mapper(b), n0), n0)
        return b, b_hat

    def sionna_run(iters):
        ber, _ = sim_ber(mc_fun, tf.constant([SNR_DB], tf.float32),
                         batch_size=B, max_mc_iter=iters, early_stop=False,
                         graph_mode="xla", verbose=False)
        return float(ber.numpy()[0])

    cands = [Candidate("sionna_sim_ber_xla",
                       lambda: sionna_run(n_batches), symbols, "sionna",
                       "xla")]
    try:
        import channels  # pylint: disable=import-outside-toplevel
        import detectors  # pylint: disable=import-outside-toplevel
        import rxsim  # pylint: disable=import-outside-toplevel
        from rxsim.montecarlo import simulate_point  # pylint: disable=C0415
    except Exception as exc:  # pylint: disable=broad-except
        out["measurements"]["rxsim_simulate_point_xla"] = dict(
            status="unavailable", reason=short_error(exc))
        simulate_point = None
    if simulate_point is not None:
        def rxsim_run(link, seed):
            r = simulate_point(link, no, batch_size=B,
                               target_errors=2 ** 62,
                               max_symbols=symbols, seed=seed, xla=True)
            return r.ber

        for name, hard in (("rxsim_simulate_point_xla", False),
                           ("rxsim_simulate_point_xla_hard_out", True)):
            try:
                link = rxsim.Link(rxsim.Transmitter(),
                                  channels.ISIChannel([1.0]),
                                  detectors.SymbolwiseDetector(
                                      [1.0], hard_out=hard),
                                  num_symbols=T)
            except Exception as exc:  # pylint: disable=broad-except
                out["measurements"][name] = dict(status="error",
                                                 reason=short_error(exc))
                continue
            cands.append(Candidate(
                name, lambda link=link: rxsim_run(link, 1), symbols,
                "rxsim", "xla",
                detector=("SymbolwiseDetector([1.0], hard_out=True)" if hard
                          else "SymbolwiseDetector([1.0])")))
    records, outputs = race(cands, cfg["mc_repeats"])
    for name, ber in outputs.items():
        records[name]["ber"] = ber
        records[name]["bits_per_s_min"] = records[name]["symbols_per_s_min"]
    out["measurements"].update(records)
    m = out["measurements"]
    for name in ("rxsim_simulate_point_xla",
                 "rxsim_simulate_point_xla_hard_out"):
        out["ratios"][f"{name}_vs_sim_ber"] = ratio(m, name,
                                                    "sionna_sim_ber_xla")
    out["targets"].append(target(
        "montecarlo_vs_sim_ber",
        out["ratios"]["rxsim_simulate_point_xla_vs_sim_ber"],
        TARGETS["montecarlo_vs_sim_ber"],
        "rxsim simulate_point (XLA) bits/s >= Sionna sim_ber (XLA) on "
        "BPSK/AWGN, same batch size and number of batches"))
    return out


def print_table(sec):
    cfg = sec["config"]
    print(f"\nMonte Carlo engine: BPSK / AWGN, {cfg['batches']} batches of "
          f"{cfg['batch']} x {cfg['T']} symbols ({cfg['snr_db']} dB, "
          f"expected BER {cfg['expected_ber']:.4f})")
    for name, rec in sec["measurements"].items():
        if rec.get("status") != "ok":
            print(f"  {name:36s} {rec.get('status')}: {rec.get('reason')}")
            continue
        rr = ratio(sec["measurements"], name, "sionna_sim_ber_xla") \
            if name != "sionna_sim_ber_xla" else None
        print(f"  {name:36s} min {rec['min_s']:7.3f} s  med "
              f"{rec['median_s']:7.3f} s  {rec['bits_per_s_min'] / 1e6:7.2f}"
              f" Mbit/s  BER {rec['ber']:.4f}  vs sim_ber "
              f"{fmt_ratio(rr)}")
