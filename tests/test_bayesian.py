"""Tests for BayesianOracle and its Gaussian process, driven without training."""

import math

import numpy as np
import pytest

from keras_nas.encoding import INACTIVE
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles.bayesian import BayesianOracle
from keras_nas.oracles.bayesian import default_num_initial_points
from keras_nas.oracles.bayesian import neighbours
from keras_nas.oracles.gaussian_process import CategoricalGP
from keras_nas.oracles.gaussian_process import expected_improvement
from keras_nas.oracles.gaussian_process import one_hot
from keras_nas.oracles.gaussian_process import upper_confidence_bound
from oracle_helpers import OBJECTIVE
from oracle_helpers import declared
from oracle_helpers import nb201
from oracle_helpers import run
from oracle_helpers import run_workers
from oracle_helpers import start


def make(**kwargs):
    kwargs.setdefault("num_initial_points", 5)
    return BayesianOracle(OBJECTIVE, **kwargs)


def random_vectors(cardinalities, n, rng, inactive_rate=0.2):
    vectors = np.stack([rng.integers(c, size=n) for c in cardinalities], axis=1)
    vectors[rng.random(vectors.shape) < inactive_rate] = INACTIVE
    return vectors


# ------------------------------------------------------------ the GP


def test_kernel_matches_the_weighted_hamming_formula_and_is_psd():
    rng = np.random.default_rng(0)
    cardinalities = np.array([5, 3, 4, 2])
    vectors = random_vectors(cardinalities, 40, rng)
    gp = CategoricalGP(cardinalities)
    gp.set_params({"log_theta": [0.5, -1.0, 2.0, 0.0], "log_signal": 0.3,
                   "log_noise": -4.0})
    matrix = gp.kernel(vectors, vectors)
    differ = (vectors[:, None, :] != vectors[None, :, :]).astype(float)
    expected = gp.signal * np.exp(-(differ @ gp.theta) / len(cardinalities))
    np.testing.assert_allclose(matrix, expected, rtol=1e-12)
    np.testing.assert_allclose(np.diag(matrix), gp.signal)
    assert np.allclose(matrix, matrix.T)
    assert np.linalg.eigvalsh(matrix).min() > -1e-9


def test_inactive_is_a_category_of_its_own():
    codes = one_hot([[INACTIVE, 0], [0, 1]], [2, 2])
    assert codes.shape == (2, 6)
    assert codes.tolist() == [[1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1]]
    gp = CategoricalGP([2, 2])
    inactive_vs_value = gp.kernel([[INACTIVE, 0]], [[0, 0]])[0, 0]
    assert inactive_vs_value < gp.kernel([[0, 0]], [[0, 0]])[0, 0]


def test_gradient_of_the_log_marginal_likelihood():
    rng = np.random.default_rng(1)
    cardinalities = np.array([5, 5, 3])
    vectors = random_vectors(cardinalities, 25, rng)
    targets = rng.normal(size=25)
    gp = CategoricalGP(cardinalities)
    codes = one_hot(vectors, cardinalities)
    params = rng.normal(size=5) * 0.5
    _, grad = gp._objective(codes, targets, params)
    for i in range(len(params)):
        step = np.zeros_like(params)
        step[i] = 1e-5
        numeric = (gp._objective(codes, targets, params + step)[0]
                   - gp._objective(codes, targets, params - step)[0]) / 2e-5
        assert numeric == pytest.approx(grad[i], rel=1e-4, abs=1e-6)


def test_posterior_interpolates_with_low_noise():
    rng = np.random.default_rng(2)
    cardinalities = np.array([4, 4, 4])
    vectors = np.unique(random_vectors(cardinalities, 20, rng, 0.0), axis=0)
    targets = rng.normal(size=len(vectors))
    gp = CategoricalGP(cardinalities, {"log_theta": [1.0] * 3, "log_signal": 0.0,
                                       "log_noise": math.log(1e-6)})
    gp.condition(vectors, targets)
    mean, std = gp.predict(vectors)
    np.testing.assert_allclose(mean, targets, atol=1e-3)
    assert std.max() < 1e-2
    _, far_std = gp.predict(np.array([[3, 3, 3]]) if [3, 3, 3] not in
                            vectors.tolist() else np.array([[0, 0, 0]]))
    assert far_std[0] > 0.1


def test_fit_finds_the_slot_that_matters():
    """Targets depend on slot 0 only: its weight grows, the others shrink."""
    rng = np.random.default_rng(3)
    cardinalities = np.array([5, 5, 5, 5])
    vectors = random_vectors(cardinalities, 60, rng, 0.0)
    effects = np.array([-1.5, -0.5, 0.0, 0.5, 1.5])
    targets = effects[vectors[:, 0]]
    targets = (targets - targets.mean()) / targets.std()
    gp = CategoricalGP(cardinalities)
    before = gp.log_marginal_likelihood(vectors, targets)
    gp.fit(vectors, targets, steps=200)
    assert gp.log_marginal_likelihood(vectors, targets) > before
    assert gp.theta[0] > 3 * gp.theta[1:].max()


def test_expected_improvement_prefers_the_predicted_better_candidate():
    ei = expected_improvement([1.0, 0.0], [0.2, 0.2], best=0.5)
    assert ei[0] > ei[1] >= 0
    # Same mean, more uncertainty: more expected improvement.
    ei = expected_improvement([0.0, 0.0], [0.1, 1.0], best=0.5)
    assert ei[1] > ei[0]
    # A far-below-best candidate with no uncertainty gains nothing.
    assert expected_improvement([-3.0], [1e-9], best=0.0)[0] == 0.0
    # Closed form at mean == best: std * pdf(0).
    assert expected_improvement([0.0], [2.0], best=0.0)[0] == pytest.approx(
        2.0 / math.sqrt(2 * math.pi)
    )
    ucb = upper_confidence_bound([0.0, 0.5], [1.0, 0.1], beta=2.0)
    assert ucb.tolist() == pytest.approx([2.0, 0.7])


def test_neighbours_are_one_and_two_decisions_away():
    hp = declared(nb201())
    enc = ArchitectureEncoding(hp)
    rng = np.random.default_rng(4)
    vector = enc.random_vector(rng)
    found = neighbours(enc, vector, rng)
    distances = [int(np.count_nonzero(v != vector)) for v in found]
    assert distances[:24] == [1] * 24  # every single change of 6 x 5 values
    assert len({enc.key(v) for v in found[:24]}) == 24
    assert set(distances[24:]) == {2} and len(distances) == 48


# ------------------------------------------------------------ the oracle


def test_running_trials_join_the_surrogate_as_believed_values(tmp_path, monkeypatch):
    """Kriging believer: with three workers, the trials still running join
    the surrogate's data with their predicted value before each proposal."""
    space = nb201()
    oracle = make(max_trials=24, seed=7)
    start(oracle, declared(space), tmp_path, space=space)
    believed = []
    condition = CategoricalGP.condition

    def spy(gp, vectors, targets):
        believed.append(len(vectors) - len(oracle._data[0]))
        return condition(gp, vectors, targets)

    monkeypatch.setattr(CategoricalGP, "condition", spy)
    assert len(run_workers(oracle)) == 24
    assert believed and set(believed) <= {1, 2} and 2 in believed


def test_surrogate_data_is_capped(tmp_path):
    oracle = make(max_trials=30, seed=11, max_observations=8)
    run(oracle, nb201(), tmp_path, n=20)
    training = oracle._training_set()
    assert len(training) == 8
    ranked = sorted(oracle.observed, key=lambda t: -oracle.fitness(t))
    assert set(ranked[:4]) <= set(training)
    assert oracle.observed[-1] in training


def test_default_number_of_initial_points():
    assert default_num_initial_points(100) == 10
    assert default_num_initial_points(20) == 4
    assert default_num_initial_points(5) == 2
    assert BayesianOracle(OBJECTIVE, max_trials=1000).num_initial_points == 10


def test_predictions_are_recorded_for_the_report(tmp_path):
    oracle = make(max_trials=12, seed=3)
    run(oracle, nb201(), tmp_path, n=12)
    order = oracle.start_order
    assert set(oracle.predictions) == set(order[5:])
    assert all(math.isfinite(v) for v in oracle.predictions.values())
    again = make(max_trials=12, seed=3)
    again.set_state(oracle.get_state())
    assert again.predictions == oracle.predictions
