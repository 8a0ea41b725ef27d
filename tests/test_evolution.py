"""Tests for the evolutionary oracles, driven directly (no training)."""

import json

import keras_tuner as kt
import numpy as np
import pytest

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles import STRATEGIES
from keras_nas.oracles import GeneticOracle
from keras_nas.oracles import NEATOracle
from keras_nas.oracles import RegularizedEvolutionOracle
from keras_nas.oracles import get_oracle
from keras_nas.oracles import operators
from oracle_helpers import OBJECTIVE
from oracle_helpers import assert_canonical
from oracle_helpers import continuous_space
from oracle_helpers import conv_share
from oracle_helpers import declared
from oracle_helpers import deep_mlp
from oracle_helpers import drive
from oracle_helpers import fingerprint
from oracle_helpers import finish
from oracle_helpers import keys
from oracle_helpers import nb201
from oracle_helpers import run
from oracle_helpers import score
from oracle_helpers import small_mlp
from oracle_helpers import start

EVOLUTIONARY = {
    "evolution": lambda **kw: RegularizedEvolutionOracle(
        OBJECTIVE, population_size=6, sample_size=3, **kw
    ),
    "genetic": lambda **kw: GeneticOracle(
        OBJECTIVE, population_size=6, tournament_size=2, elitism=1, **kw
    ),
    "neat": lambda **kw: NEATOracle(OBJECTIVE, population_size=6, **kw),
}



@pytest.fixture(params=sorted(EVOLUTIONARY))
def make(request):
    return EVOLUTIONARY[request.param]


def test_registered_by_name():
    for name, cls in [("evolution", RegularizedEvolutionOracle),
                      ("genetic", GeneticOracle), ("neat", NEATOracle)]:
        assert STRATEGIES[name] is cls
        oracle = get_oracle(name, "val_loss", 9, seed=2)
        assert isinstance(oracle, cls) and oracle.max_trials == 9


def test_never_repeats_and_stops_when_the_space_is_spent(make, tmp_path):
    """small_mlp holds 72 architectures: all are proposed once, then STOPPED."""
    oracle = make(max_trials=100, seed=1)
    proposals, stopped = run(oracle, small_mlp(), tmp_path)
    assert stopped and len(proposals) == 72
    enc = ArchitectureEncoding(declared(small_mlp()))
    assert len(set(keys(enc, proposals))) == 72
    for values in proposals:
        assert_canonical(enc, values)


def test_valid_unique_proposals_on_nb201(make, tmp_path):
    oracle = make(max_trials=60, seed=2)
    proposals, stopped = run(oracle, nb201(), tmp_path)
    assert stopped and len(proposals) == 60
    enc = ArchitectureEncoding(declared(nb201()))
    assert len(set(keys(enc, proposals))) == 60


def test_works_on_a_plain_keras_tuner_space(make, tmp_path):
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


def test_same_seed_same_proposals(make, tmp_path):
    first, _ = run(make(max_trials=25, seed=4), nb201(), tmp_path, project="a")
    second, _ = run(make(max_trials=25, seed=4), nb201(), tmp_path, project="b")
    other, _ = run(make(max_trials=25, seed=5), nb201(), tmp_path, project="c")
    assert first == second
    assert first != other


def test_save_and_reload_continues_the_same_search(make, tmp_path):
    space = deep_mlp()
    first = make(max_trials=40, seed=6)
    before, _ = run(first, space, tmp_path, n=17, project="resumed")
    first.save()
    state = json.loads(json.dumps(first.get_state()))  # JSON-safe

    second = make(max_trials=40, seed=6)
    start(second, declared(space), tmp_path, "resumed", space=space)
    second.reload()
    reloaded = second.get_state()
    # KerasTuner keeps `tried_so_far` as a set: compare it unordered.
    assert sorted(reloaded.pop("tried_so_far")) == sorted(state.pop("tried_so_far"))
    assert reloaded == state
    after, stopped = drive(second)
    assert stopped and len(before) + len(after) == 40

    expected, _ = run(make(max_trials=40, seed=6), space, tmp_path, project="straight")
    assert before + after == expected


def test_asynchronous_workers_get_proposals_without_waiting(make, tmp_path):
    """Several workers hold trials at once; results arrive out of order."""
    space = nb201()
    oracle = make(max_trials=40, seed=7)
    start(oracle, declared(space), tmp_path, space=space)
    enc = ArchitectureEncoding(declared(space))
    seen = []
    running = {}
    rng = np.random.default_rng(0)
    while True:
        for worker in ("w0", "w1", "w2"):
            if worker not in running:
                trial = oracle.create_trial(worker)
                if trial.status == "STOPPED":
                    continue
                assert trial.status == "RUNNING"
                running[worker] = trial
                seen.append(dict(trial.hyperparameters.values))
        if not running:
            break
        worker = list(running)[int(rng.integers(len(running)))]
        trial = running.pop(worker)
        finish(oracle, trial, {"val_accuracy": score(trial.hyperparameters.values)})
    assert len(seen) == 40
    assert len(set(keys(enc, seen))) == 40


def test_failed_trials_never_join_the_population(make, tmp_path):
    space = nb201()
    oracle = make(max_trials=40, seed=8)
    start(oracle, declared(space), tmp_path, space=space)
    failed = set()
    for i in range(30):
        trial = oracle.create_trial("w0")
        if i % 3 == 0:
            trial.status = "FAILED"
            failed.add(trial.trial_id)
            oracle.end_trial(trial)
        else:
            finish(oracle, trial, {"val_accuracy": score(trial.hyperparameters.values)})
    oracle.create_trial("w0")  # absorbs the last results
    members = oracle.members if isinstance(oracle, NEATOracle) else oracle.population
    assert members and not failed & set(members)



def test_direction_of_the_objective_is_followed(make, tmp_path):
    """Minimising a score evolves towards low values, maximising towards high."""
    space = nb201()
    means = {}
    for direction in ("min", "max"):
        oracle = make(max_trials=80, seed=9)
        oracle.objective = kt.Objective("val_score", direction=direction)
        start(oracle, declared(space), tmp_path, direction, space=space)
        scores = []
        for _ in range(80):
            trial = oracle.create_trial("w0")
            value = conv_share(trial.hyperparameters.values)
            scores.append(value)
            finish(oracle, trial, {"val_score": value})
        means[direction] = np.mean(scores[40:])
    assert means["min"] < 0.1 and means["max"] > 0.4


# ------------------------------------------------------ regularized evolution


def test_regularized_evolution_oldest_dies(tmp_path):
    oracle = RegularizedEvolutionOracle(OBJECTIVE, max_trials=40, seed=1,
                                        population_size=5, sample_size=2)
    run(oracle, nb201(), tmp_path, n=30)
    oracle.create_trial("w0")  # the next proposal absorbs the last result
    assert oracle.population == oracle.end_order[-5:]


def test_regularized_evolution_children_are_one_mutation_from_a_member(tmp_path):
    space = nb201()
    enc = ArchitectureEncoding(declared(space))
    oracle = RegularizedEvolutionOracle(OBJECTIVE, max_trials=40, seed=2,
                                        population_size=8, sample_size=3)
    start(oracle, declared(space), tmp_path, space=space)
    distances = []
    for i in range(40):
        trial = oracle.create_trial("w0")
        # The population the child was bred from (results absorbed).
        members = [oracle.vector(t) for t in oracle.population]
        child = enc.encode(trial.hyperparameters.values)
        if len(members) == 8 and i > 8:
            distances.append(min(np.count_nonzero(child != m) for m in members))
        finish(oracle, trial, {"val_accuracy": score(trial.hyperparameters.values)})
    assert len(distances) == 31 and set(distances) == {1}


def test_regularized_evolution_permanence(tmp_path):
    """Pins the first proposals of RegularizedEvolutionOracle(seed=1)."""
    oracle = RegularizedEvolutionOracle(OBJECTIVE, max_trials=12, seed=1,
                                        population_size=4, sample_size=2)
    proposals, _ = run(oracle, nb201(), tmp_path)
    assert [p["edge_1_0"] for p in proposals[:4]] == PINNED["evolution_first"]
    assert fingerprint(proposals) == PINNED["evolution"]


# ------------------------------------------------------------------ genetic


def test_genetic_elitism_keeps_the_best(tmp_path):
    oracle = GeneticOracle(OBJECTIVE, max_trials=70, seed=3, population_size=6,
                           elitism=2)
    run(oracle, nb201(), tmp_path, n=60)
    oracle.create_trial("w0")
    assert oracle.generation >= 5
    best = max(oracle.end_order, key=oracle.fitness)
    assert best in oracle.population
    assert len(oracle.population) == 6


def test_genetic_crossover_choices(tmp_path):
    for crossover in ("uniform", "one_point"):
        oracle = GeneticOracle(OBJECTIVE, max_trials=20, seed=4,
                               population_size=5, crossover=crossover,
                               crossover_rate=1.0)
        proposals, stopped = run(oracle, nb201(), tmp_path, project=crossover)
        assert stopped and len(proposals) == 20


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"population_size": 0}, "population_size"),
        ({"tournament_size": -1}, "tournament_size"),
        ({"crossover": "two_point"}, "crossover"),
        ({"crossover_rate": 1.5}, "crossover_rate"),
        ({"mutation_rate": -0.1}, "mutation_rate"),
        ({"elitism": 20}, "elitism"),
    ],
)
def test_genetic_argument_errors(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        GeneticOracle(OBJECTIVE, **kwargs)
    assert f"{argument}=" in str(info.value)


def test_genetic_permanence(tmp_path):
    oracle = GeneticOracle(OBJECTIVE, max_trials=12, seed=1, population_size=4,
                           elitism=1)
    proposals, _ = run(oracle, nb201(), tmp_path)
    assert [p["edge_1_0"] for p in proposals[:4]] == PINNED["genetic_first"]
    assert fingerprint(proposals) == PINNED["genetic"]


# --------------------------------------------------------------------- NEAT


def depth_loving_score(values):
    """Rewards depth strongly, so growth must be found by mutation."""
    return values["num_layers"] + score(values)


def test_neat_starts_minimal_and_grows(tmp_path):
    space = deep_mlp()
    oracle = NEATOracle(OBJECTIVE, max_trials=60, seed=5, population_size=8)
    start(oracle, declared(space), tmp_path, space=space)
    depths = []
    for _ in range(60):
        trial = oracle.create_trial("w0")
        values = trial.hyperparameters.values
        depths.append(values["num_layers"])
        finish(oracle, trial, {"val_accuracy": depth_loving_score(values)})
    assert depths[:8] == [1] * 8  # founders are minimal
    assert max(depths) == 5
    assert np.mean(depths[-10:]) > 3.5


def test_neat_speciates_and_saves_species(tmp_path):
    space = deep_mlp()
    oracle = NEATOracle(OBJECTIVE, max_trials=60, seed=6, population_size=10,
                        target_species=3)
    run(oracle, space, tmp_path, n=50)
    oracle.create_trial("w0")
    assert len(oracle.members) == 10
    assert len(oracle.species) >= 2
    ids = [s["id"] for s in oracle.species]
    assert len(set(ids)) == len(ids)
    enc = oracle.encoding
    for species in oracle.species:
        rep = oracle.vector(species["representative"])
        assert species["representative"] in species["members"]
        for member in species["members"]:
            d = operators.structural_distance(enc, rep, oracle.vector(member))
            assert d >= 0.0
    state = json.loads(json.dumps(oracle.get_state()))
    assert state["species"] == oracle.species
    assert state["threshold"] == oracle.threshold


def test_neat_on_a_cell_replaces_operations(tmp_path):
    """NB201 has no chain: NEAT falls back to operation replacement."""
    space = nb201()
    enc = ArchitectureEncoding(declared(space))
    oracle = NEATOracle(OBJECTIVE, max_trials=40, seed=7, population_size=6)
    start(oracle, declared(space), tmp_path, space=space)
    for i in range(40):
        trial = oracle.create_trial("w0")
        members = [oracle.vector(t) for t in oracle.members]
        child = enc.encode(trial.hyperparameters.values)
        if i > 10:
            assert min(np.count_nonzero(child != m) for m in members) >= 1
        finish(oracle, trial, {"val_accuracy": score(trial.hyperparameters.values)})


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"compatibility_threshold": 0}, "compatibility_threshold"),
        ({"mutation_weights": {"grow": 1.0}}, "mutation_weights"),
        ({"mutation_weights": {"point": 0.0}}, "mutation_weights"),
        ({"target_species": 0}, "target_species"),
    ],
)
def test_neat_argument_errors(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        NEATOracle(OBJECTIVE, **kwargs)


def test_neat_permanence(tmp_path):
    oracle = NEATOracle(OBJECTIVE, max_trials=12, seed=1, population_size=4)
    proposals, _ = run(oracle, deep_mlp(), tmp_path)
    assert [p["num_layers"] for p in proposals] == PINNED["neat_depths"]
    assert fingerprint(proposals) == PINNED["neat"]


PINNED = {
    # Founders are random draws of the same seed for both algorithms.
    "evolution_first": ["nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none"],
    "evolution": 3335854697,
    "genetic_first": ["nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none"],
    "genetic": 3597891868,
    "neat_depths": [1, 1, 1, 1, 2, 2, 1, 2, 1, 2, 1, 2],
    "neat": 3763509723,
}
