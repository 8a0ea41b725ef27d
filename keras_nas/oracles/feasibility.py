"""Predicting whether an architecture meets a search's budgets, before trying it.

Every trial records its costs (`keras_nas.objectives.costs`), the
infeasible ones included, so an oracle can learn where the budgets bite.
`CostModel` fits, for each budgeted cost, a ridge regression on the
one-hot code of the architecture (`INACTIVE` as its own category), of the
cost itself or of its log, whichever predicts the measured architectures
better when each is left out in turn (the closed-form leave-one-out
residuals of ridge regression, compared in the log): a cost that is a sum
over edges or layers (the parameters of a cell) is additive in the code, a
product of widths (the parameters of an MLP) closer to additive in the
log. Its prediction for a candidate is the largest predicted cost over its
limit, each cost taken one leave-one-out standard error above its
prediction (a factor `exp(rmse)` of the log), so that an architecture on
the edge of a budget counts as over it while the model is unsure; `NASOracle` screens each proposal with it (see
`NASOracle.populate_space`).
"""

import numpy as np

from keras_nas.oracles.gaussian_process import one_hot

RIDGE = 1.0
"""Weight of the ridge penalty, for codes of 0/1 features."""


class CostModel:
    """Ridge regressions of the log of each budgeted cost.

    Args:
        limits: Dict of cost name (`"params"`, `"flops"`, ...) to its limit.
        cardinalities: The encoding's number of values per slot.
    """

    def __init__(self, limits, cardinalities):
        self.limits = dict(limits)
        self.cardinalities = np.asarray(cardinalities)
        self._coefficients = {}

    def fit(self, vectors, measured):
        """Fits each cost on the architectures that recorded it.

        Args:
            vectors: Encoding vectors, one per architecture.
            measured: One dict of measured costs per architecture.

        Returns:
            `self`.
        """
        self._coefficients = {}
        for name in self.limits:
            rows = [
                (vector, costs[name])
                for vector, costs in zip(vectors, measured)
                if costs.get(name, 0) > 0
            ]
            if not rows:
                continue
            codes = _with_bias(one_hot([v for v, _ in rows], self.cardinalities))
            values = np.array([c for _, c in rows], dtype=float)
            error, log, coefficients = min(
                _fits(codes, values), key=lambda fit: fit[0]
            )
            self._coefficients[name] = (log, coefficients, np.sqrt(error))
        return self

    def ratio(self, vector):
        """The largest cost over its limit, predicted with a margin (above 1: over budget).

        Costs with no measurement yet are not predicted (ratio 0 for them).
        """
        code = _with_bias(one_hot([vector], self.cardinalities))[0]
        ratios = []
        for name, (log, coefficients, margin) in self._coefficients.items():
            predicted = float(code @ coefficients)
            if not log:
                predicted = np.log(max(predicted, 1e-12))
            ratios.append(float(np.exp(predicted + margin)) / self.limits[name])
        return max(ratios, default=0.0)


def _with_bias(codes):
    return np.hstack([np.ones((len(codes), 1)), codes])


def _penalty(size):
    penalty = RIDGE * np.eye(size)
    penalty[0, 0] = 0.0  # The intercept is not shrunk.
    return penalty


def _fits(codes, values):
    """The ridge fits of the cost and of its log, with their errors.

    Both share one solve: the ridge projection `(C'C + P)^-1 C'` of the
    codes, whose hat matrix gives the closed-form leave-one-out residuals.

    Returns:
        `[(error, log, coefficients), ...]` for `log` True and False; the
        error is the mean squared leave-one-out error in the log.
    """
    projection = np.linalg.solve(
        codes.T @ codes + _penalty(codes.shape[1]), codes.T
    )
    leverage = np.maximum(1.0 - np.einsum("ij,ji->i", codes, projection), 1e-9)
    fits = []
    for log in (True, False):
        targets = np.log(values) if log else values
        coefficients = projection @ targets
        left_out = targets - (targets - codes @ coefficients) / leverage
        if not log:
            left_out = np.log(np.maximum(left_out, values.min() * 1e-3))
        error = float(np.mean((left_out - np.log(values)) ** 2))
        fits.append((error, log, coefficients))
    return fits
