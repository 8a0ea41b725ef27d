"""Tests for DLSOracle, driven directly (no training) and in a tiny search."""

import json
import os

import keras_tuner as kt
import numpy as np
import pytest

import keras_nas as kn
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles import RandomSearchOracle
from keras_nas.oracles.dls import DLSOracle
from keras_nas.oracles.dls import default_num_initial_points
from keras_nas.oracles.dls import quantile_ranks
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
    """A DLS oracle; short trainings unless a test asks for the defaults."""
    kwargs.setdefault("num_initial_points", 8)
    kwargs.setdefault("train_steps", 30)
    return DLSOracle(OBJECTIVE, **kwargs)



def test_never_repeats_and_stops_when_the_space_is_spent(tmp_path):
    """small_mlp holds 72 architectures: each is proposed once, then STOPPED."""
    oracle = make(max_trials=100, seed=1)
    proposals, stopped = run(oracle, small_mlp(), tmp_path)
    assert stopped and len(proposals) == 72
    enc = ArchitectureEncoding(declared(small_mlp()))
    assert len(set(keys(enc, proposals))) == 72
    for values in proposals:
        assert_canonical(enc, values)
    assert oracle.controller_updates >= 10


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
    assert oracle.controller_updates >= 4


def test_same_seed_same_proposals(tmp_path):
    first, _ = run(make(max_trials=20, seed=4), nb201(), tmp_path, project="a")
    second, _ = run(make(max_trials=20, seed=4), nb201(), tmp_path, project="b")
    other, _ = run(make(max_trials=20, seed=5), nb201(), tmp_path, project="c")
    assert first == second
    assert first != other


def test_save_and_reload_restores_the_controller(tmp_path):
    """Proposals after a reload equal those of an uninterrupted search."""
    space = small_mlp()
    first = make(max_trials=40, seed=6)
    # 17 proposals: trained at 8 results, again at 13; 4 results since.
    before, _ = run(first, space, tmp_path, n=17, project="resumed")
    first.save()
    state = json.loads(json.dumps(first.get_state()))  # JSON-safe
    assert state["controller"]["updates"] == 2 and state["untrained_results"] == 3
    files = sorted(f for f in os.listdir(tmp_path / "resumed") if f.endswith(".npz"))
    assert files == [f"dls_controller_{first.controller_version}.npz"]
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
    """Workers hold trials at once; results arrive out of order."""
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
    assert oracle.results == completed
    assert oracle.controller_updates >= 6


def trained(directory, n=30, **kwargs):
    """A DLS oracle trained on `n` NB201 trials scored by `conv_share`."""
    oracle = make(max_trials=n + 1, seed=12, train_steps=100, **kwargs)
    start(oracle, declared(nb201()), directory, space=nb201())
    for _ in range(n):
        trial = oracle.create_trial("w0")
        finish(
            oracle, trial, {"val_accuracy": conv_share(trial.hyperparameters.values)}
        )
    oracle.populate_space("extra")  # Absorbs the last result (and trains).
    return oracle


@pytest.fixture(scope="module")
def trained_oracle(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("trained"), n=28)


def test_reconstructs_its_training_architectures(trained_oracle):
    oracle = trained_oracle
    vectors = np.stack([oracle.vector(t) for t in oracle.results])
    controller = oracle.controller
    np.testing.assert_array_equal(
        controller.decode(controller.encode(vectors)), vectors
    )


def test_moving_up_the_gradient_raises_the_predicted_score(trained_oracle):
    oracle = trained_oracle
    controller = oracle.controller
    latent = controller.encode(np.stack([oracle.vector(t) for t in oracle.results]))
    direction = controller.gradient(latent)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    moved = latent + 0.05 * direction
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    before, after = controller.predict(latent), controller.predict(moved)
    assert np.all(after > before)
    # The predictor ranks the results it was trained on.
    targets = quantile_ranks([oracle.fitness(t) for t in oracle.results])
    assert np.corrcoef(before, targets)[0, 1] > 0.9


def test_falls_back_to_mutating_a_top_architecture(tmp_path):
    """With steps too small to leave a seed, proposals are point mutations."""
    oracle = trained(tmp_path, n=20, num_seeds=3, step_size=1e-6, max_steps=1)
    enc = oracle.encoding
    for _ in range(5):
        seeds = [oracle.vector(t) for t in oracle.best(3)]
        values = oracle.propose("x")
        vector = enc.encode(values)
        assert min(np.count_nonzero(vector != s) for s in seeds) == 1
        assert oracle.is_new(values)


def test_learns_a_structured_objective_better_than_random(tmp_path):
    """Rewarding 3x3 convolutions, later proposals hold clearly more of them."""
    space = nb201()
    shares = {}
    for name, oracle in [
        ("dls", make(max_trials=40, seed=10, train_steps=100)),
        ("random", RandomSearchOracle(OBJECTIVE, max_trials=40, seed=10)),
    ]:
        start(oracle, declared(space), tmp_path, name, space=space)
        values = []
        for _ in range(40):
            trial = oracle.create_trial("w0")
            values.append(conv_share(trial.hyperparameters.values))
            finish(oracle, trial, {"val_accuracy": values[-1]})
        shares[name] = np.mean(values[20:])
    assert shares["dls"] > 0.4 and shares["random"] < 0.3


def test_follows_a_minimised_objective(tmp_path):
    oracle = make(max_trials=40, seed=11)
    oracle.objective = kt.Objective("val_loss", direction="min")
    start(oracle, declared(nb201()), tmp_path, space=nb201())
    values = []
    for _ in range(40):
        trial = oracle.create_trial("w0")
        values.append(conv_share(trial.hyperparameters.values))
        finish(oracle, trial, {"val_loss": values[-1]})
    assert np.mean(values[20:]) < 0.1


def test_quantile_ranks():
    np.testing.assert_allclose(quantile_ranks([3.0, 1.0, 2.0, 2.0]), [1, 0, 0.5, 0.5])
    np.testing.assert_allclose(quantile_ranks([7.0]), [0.5])
    assert default_num_initial_points(100) == 20
    assert default_num_initial_points(10) == 5


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_initial_points": 0}, "num_initial_points"),
        ({"retrain_every": -1}, "retrain_every"),
        ({"latent_dim": 2.5}, "latent_dim"),
        ({"hidden_units": 0}, "hidden_units"),
        ({"prediction_weight": 1.0}, "prediction_weight"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"train_steps": 0}, "train_steps"),
        ({"num_seeds": 0}, "num_seeds"),
        ({"step_size": 0}, "step_size"),
        ({"max_steps": None}, "max_steps"),
    ],
)
def test_argument_errors_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        make(**kwargs)
    assert f"{argument}=" in str(info.value)


def test_permanence(tmp_path):
    """Pins the first proposals of DLSOracle(seed=1) on NB201."""
    oracle = DLSOracle(OBJECTIVE, max_trials=16, seed=1, num_initial_points=8)
    proposals, _ = run(oracle, nb201(), tmp_path)
    assert [p["edge_1_0"] for p in proposals[:4]] == PINNED["first"]
    assert fingerprint(proposals[:8]) == PINNED["random"]
    assert fingerprint(proposals) == PINNED["all"]


def test_tiny_search_with_nas_tuner(tiny_images, tmp_path):
    """The controller trains and proposes across the tuner's clear_session."""
    space = kn.spaces.MLP(
        input_shape=tiny_images[0].shape[1:],
        num_classes=3,
        max_layers=2,
        widths=(4, 8),
        activations=("relu",),
        dropout_rates=(0.0,),
    )
    x, y = tiny_images
    oracle = DLSOracle(
        "val_accuracy",
        max_trials=3,
        seed=1,
        num_initial_points=1,
        retrain_every=1,
        train_steps=5,
    )
    tuner = kn.NASTuner(space, strategy=oracle, directory=tmp_path, seed=1, verbose=0)
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=12)
    assert [t.status for t in oracle.trials.values()] == ["COMPLETED"] * 3
    assert oracle.controller_updates == 2  # Trained after trials 1 and 2.
    values = {
        tuple(sorted(t.hyperparameters.values.items())) for t in oracle.trials.values()
    }
    assert len(values) == 3
    assert os.path.exists(oracle._controller_path(oracle.controller_version))


PINNED = {
    # The warm-up draws are those of the other strategies with the same seed.
    "first": ["nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none"],
    "random": 1462230280,
    "all": 620513899,
}
