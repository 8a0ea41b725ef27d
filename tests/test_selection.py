"""Choosing one trial of a multi-objective search by a rule."""

import keras_tuner as kt
import pytest

from keras_nas.objectives import parse_rule
from keras_nas.objectives import select_trial

OBJECTIVES = [kt.Objective("val_accuracy", "max"), kt.Objective("latency_ms", "min")]


def _trial(trial_id, status="COMPLETED", **metrics):
    trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id=trial_id, status=status)
    for name, value in metrics.items():
        trial.metrics.update(name, value)
    return trial


TRIALS = [
    _trial("0", val_accuracy=0.90, latency_ms=2.0, params=900),
    _trial("1", val_accuracy=0.95, latency_ms=4.5, params=5000),
    _trial("2", val_accuracy=0.97, latency_ms=9.0, params=20000),
    _trial("3", status="FAILED", val_accuracy=0.99, latency_ms=1.0),
]


def test_the_default_is_the_best_first_objective():
    trial, reason = select_trial(TRIALS, OBJECTIVES)
    assert trial.trial_id == "2"
    assert reason == "best val_accuracy: trial 2 (val_accuracy 0.97)"


def test_limits_on_the_other_metrics():
    trial, reason = select_trial(TRIALS, OBJECTIVES, "val_accuracy, latency_ms<=5")
    assert trial.trial_id == "1"
    assert reason == ("best val_accuracy with latency_ms<=5: trial 1 "
                      "(val_accuracy 0.95, latency_ms 4.5)")
    trial, _ = select_trial(TRIALS, OBJECTIVES, "latency_ms, val_accuracy>0.92")
    assert trial.trial_id == "1"
    trial, _ = select_trial(TRIALS, OBJECTIVES, "val_accuracy, params<5000, latency_ms<3")
    assert trial.trial_id == "0"


def test_a_limit_nothing_meets_names_the_best_measured_value():
    with pytest.raises(ValueError, match=r"No completed trial meets latency_ms<1 "
                                         r"\(the best measured is 2\)"):
        select_trial(TRIALS, OBJECTIVES, "val_accuracy, latency_ms<1")
    with pytest.raises(ValueError, match=r"No completed trial reports flops"):
        select_trial(TRIALS, OBJECTIVES, "val_accuracy, flops<=10")


@pytest.mark.parametrize("rule, message", [
    ("params, latency_ms<=5", r"start with one of the objectives"),
    ("val_accuracy, latency_ms=5", r"each part after the objective is a limit"),
    ("val_accuracy, latency_ms<=fast", r"each part after the objective is a limit"),
    ("", r"expected a text"),
])
def test_malformed_rules_are_refused_naming_select(rule, message):
    with pytest.raises(ValueError, match=message):
        parse_rule(rule, OBJECTIVES)
