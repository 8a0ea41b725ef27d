"""The contract of every learned and evolutionary strategy, driven without training.

Each test runs once per strategy of `STRATEGIES` below: valid proposals that
never repeat, then STOPPED once the space is spent; plain KerasTuner spaces;
a seed fixes the proposals; a reload continues the very same search
(controllers included); workers get distinct proposals while results arrive
out of order; failed trials teach nothing; a minimised objective is
followed and a maximised structured one is learnt better than random
search; bad arguments are named; the first proposals are pinned. What only
one strategy does is tested in its own module.
"""

import json
import os

import keras_tuner as kt
import numpy as np
import pytest

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.strategies import STRATEGIES as REGISTERED
from keras_nas.oracles import RandomSearchOracle
from keras_nas.spaces.sequence import CONVOLUTIONS
from keras_nas.spaces.sequence import RECURRENT
from oracle_helpers import OBJECTIVE
from oracle_helpers import SETTINGS as STRATEGIES
from oracle_helpers import assert_canonical
from oracle_helpers import continuous_space
from oracle_helpers import conv_shares
from oracle_helpers import declared
from oracle_helpers import deep_mlp
from oracle_helpers import drive
from oracle_helpers import fingerprint
from oracle_helpers import finish
from oracle_helpers import keys
from oracle_helpers import nb201
from oracle_helpers import run
from oracle_helpers import run_workers
from oracle_helpers import score
from oracle_helpers import sequence_net
from oracle_helpers import small_mlp
from oracle_helpers import start


def make(name, **kwargs):
    """The `name` strategy with its test settings, overridden by `kwargs`."""
    return REGISTERED[name](OBJECTIVE, **{**STRATEGIES[name], **kwargs})


@pytest.fixture(params=sorted(STRATEGIES))
def name(request):
    return request.param


def completed(oracle):
    """The completed trials, in the order they ended."""
    return [t for t in oracle.end_order if oracle.trials[t].status == "COMPLETED"]


def check_learnt_from_completed_only(name, oracle):
    """What the strategy learnt from is exactly its completed trials."""
    done = completed(oracle)
    if name == "reinforce":
        assert oracle.rewarded == [oracle.fitness(t) for t in done]
        assert oracle.controller_updates == len(done)
    elif name in ("evolution", "genetic", "neat", "nsga2"):
        members = oracle.members if name == "neat" else oracle.population
        assert members and set(members) <= set(done)
    else:
        attribute = {"bayesian": "observed", "dls": "results", "q_learning": "memory"}
        assert getattr(oracle, attribute[name]) == done


# ------------------------------------------------------------- proposals


def test_registered_by_name(name):
    oracle = REGISTERED[name](OBJECTIVE, max_trials=9, seed=2)
    assert oracle.max_trials == 9 and oracle.seed == 2


def test_never_repeats_and_stops_when_the_space_is_spent(name, tmp_path):
    """small_mlp holds 72 architectures: each is proposed once, then STOPPED."""
    oracle = make(name, max_trials=100, seed=1)
    proposals, stopped = run(oracle, small_mlp(), tmp_path)
    assert stopped and len(proposals) == 72
    enc = ArchitectureEncoding(declared(small_mlp()))
    assert len(set(keys(enc, proposals))) == 72
    for values in proposals:
        assert_canonical(enc, values)
    if name == "dls":
        assert oracle.controller_updates >= 10
    if name == "reinforce":
        # Each result updated the policy once (the last when asked for a 73rd).
        assert oracle.controller_updates == 72


def test_valid_unique_proposals_on_nb201(name, tmp_path):
    proposals, stopped = run(make(name, max_trials=40, seed=2), nb201(), tmp_path)
    assert stopped and len(proposals) == 40
    enc = ArchitectureEncoding(declared(nb201()))
    assert len(set(keys(enc, proposals))) == 40
    for values in proposals:
        assert_canonical(enc, values)


def test_valid_unique_proposals_on_the_sequence_space(name, tmp_path):
    space = sequence_net()
    proposals, stopped = run(make(name, max_trials=40, seed=2), space, tmp_path)
    assert stopped and len(proposals) == 40
    enc = ArchitectureEncoding(declared(space))
    assert len(set(keys(enc, proposals))) == 40
    for values in proposals:
        assert_canonical(enc, values)
    kinds = {
        "convolution" if op in CONVOLUTIONS else "recurrent" if op in RECURRENT
        else op
        for op in (values[f"op_{i}"] for values in proposals
                   for i in range(values["num_blocks"]))
    }
    assert kinds == {"convolution", "recurrent", "attention", "identity"}


def test_works_on_a_plain_keras_tuner_space(name, tmp_path):
    hp = continuous_space()
    oracle = start(make(name, max_trials=30, seed=3), hp, tmp_path)
    proposals, stopped = drive(oracle)
    assert stopped and len(proposals) == 30
    enc = ArchitectureEncoding(hp)
    for values in proposals:
        assert 1e-4 <= values["lr"] <= 1e-1
        assert ("momentum" in values) == (values["optimizer"] == "sgd")
        assert_canonical(enc, values)
    assert len(set(keys(enc, proposals))) == 30
    if name == "dls":
        assert oracle.controller_updates >= 4


def test_same_seed_same_proposals(name, tmp_path):
    first, _ = run(make(name, max_trials=20, seed=4), nb201(), tmp_path, project="a")
    second, _ = run(make(name, max_trials=20, seed=4), nb201(), tmp_path, project="b")
    other, _ = run(make(name, max_trials=20, seed=5), nb201(), tmp_path, project="c")
    assert first == second
    assert first != other


# ------------------------------------------------------------ resuming

RELOAD = {
    # (space, max_trials, proposals before the reload, extra arguments)
    "bayesian": (lambda: deep_mlp(max_layers=4), 24, 11, {}),
    # Exploits early, so the reloaded Q-table is in use.
    "q_learning": (
        deep_mlp, 40, 17, {"schedule": [(1.0, 1), (0.5, 1), (0.1, 2)]}
    ),
}


def check_saved_state(name, state):
    """The saved state holds what the strategy learnt (after 17 or 11 trials)."""
    if name == "dls":
        # Trained at 8 results, again at 13; 3 results since.
        assert state["controller"]["updates"] == 2
        assert state["untrained_results"] == 3
    elif name == "q_learning":
        assert state["q_table"] and len(state["memory"]) == 16
    elif name == "bayesian":
        assert state["observed"] and state["gp_params"]["log_theta"]


def test_save_and_reload_continues_the_same_search(name, tmp_path):
    """Proposals after a reload equal those of an uninterrupted search."""
    space_fn, max_trials, n, extra = RELOAD.get(name, (deep_mlp, 40, 17, {}))
    space = space_fn()
    first = make(name, max_trials=max_trials, seed=6, **extra)
    before, _ = run(first, space, tmp_path, n=n, project="resumed")
    first.save()
    state = json.loads(json.dumps(first.get_state()))  # JSON-safe
    check_saved_state(name, state)
    has_controller = hasattr(first, "controller_version")
    if has_controller:
        saved = sorted(
            f for f in os.listdir(tmp_path / "resumed") if f.endswith(".npz")
        )
        assert saved == [
            os.path.basename(first._controller_path(first.controller_version))
        ]
        weights = [v.numpy() for v in first.controller.variables]

    second = make(name, max_trials=max_trials, seed=6, **extra)
    start(second, declared(space), tmp_path, "resumed", space=space)
    second.reload()
    reloaded = second.get_state()
    # KerasTuner keeps `tried_so_far` as a set: compare it unordered.
    assert sorted(reloaded.pop("tried_so_far")) == sorted(state.pop("tried_so_far"))
    assert reloaded == state
    if has_controller:
        for restored, expected in zip(second.controller.variables, weights):
            np.testing.assert_array_equal(restored.numpy(), expected)
    after, stopped = drive(second)
    assert stopped and len(before) + len(after) == max_trials

    straight = make(name, max_trials=max_trials, seed=6, **extra)
    expected, _ = run(straight, space, tmp_path, project="straight")
    assert before + after == expected


# --------------------------------------------------- workers and failures


def test_asynchronous_workers_get_distinct_proposals(name, tmp_path):
    """Three workers hold trials at once; results arrive out of order."""
    space = nb201()
    max_trials = 24 if name == "bayesian" else 40
    oracle = make(name, max_trials=max_trials, seed=7)
    start(oracle, declared(space), tmp_path, space=space)
    seen = run_workers(oracle, fail=("05",))
    enc = ArchitectureEncoding(declared(space))
    assert len(seen) == max_trials and len(set(keys(enc, seen))) == max_trials
    assert oracle.end_order != sorted(oracle.end_order)  # Out of order.
    assert oracle.trials["05"].status == "FAILED"
    oracle.populate_space("extra")  # Absorbs the last results.
    check_learnt_from_completed_only(name, oracle)
    if name == "dls":
        assert oracle.controller_updates >= 6


def test_failed_trials_are_not_learnt_from(name, tmp_path):
    space = nb201()
    oracle = make(name, max_trials=40, seed=8)
    start(oracle, declared(space), tmp_path, space=space)
    for i in range(24):
        trial = oracle.create_trial("w0")
        if i % 4 == 0:
            trial.status = "FAILED"
            oracle.end_trial(trial)
        else:
            finish(oracle, trial, {"val_accuracy": score(trial.hyperparameters.values)})
    oracle.create_trial("w0")  # Absorbs the last results.
    assert len(completed(oracle)) == 18
    check_learnt_from_completed_only(name, oracle)


# ---------------------------------------------------------------- learning

MINIMISED = {
    # (trials, later trials from, extra arguments, upper bound of their mean
    # share of 3x3 convolutions; random search's is 0.2)
    "bayesian": (25, 12, {"seed": 10}, 0.15),
    "dls": (40, 20, {"seed": 11}, 0.1),
    "evolution": (80, 40, {"seed": 9}, 0.1),
    "genetic": (80, 40, {"seed": 9}, 0.1),
    "neat": (80, 40, {"seed": 9}, 0.1),
    "nsga2": (80, 40, {"seed": 9}, 0.1),
    # Seeds 0 to 4 measured 0.05 to 0.13 here (seed 10: 0.18).
    "q_learning": (
        60,
        40,
        {"seed": 0, "schedule": [(1.0, 1), (0.5, 1), (0.1, 1)]},
        0.15,
    ),
    "reinforce": (60, 30, {"seed": 11}, 0.1),
}


def test_follows_a_minimised_objective(name, tmp_path):
    """Minimising the share of 3x3 convolutions, later proposals hold few."""
    trials, later, extra, bound = MINIMISED[name]
    oracle = make(name, max_trials=trials, **extra)
    oracle.objective = kt.Objective("val_loss", direction="min")
    start(oracle, declared(nb201()), tmp_path, space=nb201())
    shares = conv_shares(oracle, trials, metric="val_loss")
    assert np.mean(shares[later:]) < bound


LEARNS = {
    # id: (strategy, extra arguments, trials, later trials from, lower bound
    # of their mean share of 3x3 convolutions, upper bound of random's)
    "bayesian-ei": ("bayesian", {"seed": 9, "acquisition": "ei"}, 30, 15, 0.6, 0.35),
    "bayesian-ucb": ("bayesian", {"seed": 9, "acquisition": "ucb"}, 30, 15, 0.6, 0.35),
    "dls": ("dls", {"seed": 10, "train_steps": 100}, 40, 20, 0.4, 0.3),
    "evolution": ("evolution", {"seed": 9}, 80, 40, 0.4, 0.3),
    "genetic": ("genetic", {"seed": 9}, 80, 40, 0.4, 0.3),
    "neat": ("neat", {"seed": 9}, 80, 40, 0.4, 0.3),
    "nsga2": ("nsga2", {"seed": 9}, 80, 40, 0.4, 0.3),
    "q_learning": ("q_learning", {"seed": 0}, 60, 40, 0.32, 0.27),
    "reinforce": ("reinforce", {"seed": 10}, 60, 30, 0.4, 0.3),
}


@pytest.mark.parametrize("case", sorted(LEARNS))
def test_learns_a_structured_objective_better_than_random(case, tmp_path):
    """Rewarding 3x3 convolutions, later proposals hold clearly more of them."""
    strategy, extra, trials, later, bound, random_bound = LEARNS[case]
    means = {}
    for label, oracle in [
        ("strategy", make(strategy, max_trials=trials, **extra)),
        ("random", RandomSearchOracle(OBJECTIVE, max_trials=trials, seed=extra["seed"])),
    ]:
        start(oracle, declared(nb201()), tmp_path, label, space=nb201())
        means[label] = np.mean(conv_shares(oracle, trials)[later:])
    assert means["random"] < random_bound
    assert means["strategy"] > bound


# ------------------------------------------------------ arguments and pins

ARGUMENT_ERRORS = [
    ("bayesian", {"num_initial_points": 0}, "num_initial_points"),
    ("bayesian", {"acquisition": "pi"}, "acquisition"),
    ("bayesian", {"xi": -1}, "xi"),
    ("bayesian", {"beta": float("nan")}, "beta"),
    ("bayesian", {"num_candidates": 0}, "num_candidates"),
    ("bayesian", {"num_parents": 1.5}, "num_parents"),
    ("bayesian", {"max_observations": 1}, "max_observations"),
    ("dls", {"num_initial_points": 0}, "num_initial_points"),
    ("dls", {"retrain_every": -1}, "retrain_every"),
    ("dls", {"latent_dim": 2.5}, "latent_dim"),
    ("dls", {"hidden_units": 0}, "hidden_units"),
    ("dls", {"prediction_weight": 1.0}, "prediction_weight"),
    ("dls", {"learning_rate": -0.1}, "learning_rate"),
    ("dls", {"train_steps": 0}, "train_steps"),
    ("dls", {"num_seeds": 0}, "num_seeds"),
    ("dls", {"step_size": 0}, "step_size"),
    ("dls", {"max_steps": None}, "max_steps"),
    ("genetic", {"population_size": 0}, "population_size"),
    ("genetic", {"tournament_size": -1}, "tournament_size"),
    ("genetic", {"crossover": "two_point"}, "crossover"),
    ("genetic", {"crossover_rate": 1.5}, "crossover_rate"),
    ("genetic", {"mutation_rate": -0.1}, "mutation_rate"),
    ("genetic", {"elitism": 20}, "elitism"),
    ("neat", {"compatibility_threshold": 0}, "compatibility_threshold"),
    ("neat", {"mutation_weights": {"grow": 1.0}}, "mutation_weights"),
    ("neat", {"mutation_weights": {"point": 0.0}}, "mutation_weights"),
    ("neat", {"target_species": 0}, "target_species"),
    ("nsga2", {"population_size": 0}, "population_size"),
    ("nsga2", {"tournament_size": 0}, "tournament_size"),
    ("nsga2", {"crossover": "two_point"}, "crossover"),
    ("nsga2", {"crossover_rate": -0.5}, "crossover_rate"),
    ("nsga2", {"mutation_rate": 2.0}, "mutation_rate"),
    ("q_learning", {"learning_rate": 0}, "learning_rate"),
    ("q_learning", {"learning_rate": 1.5}, "learning_rate"),
    ("q_learning", {"initial_q": "high"}, "initial_q"),
    ("q_learning", {"replay_size": 0}, "replay_size"),
    ("q_learning", {"schedule": []}, "schedule"),
    ("q_learning", {"schedule": [(1.5, 1)]}, "schedule"),
    ("q_learning", {"schedule": [(0.5, 0)]}, "schedule"),
    ("q_learning", {"schedule": [0.5]}, "schedule"),
    ("reinforce", {"units": 0}, "units"),
    ("reinforce", {"learning_rate": 0.0}, "learning_rate"),
    ("reinforce", {"learning_rate": "fast"}, "learning_rate"),
    ("reinforce", {"baseline_decay": 1.0}, "baseline_decay"),
    ("reinforce", {"entropy_weight": -0.1}, "entropy_weight"),
    ("reinforce", {"num_samples": 0}, "num_samples"),
    ("reinforce", {"max_resamples": 1.5}, "max_resamples"),
]


@pytest.mark.parametrize("strategy, kwargs, argument", ARGUMENT_ERRORS)
def test_argument_errors_name_the_argument(strategy, kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        REGISTERED[strategy](OBJECTIVE, **kwargs)
    assert f"{argument}=" in str(info.value)


PINNED = {
    # strategy: (arguments besides seed=1, space, decision, its first
    # values, fingerprint of every proposal). The random warm-ups and
    # founders draw what the other seeded strategies draw first.
    "bayesian": (
        {"max_trials": 10, "num_initial_points": 4},
        nb201,
        "edge_1_0",
        ["nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none", "none", "none"],
        3586399583,
    ),
    "dls": (
        {"max_trials": 16, "num_initial_points": 8},
        nb201,
        "edge_1_0",
        ["nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none"],
        620513899,
    ),
    "evolution": (
        {"max_trials": 12, "population_size": 4, "sample_size": 2},
        nb201,
        "edge_1_0",
        ["nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none"],
        3335854697,
    ),
    "genetic": (
        {"max_trials": 12, "population_size": 4, "elitism": 1},
        nb201,
        "edge_1_0",
        ["nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none"],
        3597891868,
    ),
    "neat": (
        {"max_trials": 12, "population_size": 4},
        deep_mlp,
        "num_layers",
        [1, 1, 1, 1, 2, 2, 1, 2, 1, 2, 1, 2],
        3763509723,
    ),
    "nsga2": (
        {"max_trials": 12, "population_size": 4},
        nb201,
        "edge_1_0",
        ["nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none"],
        4120889074,
    ),
    "q_learning": (
        {"max_trials": 12, "schedule": [(1.0, 1), (0.2, 1)]},
        nb201,
        "edge_1_0",
        ["nor_conv_3x3", "avg_pool_3x3", "avg_pool_3x3", "nor_conv_1x1"],
        2487805120,  # Early schedule, prior Q and Monte Carlo targets (issue 17).
    ),
    "reinforce": (
        {"max_trials": 12},
        nb201,
        "edge_1_0",
        ["nor_conv_1x1", "none", "none", "nor_conv_1x1"],
        3261893009,
    ),
}


def test_permanence(name, tmp_path):
    """Pins the first proposals of each strategy with seed 1."""
    kwargs, space_fn, decision, first, pinned = PINNED[name]
    oracle = REGISTERED[name](OBJECTIVE, seed=1, **kwargs)
    proposals, _ = run(oracle, space_fn(), tmp_path)
    assert [p[decision] for p in proposals[: len(first)]] == first
    assert fingerprint(proposals) == pinned
