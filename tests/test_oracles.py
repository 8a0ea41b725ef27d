"""Tests for keras_nas.oracles, driven directly (no training)."""

import importlib
import json

import keras_tuner as kt
import pytest

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.strategies import STRATEGIES
from keras_nas.oracles import GridSearchOracle
from keras_nas.oracles import RandomSearchOracle
from keras_nas.strategies import get_oracle
from keras_nas.spaces import MLP
from oracle_helpers import OBJECTIVE
from oracle_helpers import assert_canonical
from oracle_helpers import continuous_space
from oracle_helpers import declared
from oracle_helpers import drive
from oracle_helpers import finish
from oracle_helpers import keys
from oracle_helpers import nb201
from oracle_helpers import small_mlp
from oracle_helpers import start
from oracle_helpers import tiny_mlp

# ----------------------------------------------------------- random search


def test_random_never_repeats(tmp_path):
    space = MLP((4,), 3, max_layers=3, widths=(4, 8, 16))
    hp = declared(space)
    enc = ArchitectureEncoding(hp)
    oracle = start(
        RandomSearchOracle(OBJECTIVE, max_trials=150, seed=3), hp, tmp_path,
        space=space,
    )
    proposals, stopped = drive(oracle)
    assert stopped and len(proposals) == 150  # stopped by max_trials
    assert len(oracle.trials) == 150
    for values in proposals:
        assert_canonical(enc, values)
    assert len(set(keys(enc, proposals))) == 150


def test_random_exhausts_a_small_space_without_repeats(tmp_path):
    """72 trials of a 72-architecture space: sampling then listing."""
    hp = declared(small_mlp())
    enc = ArchitectureEncoding(hp)
    oracle = start(RandomSearchOracle(OBJECTIVE, max_trials=100, seed=2), hp,
                   tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped
    assert sorted(keys(enc, proposals)) == sorted(
        enc.key(v) for v in enc.enumerate()
    )


def test_random_tiny_space_proposes_all_then_stops(tmp_path):
    hp = declared(tiny_mlp())
    enc = ArchitectureEncoding(hp)
    assert enc.count() == 6
    oracle = start(RandomSearchOracle(OBJECTIVE, max_trials=20, seed=1), hp,
                   tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped
    assert len(proposals) == 6
    assert sorted(keys(enc, proposals)) == sorted(
        enc.key(v) for v in enc.enumerate()
    )
    assert len(oracle.trials) == 6
    # Asking again still stops.
    assert oracle.create_trial("tuner0").status == "STOPPED"


def test_random_stops_at_max_trials(tmp_path):
    hp = declared(small_mlp())
    oracle = start(RandomSearchOracle(OBJECTIVE, max_trials=4, seed=1), hp,
                   tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped and len(proposals) == 4


def test_random_same_seed_same_proposals(tmp_path):
    hp = declared(small_mlp())
    runs = []
    for seed, project in [(7, "a"), (7, "b"), (8, "c")]:
        oracle = start(RandomSearchOracle(OBJECTIVE, max_trials=5, seed=seed),
                       hp.copy(), tmp_path, project)
        runs.append(drive(oracle)[0])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_random_seed_zero_is_a_seed(tmp_path):
    """seed=0 is kept (KerasTuner alone would replace it by a random seed)."""
    hp = declared(small_mlp())
    runs = []
    for project in ("a", "b"):
        oracle = RandomSearchOracle(OBJECTIVE, max_trials=3, seed=0)
        assert oracle.seed == 0
        runs.append(drive(start(oracle, hp.copy(), tmp_path, project))[0])
    assert runs[0] == runs[1]


def test_random_permanence(tmp_path):
    """Pins RandomSearchOracle(seed=1)'s first proposals on `small_mlp`."""
    oracle = start(RandomSearchOracle(OBJECTIVE, max_trials=3, seed=1),
                   declared(small_mlp()), tmp_path)
    proposals, _ = drive(oracle)
    assert proposals == [
        {
            "num_layers": 2, "units_0": 8, "activation_0": "relu",
            "dropout_0": 0.0, "batch_norm_0": False, "skip_0": False,
            "units_1": 8, "activation_1": "relu", "dropout_1": 0.0,
            "batch_norm_1": False, "skip_1": True,
        },
        {
            "num_layers": 2, "units_0": 4, "activation_0": "tanh",
            "dropout_0": 0.0, "batch_norm_0": False, "skip_0": False,
            "units_1": 4, "activation_1": "relu", "dropout_1": 0.0,
            "batch_norm_1": False, "skip_1": False,
        },
        {
            "num_layers": 1, "units_0": 8, "activation_0": "tanh",
            "dropout_0": 0.0, "batch_norm_0": False, "skip_0": False,
        },
    ]


def test_random_on_plain_space_with_continuous_float(tmp_path):
    hp = continuous_space()
    enc = ArchitectureEncoding(hp)
    assert not enc.exact
    oracle = start(RandomSearchOracle(OBJECTIVE, max_trials=30, seed=5), hp,
                   tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped and len(proposals) == 30
    bins = set(enc.slots[enc.slot_of("lr")].choices)
    lrs = [values["lr"] for values in proposals]
    assert all(1e-4 <= lr <= 1e-1 for lr in lrs)
    assert len(set(lrs)) == 30
    assert not set(lrs) <= bins, "continuous Float was sampled from the bins"
    for values in proposals:
        assert type(values["lr"]) is float
        assert values["units"] in range(8, 65, 8)
        assert ("momentum" in values) == (values["optimizer"] == "sgd")
        # Every proposal still encodes (to its nearest bins).
        assert enc.decode(enc.encode(values)).keys() == values.keys()
    assert {"adam", "sgd"} == {values["optimizer"] for values in proposals}


def test_random_save_and_reload_continues_the_sequence(tmp_path):
    hp = declared(small_mlp())

    def oracle():
        return RandomSearchOracle(OBJECTIVE, max_trials=10, seed=11)

    first = start(oracle(), hp.copy(), tmp_path, "resumed")
    before, _ = drive(first, 4)
    first.save()

    second = start(oracle(), hp.copy(), tmp_path, "resumed")
    second.reload()
    assert len(second.trials) == 4
    after, stopped = drive(second)
    assert stopped and len(after) == 6

    uninterrupted = start(oracle(), hp.copy(), tmp_path, "straight")
    expected, _ = drive(uninterrupted)
    assert before + after == expected


def test_reload_keeps_the_best_of_equal_scores(tmp_path, monkeypatch):
    hp = declared(small_mlp())
    first = start(RandomSearchOracle(OBJECTIVE, max_trials=12, seed=5), hp.copy(),
                  tmp_path)
    for _ in range(12):
        trial = first.create_trial("tuner0")
        finish(first, trial, {"val_accuracy": 0.5})
    best = [t.trial_id for t in first.get_best_trials(3)]
    first.save()

    # The file system may list the trial files in any order.
    io = importlib.import_module("keras_tuner.src.backend.io")
    glob = io.glob
    monkeypatch.setattr(io, "glob", lambda pattern: sorted(glob(pattern))[::-1])
    second = start(RandomSearchOracle(OBJECTIVE, max_trials=12, seed=5), hp.copy(),
                   tmp_path)
    second.reload()
    assert [t.trial_id for t in second.get_best_trials(3)] == best
    assert list(second.trials) == list(first.trials)


def test_random_state_is_json_safe(tmp_path):
    oracle = start(RandomSearchOracle(OBJECTIVE, max_trials=5, seed=1),
                   declared(small_mlp()), tmp_path)
    drive(oracle, 2)
    state = json.loads(json.dumps(oracle.get_state()))
    assert state["rng_state"] == oracle.rng.bit_generator.state
    assert "max_collisions" not in state  # arguments are not state


# ------------------------------------------------------------- grid search


def test_grid_enumerates_space_once_in_order(tmp_path):
    hp = declared(small_mlp())
    enc = ArchitectureEncoding(hp)
    oracle = start(GridSearchOracle(OBJECTIVE, max_trials=100), hp, tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped
    assert len(proposals) == enc.count() == 72
    assert keys(enc, proposals) == [enc.key(v) for v in enc.enumerate()]
    assert keys(enc, proposals) == sorted(keys(enc, proposals))
    assert oracle.create_trial("tuner0").status == "STOPPED"


def test_grid_tiny_space(tmp_path):
    hp = declared(tiny_mlp())
    oracle = start(GridSearchOracle(OBJECTIVE, max_trials=20), hp, tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped
    assert proposals == [
        {"num_layers": 1, "units_0": w, "activation_0": "relu",
         "dropout_0": 0.0, "batch_norm_0": False}
        for w in (4, 8)
    ] + [
        {"num_layers": 2, "units_0": w0, "activation_0": "relu",
         "dropout_0": 0.0, "batch_norm_0": False, "units_1": w1,
         "activation_1": "relu", "dropout_1": 0.0, "batch_norm_1": False}
        for w0 in (4, 8) for w1 in (4, 8)
    ]


def test_grid_permanence(tmp_path):
    """Pins GridSearchOracle's first proposals on `small_mlp`."""
    oracle = start(GridSearchOracle(OBJECTIVE, max_trials=3, seed=1),
                   declared(small_mlp()), tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped
    first = {"num_layers": 1, "units_0": 4, "activation_0": "relu",
             "dropout_0": 0.0, "batch_norm_0": False, "skip_0": False}
    assert proposals == [
        first,
        {**first, "skip_0": True},
        {**first, "activation_0": "tanh"},
    ]


def test_grid_order_does_not_depend_on_seed(tmp_path):
    hp = declared(small_mlp())
    runs = [
        drive(start(GridSearchOracle(OBJECTIVE, max_trials=5, seed=seed),
                    hp.copy(), tmp_path, f"s{seed}"))[0]
        for seed in (1, 2)
    ]
    assert runs[0] == runs[1]


def test_grid_on_plain_space_uses_bins(tmp_path):
    hp = kt.HyperParameters()
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Choice("optimizer", ["adam", "sgd"])
    with hp.conditional_scope("optimizer", ["sgd"]):
        hp.Float("momentum", 0.0, 0.9)
    enc = ArchitectureEncoding(hp)
    oracle = start(GridSearchOracle(OBJECTIVE, max_trials=500), hp, tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped and len(proposals) == enc.count() == 10 * (1 + 10)
    bins = enc.slots[enc.slot_of("lr")].choices
    assert sorted({values["lr"] for values in proposals}) == list(bins)
    assert keys(enc, proposals) == [enc.key(v) for v in enc.enumerate()]


def test_grid_save_and_reload_continues_without_repeats(tmp_path):
    hp = declared(small_mlp())
    enc = ArchitectureEncoding(hp)

    def oracle():
        return GridSearchOracle(OBJECTIVE, max_trials=100, seed=1)

    first = start(oracle(), hp.copy(), tmp_path, "resumed")
    before, _ = drive(first, 10)
    first.save()

    second = start(oracle(), hp.copy(), tmp_path, "resumed")
    second.reload()
    assert second.get_state()["grid_position"] == 10
    after, stopped = drive(second)
    assert stopped
    assert keys(enc, before + after) == [enc.key(v) for v in enc.enumerate()]


def test_grid_skips_architectures_already_tried(tmp_path):
    """A grid sent back to its start proposes only what was not tried."""
    hp = declared(tiny_mlp())
    enc = ArchitectureEncoding(hp)
    grid = start(GridSearchOracle(OBJECTIVE, max_trials=20), hp, tmp_path)
    tried, _ = drive(grid, 3)
    state = grid.get_state()
    state["grid_position"] = 0
    grid.set_state(state)
    rest, stopped = drive(grid)
    assert stopped
    assert keys(enc, tried + rest) == [enc.key(v) for v in enc.enumerate()]


def log_int_space():
    """6 architectures; KerasTuner lists the log-stepped Int's values as floats."""
    hp = kt.HyperParameters()
    hp.Int("units", 8, 32, step=2, sampling="log")
    hp.Boolean("bn")
    return hp


def test_random_on_log_stepped_int_proposes_each_architecture_once(tmp_path):
    hp = log_int_space()
    oracle = start(RandomSearchOracle(OBJECTIVE, max_trials=20, seed=1), hp,
                   tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped
    assert len(proposals) == 6, (
        "BUG keras_nas/encoding.py _make_slot (seen through "
        "RandomSearchOracle._untried_at_random): a 6-architecture space "
        f"got {len(proposals)} trials, each architecture proposed again with "
        f"units as a float: {[p['units'] for p in proposals]}"
    )


def test_grid_on_log_stepped_int_proposes_ints(tmp_path):
    hp = log_int_space()
    oracle = start(GridSearchOracle(OBJECTIVE, max_trials=20), hp, tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped and len(proposals) == 6
    units = [values["units"] for values in proposals]
    assert all(type(u) is int for u in units), (
        "BUG keras_nas/encoding.py _make_slot (seen through "
        f"GridSearchOracle): proposes units={units} for an Int decision; "
        "keras.layers.Dense(units) then raises"
    )


# ---------------------------------------------------------------- registry


def test_get_oracle_by_name():
    assert set(STRATEGIES) >= {"random", "grid"}
    oracle = get_oracle("random", "val_accuracy", 7, seed=3)
    assert isinstance(oracle, RandomSearchOracle)
    assert oracle.max_trials == 7 and oracle.seed == 3
    assert oracle.objective.name == "val_accuracy"
    assert isinstance(get_oracle("grid", "val_loss", 2), GridSearchOracle)


def test_get_oracle_unknown_name():
    for bad in ("nope", None, 3):
        with pytest.raises(ValueError, match="`strategy`") as info:
            get_oracle(bad, "val_accuracy", 5)
        assert f"strategy={bad!r}" in str(info.value)


def test_get_oracle_passes_instances_through():
    oracle = kt.oracles.RandomSearchOracle(objective="val_loss", max_trials=3)
    assert get_oracle(oracle, "val_accuracy", 50) is oracle
    ours = GridSearchOracle(OBJECTIVE, max_trials=2)
    assert get_oracle(ours, "val_loss", 50) is ours
    assert ours.max_trials == 2


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_max_trials_must_be_positive(bad):
    for strategy in ("random", "grid"):
        with pytest.raises(ValueError, match="`max_trials`") as info:
            get_oracle(strategy, "val_accuracy", bad)
        assert f"max_trials={bad!r}" in str(info.value)
    with pytest.raises(ValueError, match="`max_trials`"):
        RandomSearchOracle(OBJECTIVE, max_trials=bad)


# ------------------------------------------ KerasTuner's oracles, our spaces


@pytest.mark.parametrize("space_fn", [nb201, small_mlp], ids=["nb201", "mlp"])
@pytest.mark.parametrize(
    "make_oracle",
    [
        lambda: kt.oracles.RandomSearchOracle(OBJECTIVE, max_trials=5, seed=1),
        lambda: kt.oracles.BayesianOptimizationOracle(
            OBJECTIVE, max_trials=3, num_initial_points=2, seed=1
        ),
    ],
    ids=["kt_random", "kt_bayesian"],
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_keras_tuner_oracles_on_our_spaces(tmp_path, space_fn, make_oracle):
    """KerasTuner's oracles propose valid architectures of our spaces.

    KerasTuner's Bayesian oracle does not avoid repeats itself (its optimum
    of the acquisition function may be a tried point), so uniqueness is only
    asked of its random search.
    """
    space = space_fn()
    hp = declared(space)
    enc = ArchitectureEncoding(hp, space.structure())
    oracle = start(make_oracle(), hp, tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped and len(proposals) == oracle.max_trials
    for values in proposals:
        assert_canonical(enc, values)
        hp_trial = declared(space)
        hp_trial.values = dict(values)
        assert {p.name for p in hp.space if hp_trial.is_active(p)} == set(values)
        model_values = space.describe(values)["decisions"]
        assert model_values == values
    if isinstance(oracle, kt.oracles.RandomSearchOracle):
        assert len(set(keys(enc, proposals))) == len(proposals)
