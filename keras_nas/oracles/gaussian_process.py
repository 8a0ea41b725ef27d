"""A Gaussian process on architecture vectors, with a categorical kernel.

The surrogate of `BayesianOracle`, in plain NumPy. Architectures are the
integer vectors of `keras_nas.encoding`; the kernel compares them slot by
slot, as categories (the `INACTIVE` token is a category of its own):

    k(x, y) = signal * exp(-sum_d theta_d * [x_d != y_d] / D)

the exponentiated overlap (weighted Hamming) kernel of categorical Bayesian
optimisation (Wan et al., "Think Global and Act Local: Bayesian Optimisation
over High-Dimensional Categorical and Mixed Search Spaces", ICML 2021). One
weight `theta_d` per slot lets the fit find which decisions matter. The
weights, the signal variance and the noise variance are fitted by maximising
the log marginal likelihood, with weak log-normal priors that keep a fit on
few points sensible, by Adam steps on the log parameters.
"""

import math

import numpy as np

_LOG_BOUNDS = {
    "theta": (math.log(1e-3), math.log(1e3)),
    "signal": (math.log(1e-2), math.log(1e2)),
    "noise": (math.log(1e-6), math.log(1.0)),
}
# Weak log-normal priors (mean, std of the log), for standardised targets:
# all slots different correlates at exp(-1), unit signal, small noise.
_PRIORS = {
    "theta": (0.0, 2.0),
    "signal": (0.0, 1.5),
    "noise": (math.log(1e-2), 3.0),
}
_JITTER = 1e-8


def one_hot(vectors, cardinalities):
    """One-hot codes of architecture vectors, `INACTIVE` as its own category.

    Args:
        vectors: Integer array of shape `(n, D)` (or one vector), entries in
            `[-1, cardinality)`.
        cardinalities: The number of values of each of the `D` slots.

    Returns:
        A float array of shape `(n, sum(cardinalities + 1))`: slot `d` owns
        `cardinalities[d] + 1` columns, the first for `INACTIVE`.
    """
    cardinalities = np.asarray(cardinalities, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.int64).reshape(-1, len(cardinalities))
    sizes = cardinalities + 1
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    codes = np.zeros((len(vectors), int(sizes.sum())))
    rows = np.arange(len(vectors))[:, None]
    codes[rows, offsets + vectors + 1] = 1.0
    return codes


class CategoricalGP:
    """A Gaussian process with an exponentiated overlap kernel.

    Targets are expected standardised (zero mean, unit variance); the prior
    mean is zero. Call `fit()` to fit the hyperparameters and condition on
    data, `condition()` to condition on data with the current
    hyperparameters, then `predict()`.

    Args:
        cardinalities: The number of values of each slot of the encoding.
        params: Optional dict of log hyperparameters, as returned by
            `get_params()`, to start from.

    Example:

    ```python
    gp = CategoricalGP([5, 5, 5])
    gp.fit(np.array([[0, 1, 2], [1, 1, 2], [4, 0, 0]]), np.array([1.0, 0.5, -1.5]))
    mean, std = gp.predict(np.array([[0, 1, 3]]))
    ```
    """

    def __init__(self, cardinalities, params=None):
        self.cardinalities = np.asarray(cardinalities, dtype=np.int64)
        self.num_slots = len(self.cardinalities)
        self._column_slot = np.repeat(
            np.arange(self.num_slots), self.cardinalities + 1
        )
        self.log_theta = np.zeros(self.num_slots)
        self.log_signal = 0.0
        self.log_noise = _PRIORS["noise"][0]
        if params is not None:
            self.set_params(params)
        self._codes = None

    def get_params(self):
        """The log hyperparameters as a JSON-safe dict."""
        return {
            "log_theta": [float(v) for v in self.log_theta],
            "log_signal": float(self.log_signal),
            "log_noise": float(self.log_noise),
        }

    def set_params(self, params):
        """Sets the log hyperparameters from a `get_params()` dict."""
        log_theta = np.asarray(params["log_theta"], dtype=float)
        if log_theta.shape != (self.num_slots,):
            raise ValueError(
                f"Received an invalid value for `params`, expected "
                f"{self.num_slots} slot weights. Received: "
                f"log_theta={list(log_theta)}"
            )
        self.log_theta = log_theta
        self.log_signal = float(params["log_signal"])
        self.log_noise = float(params["log_noise"])

    @property
    def theta(self):
        """The weight of each slot in the kernel."""
        return np.exp(self.log_theta)

    @property
    def signal(self):
        """The signal (prior) variance."""
        return math.exp(self.log_signal)

    @property
    def noise(self):
        """The noise variance."""
        return math.exp(self.log_noise)

    def kernel(self, first, second):
        """The kernel matrix between two sets of architecture vectors.

        Args:
            first: Integer array of shape `(n, D)`.
            second: Integer array of shape `(m, D)`.

        Returns:
            A float array of shape `(n, m)`.
        """
        return self._kernel_codes(
            one_hot(first, self.cardinalities), one_hot(second, self.cardinalities)
        )

    def _weights(self, log_theta):
        return np.exp(log_theta) / self.num_slots

    def _kernel_codes(self, first, second, log_theta=None, log_signal=None):
        weights = self._weights(self.log_theta if log_theta is None else log_theta)
        log_signal = self.log_signal if log_signal is None else log_signal
        matched = (first * weights[self._column_slot]) @ second.T
        return np.exp(log_signal - (weights.sum() - matched))

    def log_marginal_likelihood(self, vectors, targets):
        """The log marginal likelihood of targets with the current parameters.

        Args:
            vectors: Integer array of shape `(n, D)`.
            targets: Float array of shape `(n,)`.

        Returns:
            A float.
        """
        codes = one_hot(vectors, self.cardinalities)
        value, _ = self._objective(
            codes, np.asarray(targets, float), self._pack(), with_prior=False
        )
        return value

    def fit(self, vectors, targets, steps=100, learning_rate=0.1):
        """Fits the hyperparameters, then conditions on the data.

        Maximises the log marginal likelihood plus the log priors by Adam
        steps on the log parameters, starting from the current ones.

        Args:
            vectors: Integer array of shape `(n, D)`.
            targets: Standardised float array of shape `(n,)`.
            steps: Number of Adam steps.
            learning_rate: Adam's step size on the log parameters.

        Returns:
            This GP.
        """
        codes = one_hot(vectors, self.cardinalities)
        targets = np.asarray(targets, dtype=float)
        low, high = self._bounds()
        params = self._pack()
        best = (-np.inf, params)
        first = np.zeros_like(params)
        second = np.zeros_like(params)
        for step in range(1, steps + 1):
            value, grad = self._objective(codes, targets, params)
            if value > best[0]:
                best = (value, params.copy())
            first = 0.9 * first + 0.1 * grad
            second = 0.999 * second + 0.001 * grad**2
            update = (first / (1 - 0.9**step)) / (
                np.sqrt(second / (1 - 0.999**step)) + 1e-8
            )
            params = np.clip(params + learning_rate * update, low, high)
        value, _ = self._objective(codes, targets, params)
        if value > best[0]:
            best = (value, params)
        self._unpack(best[1])
        return self._condition_codes(codes, targets)

    def condition(self, vectors, targets):
        """Conditions on data with the current hyperparameters (no fitting).

        Args:
            vectors: Integer array of shape `(n, D)`.
            targets: Standardised float array of shape `(n,)`.

        Returns:
            This GP.
        """
        return self._condition_codes(
            one_hot(vectors, self.cardinalities), np.asarray(targets, dtype=float)
        )

    def predict(self, vectors):
        """The posterior mean and standard deviation of the latent function.

        Args:
            vectors: Integer array of shape `(m, D)`.

        Returns:
            A tuple `(mean, std)` of float arrays of shape `(m,)`.
        """
        if self._codes is None:
            raise ValueError("The GP has no data: call `fit()` or `condition()`.")
        codes = one_hot(vectors, self.cardinalities)
        cross = self._kernel_codes(self._codes, codes)
        mean = cross.T @ self._alpha
        solved = self._cholesky_inverse @ cross
        variance = self.signal - np.sum(solved**2, axis=0)
        return mean, np.sqrt(np.maximum(variance, 1e-12))

    # ------------------------------------------------------------ internals

    def _pack(self):
        return np.concatenate([self.log_theta, [self.log_signal, self.log_noise]])

    def _unpack(self, params):
        self.log_theta = np.array(params[: self.num_slots])
        self.log_signal = float(params[-2])
        self.log_noise = float(params[-1])

    def _bounds(self):
        names = ["theta"] * self.num_slots + ["signal", "noise"]
        return (
            np.array([_LOG_BOUNDS[n][0] for n in names]),
            np.array([_LOG_BOUNDS[n][1] for n in names]),
        )

    def _condition_codes(self, codes, targets):
        matrix = self._kernel_codes(codes, codes)
        matrix[np.diag_indices_from(matrix)] += self.noise + _JITTER
        self._cholesky_inverse = _triangular_inverse(np.linalg.cholesky(matrix))
        self._alpha = self._cholesky_inverse.T @ (self._cholesky_inverse @ targets)
        self._codes = codes
        return self

    def _objective(self, codes, targets, params, with_prior=True):
        """Log marginal likelihood (+ log prior) and its gradient."""
        log_theta = params[: self.num_slots]
        log_signal, log_noise = params[-2], params[-1]
        n = len(targets)
        latent = self._kernel_codes(codes, codes, log_theta, log_signal)
        matrix = latent.copy()
        matrix[np.diag_indices(n)] += math.exp(log_noise) + _JITTER
        try:
            cholesky = np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            return -np.inf, np.zeros_like(params)
        cholesky_inverse = _triangular_inverse(cholesky)
        inverse = cholesky_inverse.T @ cholesky_inverse
        alpha = inverse @ targets
        value = (
            -0.5 * targets @ alpha
            - np.log(np.diag(cholesky)).sum()
            - 0.5 * n * math.log(2 * math.pi)
        )
        outer = np.outer(alpha, alpha) - inverse
        weighted = outer * latent
        # sum_ij weighted_ij [x_id != x_jd] = sum(weighted) - matches of slot d.
        matches = np.bincount(
            self._column_slot,
            weights=np.sum(codes * (weighted @ codes), axis=0),
            minlength=self.num_slots,
        )
        mismatches = weighted.sum() - matches
        grad = np.empty_like(params)
        grad[: self.num_slots] = -0.5 * self._weights(log_theta) * mismatches
        grad[-2] = 0.5 * weighted.sum()
        grad[-1] = 0.5 * math.exp(log_noise) * np.trace(outer)
        if with_prior:
            names = ["theta"] * self.num_slots + ["signal", "noise"]
            means = np.array([_PRIORS[name][0] for name in names])
            stds = np.array([_PRIORS[name][1] for name in names])
            value -= 0.5 * np.sum(((params - means) / stds) ** 2)
            grad -= (params - means) / stds**2
        return float(value), grad


def _triangular_inverse(lower):
    """The inverse of a lower-triangular matrix, by blocks.

    Matrix products only, down to blocks of 32: faster than a LAPACK solve
    for the sizes used here, and much faster on a busy multi-threaded BLAS.
    """
    n = len(lower)
    if n <= 32:
        return np.tril(np.linalg.inv(lower))
    half = n // 2
    top = _triangular_inverse(lower[:half, :half])
    bottom = _triangular_inverse(lower[half:, half:])
    inverse = np.zeros_like(lower)
    inverse[:half, :half] = top
    inverse[half:, half:] = bottom
    inverse[half:, :half] = -bottom @ (lower[half:, :half] @ top)
    return inverse


def _normal_cdf(z):
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))


def _normal_pdf(z):
    return np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)


_erf = np.vectorize(math.erf, otypes=[float])


def expected_improvement(mean, std, best, xi=0.0):
    """Expected improvement over `best` (maximisation).

    Args:
        mean: Posterior means, float array.
        std: Posterior standard deviations, float array.
        best: The incumbent's value.
        xi: The improvement required before counting any (exploration).

    Returns:
        A float array, non-negative.
    """
    mean = np.asarray(mean, dtype=float)
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    gain = mean - best - xi
    z = gain / std
    return np.maximum(gain * _normal_cdf(z) + std * _normal_pdf(z), 0.0)


def upper_confidence_bound(mean, std, beta):
    """The upper confidence bound `mean + beta * std` (maximisation)."""
    return np.asarray(mean, dtype=float) + beta * np.asarray(std, dtype=float)
