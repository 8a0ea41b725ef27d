"""Tests for ReinforceOracle, driven directly (no training) and in a tiny search."""

import json
import os

import keras_tuner as kt
import numpy as np
import pytest

import keras_nas as kn
from keras_nas.encoding import INACTIVE
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles import RandomSearchOracle
from keras_nas.oracles.reinforce import ReinforceOracle
from oracle_helpers import OBJECTIVE
from oracle_helpers import assert_canonical
from oracle_helpers import continuous_space
from oracle_helpers import conv_share
from oracle_helpers import declared
from oracle_helpers import drive
from oracle_helpers import fingerprint
from oracle_helpers import finish
from oracle_helpers import keys
from oracle_helpers import nb201
from oracle_helpers import run
from oracle_helpers import score
from oracle_helpers import small_mlp
from oracle_helpers import start


def make(**kwargs):
    return ReinforceOracle(OBJECTIVE, **kwargs)



def test_never_repeats_and_stops_when_the_space_is_spent(tmp_path):
    """small_mlp holds 72 architectures: each is proposed once, then STOPPED."""
    oracle = make(max_trials=100, seed=1)
    proposals, stopped = run(oracle, small_mlp(), tmp_path)
    assert stopped and len(proposals) == 72
    enc = ArchitectureEncoding(declared(small_mlp()))
    assert len(set(keys(enc, proposals))) == 72
    for values in proposals:
        assert_canonical(enc, values)
    # Each result updated the policy once (the last when asked for a 73rd).
    assert oracle.controller_updates == 72


def test_works_on_a_plain_keras_tuner_space(tmp_path):
    hp = continuous_space()
    oracle = start(make(max_trials=30, seed=3), hp, tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped and len(proposals) == 30
    enc = ArchitectureEncoding(hp)
    for values in proposals:
        assert 1e-4 <= values["lr"] <= 1e-1
        assert ("momentum" in values) == (values["optimizer"] == "sgd")
        assert enc.decode(enc.encode(values)) == values
    assert len(set(keys(enc, proposals))) == 30


def test_same_seed_same_proposals(tmp_path):
    first, _ = run(make(max_trials=25, seed=4), nb201(), tmp_path, project="a")
    second, _ = run(make(max_trials=25, seed=4), nb201(), tmp_path, project="b")
    other, _ = run(make(max_trials=25, seed=5), nb201(), tmp_path, project="c")
    assert first == second
    assert first != other


def test_save_and_reload_restores_the_controller(tmp_path):
    """Proposals after a reload equal those of an uninterrupted search."""
    space = small_mlp()  # Conditional decisions: skipped slots are saved too.
    first = make(max_trials=40, seed=6)
    before, _ = run(first, space, tmp_path, n=17, project="resumed")
    first.save()
    state = json.loads(json.dumps(first.get_state()))  # JSON-safe
    files = sorted(f for f in os.listdir(tmp_path / "resumed") if f.endswith(".npz"))
    assert files == [f"reinforce_controller_{first.controller_version}.npz"]
    weights = [v.numpy() for v in first.controller.variables]

    second = make(max_trials=40, seed=6)
    start(second, declared(space), tmp_path, "resumed", space=space)
    second.reload()
    reloaded = second.get_state()
    assert sorted(reloaded.pop("tried_so_far")) == sorted(state.pop("tried_so_far"))
    assert reloaded == state
    for restored, saved in zip(second.controller.variables, weights):
        np.testing.assert_array_equal(restored.numpy(), saved)
    after, stopped = drive(second)
    assert stopped and len(before) + len(after) == 40

    expected, _ = run(make(max_trials=40, seed=6), space, tmp_path, project="straight")
    assert before + after == expected


def test_asynchronous_workers_get_distinct_proposals(tmp_path):
    """Workers hold trials at once; results arrive out of order, each once."""
    space = nb201()
    oracle = make(max_trials=40, seed=7)
    start(oracle, declared(space), tmp_path, space=space)
    seen, running = [], {}
    rng = np.random.default_rng(0)
    while True:
        for worker in ("w0", "w1", "w2"):
            if worker not in running:
                trial = oracle.create_trial(worker)
                if trial.status == "STOPPED":
                    continue
                running[worker] = trial
                seen.append(dict(trial.hyperparameters.values))
        if not running:
            break
        trial = running.pop(list(running)[int(rng.integers(len(running)))])
        if trial.trial_id == "05":
            trial.status = "FAILED"
            oracle.end_trial(trial)
        else:
            finish(oracle, trial, {"val_accuracy": score(trial.hyperparameters.values)})
    enc = ArchitectureEncoding(declared(space))
    assert len(seen) == 40 and len(set(keys(enc, seen))) == 40
    oracle.populate_space("extra")  # Absorbs the last results.
    completed = [t for t in oracle.end_order if oracle.trials[t].status == "COMPLETED"]
    assert oracle.end_order != sorted(oracle.end_order)  # Out of order.
    assert oracle.rewarded == [oracle.fitness(t) for t in completed]
    assert oracle.controller_updates == 39  # The failed trial taught nothing.


def test_updates_raise_the_probability_of_good_decisions(tmp_path):
    oracle = start(make(max_trials=5, seed=8), declared(small_mlp()), tmp_path)
    policy = oracle.controller
    vectors = policy.sample(oracle.encoding.slots, 2, oracle.rng)
    before, _ = policy.log_prob(vectors)
    policy.update(vectors, [1.0, -1.0])
    after, _ = policy.log_prob(vectors)
    assert after[0] > before[0] and after[1] < before[1]


def test_inactive_decisions_are_skipped(tmp_path):
    oracle = start(make(max_trials=5, seed=9), declared(small_mlp()), tmp_path)
    enc = oracle.encoding
    vectors = oracle.controller.sample(enc.slots, 64, oracle.rng)
    for vector in vectors:
        np.testing.assert_array_equal(vector, enc.repair(vector, oracle.rng))
    inactive = vectors == INACTIVE
    assert inactive.any() and not inactive.all(axis=0).any()


def test_learns_a_structured_objective_better_than_random(tmp_path):
    """Rewarding 3x3 convolutions, later proposals hold clearly more of them."""
    space = nb201()
    shares = {}
    for name, oracle in [
        ("reinforce", make(max_trials=60, seed=10)),
        ("random", RandomSearchOracle(OBJECTIVE, max_trials=60, seed=10)),
    ]:
        start(oracle, declared(space), tmp_path, name, space=space)
        values = []
        for _ in range(60):
            trial = oracle.create_trial("w0")
            values.append(conv_share(trial.hyperparameters.values))
            finish(oracle, trial, {"val_accuracy": values[-1]})
        shares[name] = np.mean(values[30:])
    assert shares["reinforce"] > 0.4 and shares["random"] < 0.3


def test_follows_a_minimised_objective(tmp_path):
    oracle = make(max_trials=60, seed=11)
    oracle.objective = kt.Objective("val_loss", direction="min")
    start(oracle, declared(nb201()), tmp_path, space=nb201())
    values = []
    for _ in range(60):
        trial = oracle.create_trial("w0")
        values.append(conv_share(trial.hyperparameters.values))
        finish(oracle, trial, {"val_loss": values[-1]})
    assert np.mean(values[30:]) < 0.1


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"units": 0}, "units"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"baseline_decay": 1.0}, "baseline_decay"),
        ({"entropy_weight": -0.1}, "entropy_weight"),
        ({"num_samples": 0}, "num_samples"),
        ({"max_resamples": 1.5}, "max_resamples"),
    ],
)
def test_argument_errors_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        make(**kwargs)
    assert f"{argument}=" in str(info.value)


def test_permanence(tmp_path):
    """Pins the first proposals of ReinforceOracle(seed=1) on NB201."""
    proposals, _ = run(make(max_trials=12, seed=1), nb201(), tmp_path)
    assert [p["edge_1_0"] for p in proposals[:4]] == PINNED["first"]
    assert fingerprint(proposals) == PINNED["all"]


def test_tiny_search_with_nas_tuner_and_resume(tiny_images, tmp_path):
    """The controller survives the tuner's clear_session and is resumed."""
    space = kn.spaces.MLP(
        input_shape=tiny_images[0].shape[1:],
        num_classes=3,
        max_layers=2,
        widths=(4, 8),
        activations=("relu",),
        dropout_rates=(0.0,),
    )
    x, y = tiny_images

    def search(max_trials):
        oracle = ReinforceOracle("val_accuracy", max_trials=max_trials, seed=1)
        tuner = kn.NASTuner(
            space,
            strategy=oracle,
            directory=tmp_path,
            project_name="p",
            seed=1,
            verbose=0,
        )
        tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=12)
        return oracle

    oracle = search(3)
    assert [t.status for t in oracle.trials.values()] == ["COMPLETED"] * 3
    assert oracle.controller_updates == 2
    oracle = search(4)  # Resumes: reloads the controller, runs one trial.
    assert len(oracle.trials) == 4
    assert oracle.controller_updates == 3
    values = [
        tuple(sorted(t.hyperparameters.values.items())) for t in oracle.trials.values()
    ]
    assert len(set(values)) == 4


PINNED = {
    "first": ["nor_conv_1x1", "none", "none", "nor_conv_1x1"],
    "all": 3261893009,
}
