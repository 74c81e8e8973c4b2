"""Sizes of the full and quick runs, the channel of the sections and the
targets they are judged against (from docs / the design's target table)."""

from pathlib import Path

#: The project's root (configs/ is read from there).
ROOT = Path(__file__).resolve().parents[2]

FULL = dict(batch=1000, T=1000, repeats=7, stream=10 ** 6,
            mc_batch=1000, mc_T=1000, mc_batches=20, mc_repeats=3,
            thread_check_repeats=3,
            learned_pilots=5000, learned_fit_repeats=3, learned_batch=100,
            learned_T=1000, learned_repeats=5, learned_many=20,
            sbrnn_epochs=5, sbrnn_frames=20, sbrnn_repeats=3)
QUICK = dict(batch=100, T=1000, repeats=2, stream=10 ** 5,
             mc_batch=100, mc_T=1000, mc_batches=5, mc_repeats=2,
             thread_check_repeats=2,
             learned_pilots=5000, learned_fit_repeats=1, learned_batch=20,
             learned_T=1000, learned_repeats=2, learned_many=5,
             sbrnn_epochs=1, sbrnn_frames=2, sbrnn_repeats=1)
MEMORY_L = 4
GAMMA = 0.2
SNR_DB = 6.0
TARGETS = dict(viterbi_vs_numpy=15.0, bcjr_vs_numpy=15.0,
               viterbi_vs_sionna=1.0, stream_peak_gib=1.0,
               montecarlo_vs_sim_ber=1.0, learned_fit_s=2.0,
               learned_grid_180_s=60.0)
GIB = 2 ** 30


def noise_variance(snr_db):
    return 10.0 ** (-snr_db / 10.0)
