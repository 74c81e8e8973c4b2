"""Studies built on the rxsim framework: each is a sweep (or, for the
time-varying channel, a block-by-block run into the same results store)
plus the summary, figure and checks it reports. ``scripts/`` holds their
command lines.

- :mod:`rxsim.studies.paper`: the published comparison (``configs/
  paper.toml``, ``scripts/reproduce.py``).
- :mod:`rxsim.studies.training_size`: SER against the number of pilots
  (``scripts/training_size.py``).
- :mod:`rxsim.studies.time_varying`: a time-varying channel with
  CRC-checked LDPC frames, learned detectors trained once or retrained
  online (ungated, CRC-gated, genie-gated; ``scripts/time_varying.py``).

The framework (the rest of ``rxsim``) never imports this package.
"""
