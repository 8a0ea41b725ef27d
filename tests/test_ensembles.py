"""Tests for keras_nas.runs.ensembles: greedy selection and the averaging model."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nas.runs.ensembles import ensemble_model
from keras_nas.runs.ensembles import greedy_selection
from keras_nas.runs.export import export_saved_model


def squared_error(target):
    return lambda p: float(np.mean((p - target) ** 2))


def test_greedy_selection_adds_with_replacement():
    # Target 0. Round 1 takes A (0.25); round 2 adds B (mean -0.25, 0.0625);
    # round 3 adds A again (mean 0, loss 0); round 4 adds A a third time
    # (mean 0.125), which beats adding B (-0.25) or C (0.5).
    a, b, c = np.array([0.5]), np.array([-1.0]), np.array([2.0])
    weights, losses = greedy_selection([a, b, c], squared_error(0.0), size=4)
    np.testing.assert_allclose(weights, [3 / 4, 1 / 4, 0.0])
    np.testing.assert_allclose(losses, [0.25, 0.0625, 0.0, 0.015625])


def test_greedy_selection_of_one_round_is_the_best_single_model():
    candidates = [np.array([3.0]), np.array([-0.5]), np.array([1.0])]
    weights, losses = greedy_selection(candidates, squared_error(0.0), size=1)
    np.testing.assert_allclose(weights, [0.0, 1.0, 0.0])
    assert losses == [0.25]


def test_greedy_selection_ties_go_to_the_earlier_candidate():
    same = np.array([1.0])
    weights, _ = greedy_selection([same, same], squared_error(0.0), size=2)
    np.testing.assert_allclose(weights, [1.0, 0.0])


def test_greedy_selection_breaks_accuracy_ties_by_loss():
    # Three samples of class 0. A is right on two, B and C on one each.
    # Averaged with A, B and C are both right on all three; A + B has the
    # lower log loss (its probabilities of class 0 are higher).
    y = np.array([0, 0, 0])
    a = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    b = np.array([[0.45, 0.55], [0.45, 0.55], [0.8, 0.2]])
    c = np.array([[0.4, 0.6], [0.4, 0.6], [0.75, 0.25]])

    def score(p):
        accuracy = float(np.mean(p.argmax(axis=1) == y))
        return (-accuracy, float(-np.mean(np.log(p[:, 0]))))

    weights, scores = greedy_selection([a, b, c], score, size=2)
    np.testing.assert_allclose(weights, [0.5, 0.5, 0.0])
    assert scores[0][0] == pytest.approx(-2 / 3) and scores[1][0] == -1.0


def test_greedy_selection_averages_probabilities():
    # Each model is right on one sample only; together they are right on both.
    y = np.array([0, 1])
    first = np.array([[0.9, 0.1], [0.6, 0.4]])
    second = np.array([[0.4, 0.6], [0.1, 0.9]])

    def log_loss(p):
        return float(-np.mean(np.log(p[np.arange(2), y])))

    weights, losses = greedy_selection([first, second], log_loss, size=2)
    np.testing.assert_allclose(weights, [0.5, 0.5])
    assert losses[1] < losses[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"predictions": [np.zeros(2)], "size": 0}, "size=0"),
        ({"predictions": [], "size": 2}, "predictions=[]"),
        ({"predictions": [np.zeros(2), np.zeros(3)], "size": 2}, "shapes"),
    ],
)
def test_greedy_selection_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        greedy_selection(loss=squared_error(0.0), **kwargs)


def small_model(units, seed):
    inputs = keras.Input(shape=(4,), name="inputs")
    hidden = keras.layers.Dense(units, activation="relu")(inputs)
    outputs = keras.layers.Dense(
        3, activation="softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed),
    )(hidden)
    return keras.Model(inputs, outputs, name="mlp")


def test_ensemble_model_is_the_weighted_average():
    first, second = small_model(5, 1), small_model(3, 2)
    x = np.random.default_rng(0).normal(size=(7, 4)).astype("float32")
    expected = 0.25 * first(x).numpy() + 0.75 * second(x).numpy()
    model = ensemble_model([first, second], [0.25, 0.75])
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x).numpy().sum(axis=1), 1.0, rtol=1e-5)


def test_ensemble_model_of_one_member_is_that_model():
    only = small_model(4, 1)
    assert ensemble_model([only, small_model(2, 3)], [1.0, 0.0]) is only


@pytest.mark.parametrize(
    "weights, message",
    [([0.5], "one weight per model"), ([1.5, -0.5], "non-negative"),
     ([0.5, 0.4], "summing to 1")],
)
def test_ensemble_model_refuses_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        ensemble_model([small_model(2, 1), small_model(2, 2)], weights)


def test_ensemble_saved_model_serves_what_keras_computes(tmp_path):
    model = ensemble_model([small_model(5, 1), small_model(3, 2)], [0.4, 0.6])
    x = np.random.default_rng(1).normal(size=(6, 4)).astype("float32")
    path = export_saved_model(model, tmp_path / "ensemble")
    m = tf.saved_model.load(str(path))
    np.testing.assert_allclose(
        m.serve(tf.constant(x)).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6
    )
    assert m.serve.input_signature[0].shape.as_list() == [None, 4]
    reloaded = keras.models.load_model(path / "model.keras")
    np.testing.assert_allclose(reloaded(x).numpy(), model(x).numpy(), rtol=1e-5)
