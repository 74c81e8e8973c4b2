"""Branch-metric providers of the trellis detectors, side by side.

Each turns received samples into :class:`detectors.BranchMetrics`
(``log p(y[k] | s, m)`` per state ``s`` and input ``m``, numbered as in
:mod:`detectors.trellis`) and knows nothing about the recursions:

- :mod:`~detectors.metrics.linear`: the linear ISI model (noiseless branch
  outputs of believed taps), shared by the two below;
- :mod:`~detectors.metrics.gaussian`: AWGN around those outputs;
- :mod:`~detectors.metrics.poisson`: Poisson counts at rates set by them;
- :mod:`~detectors.metrics.classifier`: a learned classifier ``p(c | y)``.
"""

from .classifier import classifier_branch_metrics, state_log_likelihoods
from .gaussian import GaussianBranchMetrics, gaussian_branch_metrics
from .linear import branch_means, branch_regressors
from .poisson import (RATE_FLOOR, PoissonBranchMetrics, poisson_branch_metrics,
                      poisson_loglik, poisson_rates)

__all__ = ["branch_means", "branch_regressors", "gaussian_branch_metrics",
           "GaussianBranchMetrics",
           "poisson_rates", "poisson_loglik", "poisson_branch_metrics",
           "PoissonBranchMetrics", "RATE_FLOOR", "classifier_branch_metrics",
           "state_log_likelihoods"]
