"""Shared helpers of the oracle tests: small spaces, driving an oracle."""

import json
import zlib

import keras_tuner as kt
import numpy as np

from keras_nas.oracles import NASOracle
from keras_nas.spaces import MLP
from keras_nas.spaces import NB201Cell
from keras_nas.spaces import SequenceNet

OBJECTIVE = kt.Objective("val_accuracy", direction="max")

SETTINGS = {
    # The learned and evolutionary strategies with test-friendly settings:
    # small populations, short warm-ups and trainings.
    "bayesian": {"num_initial_points": 5},
    "dls": {"num_initial_points": 8, "train_steps": 30},
    "evolution": {"population_size": 6, "sample_size": 3},
    "genetic": {"population_size": 6, "tournament_size": 2, "elitism": 1},
    "neat": {"population_size": 6},
    "nsga2": {"population_size": 6},
    "q_learning": {},
    "reinforce": {},
}


def small_mlp():
    """72 architectures: 8 of one layer, 64 of two."""
    return MLP(
        (4,), 3, min_layers=1, max_layers=2, widths=(4, 8),
        activations=("relu", "tanh"), dropout_rates=(0.0,),
        batch_norm=(False,), skip_connections=True,
    )


def tiny_mlp():
    """6 architectures: 2 of one layer, 4 of two."""
    return MLP(
        (4,), 3, min_layers=1, max_layers=2, widths=(4, 8),
        activations=("relu",), dropout_rates=(0.0,), batch_norm=(False,),
        skip_connections=False,
    )


def nb201():
    return NB201Cell((8, 8, 1), 3, channels=2)


def sequence_net():
    """The sequence space on word ids: every operation and the embedding."""
    return SequenceNet((12,), 3, modality="text", vocabulary_size=50)


def declared(space):
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    return hp


def continuous_space():
    """A plain KerasTuner space with a continuous Float and a condition."""
    hp = kt.HyperParameters()
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Choice("optimizer", ["adam", "sgd"])
    with hp.conditional_scope("optimizer", ["sgd"]):
        hp.Float("momentum", 0.0, 0.99)
    hp.Int("units", 8, 64, step=8)
    return hp


def score(values):
    """A deterministic objective of an architecture's values."""
    text = json.dumps(values, sort_keys=True)
    return zlib.crc32(text.encode()) / 2**32


def start(oracle, hp, directory, project="p", space=None):
    """Prepares an oracle as the tuner does: project dir, then the space."""
    oracle._set_project_dir(str(directory), project)
    oracle.verbose = 0
    if space is not None and isinstance(oracle, NASOracle):
        oracle.set_structure(space.structure())
    oracle.update_space(hp)
    return oracle


def finish(oracle, trial, metrics):
    """Reports `metrics` for a trial and ends it as completed."""
    oracle.update_trial(trial.trial_id, metrics)
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def drive(oracle, max_proposals=1000):
    """Runs trials until STOPPED; returns (proposals, stopped)."""
    proposals = []
    while len(proposals) < max_proposals:
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            return proposals, True
        assert trial.status == "RUNNING", trial.status
        values = dict(trial.hyperparameters.values)
        proposals.append(values)
        finish(oracle, trial, {"val_accuracy": score(values)})
    return proposals, False


def keys(enc, proposals):
    return [enc.key(enc.encode(values)) for values in proposals]


def assert_canonical(enc, values):
    """`values` are exactly the active decisions of a valid architecture."""
    assert enc.decode(enc.encode(values)) == values


def deep_mlp(max_layers=5):
    """An MLP space deep enough for topology growth."""
    return MLP(
        (4,), 3, min_layers=1, max_layers=max_layers, widths=(4, 8, 16),
        activations=("relu", "tanh"), dropout_rates=(0.0, 0.2),
    )


def run(oracle, space, directory, n=1000, project="p"):
    """Starts `oracle` on `space` and drives it for up to `n` proposals."""
    start(oracle, declared(space), directory, project, space=space)
    return drive(oracle, max_proposals=n)


def fingerprint(proposals):
    """A short pin of a list of proposals."""
    return zlib.crc32(json.dumps(proposals, sort_keys=True).encode())


def conv_share(values):
    """The share of NB201 edges that are 3x3 convolutions (random: 0.2)."""
    ops = [v for k, v in values.items() if k.startswith("edge_")]
    return ops.count("nor_conv_3x3") / len(ops)


def conv_shares(oracle, n, metric="val_accuracy"):
    """Runs `n` trials scored by `conv_share` under `metric`; returns the shares."""
    shares = []
    for _ in range(n):
        trial = oracle.create_trial("w0")
        shares.append(conv_share(trial.hyperparameters.values))
        finish(oracle, trial, {metric: shares[-1]})
    return shares


def run_workers(oracle, workers=3, fail=(), seed=0):
    """Drives `oracle` with several workers holding trials at once.

    Each round every idle worker asks for a trial, then one running trial,
    picked at random, ends: FAILED when its id is in `fail`, else COMPLETED
    with its `score`. Results so arrive out of order.

    Returns:
        The proposals, in the order they were handed out.
    """
    seen, running = [], {}
    rng = np.random.default_rng(seed)
    names = [f"w{i}" for i in range(workers)]
    while True:
        for worker in names:
            if worker not in running:
                trial = oracle.create_trial(worker)
                if trial.status == "STOPPED":
                    continue
                assert trial.status == "RUNNING", trial.status
                running[worker] = trial
                seen.append(dict(trial.hyperparameters.values))
        if not running:
            return seen
        trial = running.pop(list(running)[int(rng.integers(len(running)))])
        if trial.trial_id in fail:
            trial.status = "FAILED"
            oracle.end_trial(trial)
        else:
            finish(oracle, trial, {"val_accuracy": score(trial.hyperparameters.values)})
