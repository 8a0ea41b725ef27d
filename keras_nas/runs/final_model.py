"""The model an export ships: the trial's, final-trained, or an ensemble.

`make_final_model` is shared by `NASTuner.export` and `keras-nas export`:
given the ranked candidate trials, how to load a trial's model and how to
train one again (`keras_nas.runs.final_fit`), it returns the model to
export and the figures `metrics.json` records beside the trial's own.
"""

import numpy as np

from keras_nas import validation
from keras_nas.data.batches import labelled
from keras_nas.data.batches import model_input
from keras_nas.runs.ensembles import ensemble_model
from keras_nas.runs.ensembles import greedy_selection
from keras_nas.tasks import evaluate

ENSEMBLE_POOL = 10
"""Candidates of an ensemble: the best this many trials, or `2 * ensemble`."""


def check_ensemble(ensemble, task):
    """Checks `ensemble`, the most members of an exported ensemble.

    Args:
        ensemble: A positive integer (1: a single model).
        task: The space's `keras_nas.tasks.Task`, `None` for a plain
            `build(hp)` space.

    Returns:
        The value.

    Raises:
        ValueError: If `ensemble` is not a positive integer, or is above 1
            for a space with no task (whose outputs cannot be averaged
            knowingly).
    """
    validation.check_positive_int("ensemble", ensemble)
    if ensemble > 1 and task is None:
        raise ValueError(
            "Received an invalid value for `ensemble`: ensembles need a "
            "keras-nas space, whose task says how to average and score the "
            f"outputs. Received: ensemble={ensemble} with a plain build(hp)"
        )
    return ensemble


def ensemble_members(figures, trials, describe):
    """The ensemble members' descriptions, with trial ids and weights.

    Args:
        figures: What `make_final_model` returned beside the model.
        trials: The search's trials, a dict from trial id to trial.
        describe: Function from a trial's values to its description dict.

    Returns:
        A list of dicts for `architecture.json`, empty for a single model.
    """
    return [
        {**describe(trials[m["trial_id"]].hyperparameters.values),
         "trial_id": m["trial_id"], "weight": m["weight"]}
        for m in figures.get("ensemble", {}).get("members", [])
    ]


def validation_score(task, y):
    """The score greedy selection minimises on averaged predictions.

    Measured: on digits, ensembles chosen by the validation loss alone kept
    a single member (the most confident model's loss beats every average),
    while choosing by accuracy, ties by the loss, averaged 2 to 5 members
    and scored higher on the test split (see the README).

    Args:
        task: The space's `keras_nas.tasks.Task`.
        y: The validation labels, encoded.

    Returns:
        A function from predictions to `(-accuracy, loss)` for
        classification, `(loss,)` for regression.
    """
    def loss(predictions):
        return float(np.mean(task.loss_fn(y, predictions.astype("float32"))))

    if not task.is_classification:
        return lambda predictions: (loss(predictions),)
    labels = np.asarray(y).reshape(len(y), -1)[:, 0]

    def score(predictions):
        if predictions.shape[-1] == 1:
            predicted = (predictions[:, 0] > 0.5).astype(labels.dtype)
        else:
            predicted = predictions.argmax(axis=-1)
        return (-float(np.mean(predicted == labels)), loss(predictions))

    return score


def make_final_model(
    ranked,
    *,
    load_model,
    retrain=None,
    task=None,
    validation_data=None,
    test_data=None,
    ensemble=1,
):
    """Builds the model to export from the ranked trials.

    With `ensemble=1` it is the first trial's model, trained again by
    `retrain` when given. With `ensemble=K > 1`, the best
    `max(ENSEMBLE_POOL, 2 * K)` trials' models predict the validation
    split; `keras_nas.runs.ensembles.greedy_selection` chooses up to `K` members
    and their weights by `validation_score` (for classification the
    validation accuracy, ties by the loss; for regression the loss), each
    member is trained
    again by `retrain` when given, and `keras_nas.runs.ensembles.ensemble_model`
    averages them.

    Args:
        ranked: Completed `keras_tuner.engine.trial.Trial`s, best first;
            the first is the selected trial.
        load_model: Function from a trial to its model with the weights of
            its best epoch.
        retrain: Function from a trial to `(model, record)`, the final fit
            (`keras_nas.runs.final_fit.final_fit` with the search's data),
            or `None` to keep the trials' weights.
        task: The space's `keras_nas.tasks.Task` (needed for ensembles).
        validation_data: `(x, y)` of the validation split, labels encoded
            (needed for ensembles).
        test_data: `(x, y)` of the test split, or `None`: the test figures
            of the trial's own model are then not measured.
        ensemble: The most members; 1 for a single model.

    Returns:
        `(model, figures)`: the model to export, and a JSON-safe dict of
        what `metrics.json` adds. `"final_fit"`: the final fits' records
        (`None` without `retrain`); with a test split and a changed model,
        `"trial_test_*"` figures of the selected trial's own weights; with
        `ensemble > 1`, `"ensemble"`: the `single_best` trial id, the
        members (trial ids, weights, final fits), the validation figures of
        the averaged trial models (`val_*`) and the `validation_score`
        after each selection round.

    Raises:
        ValueError: If `ranked` is empty, `ensemble` is invalid, or an
            ensemble lacks a task or validation data.
    """
    if not ranked:
        raise ValueError("Received an invalid value for `ranked`: no trials.")
    check_ensemble(ensemble, task)
    figures = {"final_fit": None}
    trial_model = load_model(ranked[0])
    if test_data is not None and (retrain is not None or ensemble > 1):
        figures.update(
            evaluate(trial_model, *labelled(*test_data), prefix="trial_test_")
        )
    if ensemble == 1:
        if retrain is None:
            return trial_model, figures
        model, record = retrain(ranked[0])
        figures["final_fit"] = [record]
        return model, figures
    if validation_data is None:
        raise ValueError(
            "Received an invalid value for `validation_data`: an ensemble is "
            "chosen on the validation split. Received: validation_data=None"
        )
    pool = ranked[:max(ENSEMBLE_POOL, 2 * ensemble)]
    models = [trial_model] + [load_model(trial) for trial in pool[1:]]
    x_val, y_val = validation_data
    predictions = [m.predict(model_input(x_val), verbose=0) for m in models]
    weights, losses = greedy_selection(
        predictions, validation_score(task, y_val), ensemble
    )
    chosen = [i for i, w in enumerate(weights) if w > 0]
    searched = ensemble_model(
        [models[i] for i in chosen], [weights[i] for i in chosen]
    )
    task.compile(searched, "adam")
    summary = {
        "size": ensemble,
        "single_best": ranked[0].trial_id,
        "members": [
            {"trial_id": pool[i].trial_id, "weight": float(weights[i])}
            for i in chosen
        ],
        **evaluate(searched, *labelled(x_val, y_val), prefix="val_"),
        "selection_scores": losses,
    }
    figures["ensemble"] = summary
    if retrain is None:
        return searched, figures
    trained = []
    for member, index in zip(summary["members"], chosen):
        model, record = retrain(pool[index])
        member["final_fit"] = record
        trained.append(model)
    figures["final_fit"] = [m["final_fit"] for m in summary["members"]]
    model = ensemble_model(trained, [weights[i] for i in chosen])
    task.compile(model, "adam")
    return model, figures
