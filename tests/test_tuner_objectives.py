"""NASTuner with objectives beyond accuracy: measured costs, quality metrics,
cost objectives, several objectives, the front, selection at export."""

import json

import keras_tuner as kt
import numpy as np
import pytest

import keras_nas as kn
from keras_nas.objectives.classification import MacroF1
from keras_nas.objectives.classification import MacroPrecision
from keras_nas.objectives.classification import MacroRecall

COSTS = {"params", "flops", "latency_ms", "throughput", "model_bytes",
         "train_seconds_per_epoch"}


def space_for(tiny_images, **kwargs):
    return kn.spaces.MLP(
        input_shape=tiny_images[0].shape[1:], num_classes=3, max_layers=2,
        widths=(4, 16), activations=("relu",), dropout_rates=(0.0,), **kwargs,
    )


def search(tuner, tiny_images):
    x, y = tiny_images
    tuner.search(x, y, validation_data=(x, y), epochs=2, batch_size=12)


def scores_by_hand(y_true, y_pred, num_classes):
    """Macro precision, recall and F1 as scikit-learn computes them."""
    precision, recall, f1 = [], [], []
    for c in range(num_classes):
        tp = np.sum((y_pred == c) & (y_true == c))
        predicted, actual = np.sum(y_pred == c), np.sum(y_true == c)
        if predicted + actual == 0:
            continue
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return np.mean(precision), np.mean(recall), np.mean(f1)


@pytest.mark.parametrize("num_classes", [2, 4])
def test_macro_scores_match_a_count_by_hand(num_classes):
    rng = np.random.default_rng(num_classes)
    y_true = rng.integers(num_classes - 1, size=200)  # The last class never occurs.
    probabilities = rng.dirichlet(np.ones(num_classes), size=200)
    y_pred = probabilities.argmax(axis=1)
    metrics = [MacroPrecision(num_classes), MacroRecall(num_classes), MacroF1(num_classes)]
    for metric in metrics:  # Two batches: the figure is the epoch's.
        metric.update_state(y_true[:120], probabilities[:120])
        metric.update_state(y_true[120:], probabilities[120:])
    expected = scores_by_hand(y_true, y_pred, num_classes)
    np.testing.assert_allclose([float(m.result()) for m in metrics], expected, atol=1e-6)


def test_binary_scores_threshold_one_probability():
    y_true = np.array([0, 0, 1, 1, 1])
    probability = np.array([[0.2], [0.7], [0.9], [0.4], [0.8]])
    metric = MacroF1(2)
    metric.update_state(y_true, probability)
    expected = scores_by_hand(y_true, (probability[:, 0] > 0.5).astype(int), 2)[2]
    assert float(metric.result()) == pytest.approx(expected)


def test_every_trial_records_its_costs_and_quality(tiny_images, tmp_path):
    tuner = kn.NASTuner(
        space_for(tiny_images), max_trials=2, directory=tmp_path, seed=0,
        latency={"repeats": 3, "throughput_batch_size": 8}, verbose=0,
    )
    search(tuner, tiny_images)
    for trial in tuner.oracle.trials.values():
        names = set(trial.metrics.metrics)
        assert COSTS <= names
        assert {"val_precision", "val_recall", "val_f1"} <= names
        assert trial.metrics.get_last_value("flops") > 0


def test_a_cost_objective_is_minimised_and_epochs_ranked_by_the_task(
    tiny_images, tmp_path
):
    tuner = kn.NASTuner(
        space_for(tiny_images), objective="flops", max_trials=3,
        directory=tmp_path, seed=0, verbose=0,
    )
    assert tuner.oracle.objective.direction == "min"
    assert tuner.epoch_objective.name == "val_accuracy"
    search(tuner, tiny_images)
    best = tuner.oracle.get_best_trials(1)[0]
    flops = [t.metrics.get_last_value("flops") for t in tuner.oracle.trials.values()]
    assert best.score == min(flops)


def test_several_objectives_give_a_front_and_export_takes_the_rule(
    tiny_images, tmp_path
):
    objectives = [kt.Objective("val_accuracy", "max"), kt.Objective("params", "min")]
    tuner = kn.NASTuner(
        space_for(tiny_images), objective=objectives, max_trials=5,
        directory=tmp_path / "runs", seed=1, verbose=0,
    )
    search(tuner, tiny_images)
    front = tuner.get_pareto_front()
    trials = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    values = {t.trial_id: kn.objectives.pareto.trial_values(t, objectives) for t in trials}
    for member in front:  # No completed trial dominates a member of the front.
        a = values[member.trial_id]
        assert not any(
            b[0] >= a[0] and b[1] <= a[1] and (b[0] > a[0] or b[1] < a[1])
            for b in values.values()
        )
    smallest = min(trials, key=lambda t: values[t.trial_id][1])
    limit = values[smallest.trial_id][1]
    path = tuner.export(
        tmp_path / "export", x_test=tiny_images[0], y_test=tiny_images[1],
        select=f"val_accuracy, params<={limit:.0f}",
    )
    metrics = json.loads((path / "metrics.json").read_text())
    chosen = json.loads((path / "architecture.json").read_text())["trial_id"]
    assert values[chosen][1] <= limit
    assert metrics["selection"]["rule"] == f"val_accuracy, params<={limit:.0f}"
    assert f"trial {chosen}" in metrics["selection"]["reason"]
    assert [o["name"] for o in metrics["objectives"]] == ["val_accuracy", "params"]
    assert "test_f1" in metrics


def test_leaderboard_lists_the_front_first(tiny_images, tmp_path, capsys):
    objectives = [kt.Objective("val_accuracy", "max"), kt.Objective("flops", "min")]
    tuner = kn.NASTuner(
        space_for(tiny_images), objective=objectives, max_trials=4,
        directory=tmp_path, seed=2, verbose=0,
    )
    search(tuner, tiny_images)
    tuner.results_summary(columns=["val_f1"])
    text = capsys.readouterr().out
    header, columns, *rows = text.splitlines()
    assert header.startswith("Leaderboard: Pareto fronts of val_accuracy (max), flops (min)")
    assert columns.split()[:6] == ["rank", "trial", "front", "val_accuracy", "flops", "val_f1"]
    fronts = [int(row.split()[2]) for row in rows]
    assert fronts == sorted(fronts) and fronts[0] == 0
    assert fronts.count(0) == len(tuner.get_pareto_front())


def test_export_refuses_a_rule_nothing_meets(tiny_images, tmp_path):
    tuner = kn.NASTuner(
        space_for(tiny_images), objective=["val_accuracy", "params"], max_trials=2,
        directory=tmp_path, seed=0, verbose=0,
    )
    search(tuner, tiny_images)
    with pytest.raises(ValueError, match="params<=1"):
        tuner.export(tmp_path / "export", select="val_accuracy, params<=1")


def test_latency_budget_without_latency_is_refused(tiny_images, tmp_path):
    with pytest.raises(ValueError, match="max_latency_ms"):
        kn.NASTuner(space_for(tiny_images), latency=False, max_latency_ms=2.0,
                    directory=tmp_path)
