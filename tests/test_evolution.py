"""Tests for the evolutionary oracles, driven directly (no training)."""

import json

import numpy as np

from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles import GeneticOracle
from keras_nas.oracles import NEATOracle
from keras_nas.oracles import RegularizedEvolutionOracle
from keras_nas.oracles import operators
from oracle_helpers import OBJECTIVE
from oracle_helpers import declared
from oracle_helpers import deep_mlp
from oracle_helpers import finish
from oracle_helpers import nb201
from oracle_helpers import run
from oracle_helpers import score
from oracle_helpers import start


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
