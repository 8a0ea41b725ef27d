"""Ensembles of searched models: greedy selection and the averaging model.

`greedy_selection` is ensemble selection with replacement (Caruana et al.,
"Ensemble selection from libraries of models", ICML 2004): starting from an
empty ensemble, each of `size` rounds adds the candidate (possibly one
already in) whose addition gives the best score of the averaged validation
predictions, so the ensemble has at most `size` members, weighted by how
often each was chosen. `ensemble_model` turns the chosen models and their weights
into one functional Keras model whose output is the weighted average of
theirs (probabilities for classification, predictions for regression), so
it exports and serves like a single model.
"""

import keras
import numpy as np

from keras_nas import validation


def greedy_selection(predictions, loss, size):
    """Chooses ensemble weights by greedy selection with replacement.

    Args:
        predictions: A sequence of arrays of the same shape, one per
            candidate model: its predictions on the validation split.
        loss: Function from averaged predictions (an array of that shape)
            to a float or a tuple of floats, lower is better (e.g. minus
            the validation accuracy, then the validation loss for ties).
        size: The rounds, hence the most members; a positive integer.

    Returns:
        `(weights, losses)`: a float array with one weight per candidate
        (the share of the rounds that chose it, summing to 1; ties go to
        the earlier candidate), and the loss after each round.

    Raises:
        ValueError: If `size` is not a positive integer, or `predictions`
            is empty or its arrays differ in shape.

    Example:

    ```python
    weights, losses = greedy_selection(
        [p1, p2, p3], lambda p: log_loss(y_val, p), size=5
    )
    ```
    """
    validation.check_positive_int("size", size)
    predictions = [np.asarray(p, dtype="float64") for p in predictions]
    if not predictions:
        raise ValueError(
            "Received an invalid value for `predictions`, expected at least "
            "one candidate's predictions. Received: predictions=[]"
        )
    shapes = {p.shape for p in predictions}
    if len(shapes) > 1:
        raise ValueError(
            "Received an invalid value for `predictions`, expected arrays of "
            f"one shape. Received shapes: {sorted(shapes)}"
        )
    counts = np.zeros(len(predictions), dtype="int64")
    total = np.zeros_like(predictions[0])
    losses = []
    for round_number in range(1, size + 1):
        scores = [loss((total + p) / round_number) for p in predictions]
        best = min(range(len(scores)), key=scores.__getitem__)
        counts[best] += 1
        total += predictions[best]
        losses.append(scores[best])
    return counts / size, losses


def ensemble_model(models, weights, name="ensemble"):
    """A functional model returning the weighted average of `models`' outputs.

    Each member is scaled by its weight (`keras.layers.Rescaling`) and the
    results are added, so the model holds only built-in layers around the
    members and saves, loads and exports like any functional model; its
    input takes the first member's input name, so the SavedModel's `serve`
    signature is that of a single member. Members of weight 0 are left
    out; a single member of weight 1 is returned as it is. The members are
    renamed `member_0`, `member_1`, ... (a functional model's layers need
    distinct names).

    Args:
        models: Built single-input, single-output `keras.Model`s taking the
            same input shape and giving the same output shape.
        weights: One non-negative weight per model, summing to 1.
        name: The ensemble model's name.

    Returns:
        A `keras.Model` (not compiled).

    Raises:
        ValueError: If `models` and `weights` differ in length, a weight is
            negative, or the weights do not sum to 1.

    Example:

    ```python
    model = ensemble_model([m1, m2], [0.6, 0.4])
    averaged = model(x)  # 0.6 * m1(x) + 0.4 * m2(x)
    ```
    """
    weights = [float(w) for w in weights]
    if len(models) != len(weights) or not models:
        raise ValueError(
            "Received invalid values for `models` and `weights`, expected one "
            f"weight per model. Received: {len(models)} models, "
            f"weights={weights}"
        )
    if min(weights) < 0 or not np.isclose(sum(weights), 1.0):
        raise ValueError(
            "Received an invalid value for `weights`, expected non-negative "
            f"weights summing to 1. Received: weights={weights}"
        )
    members = [(m, w) for m, w in zip(models, weights) if w > 0]
    if len(members) == 1:
        return members[0][0]
    inputs = keras.Input(
        shape=models[0].input_shape[1:], name=models[0].inputs[0].name
    )
    scaled = []
    for index, (member, weight) in enumerate(members):
        member.name = f"member_{index}"
        scaled.append(
            keras.layers.Rescaling(weight, name=f"weight_{index}")(member(inputs))
        )
    outputs = keras.layers.Add(name="average")(scaled)
    return keras.Model(inputs, outputs, name=name)
