"""Tests for keras_nas.oracles.operators, on encodings of our spaces."""

import numpy as np
import pytest

from keras_nas.encoding import INACTIVE
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles import operators
from keras_nas.spaces import MLP
from keras_nas.spaces import ConvNet
from oracle_helpers import declared
from oracle_helpers import nb201


def encoding_of(space):
    return ArchitectureEncoding(declared(space), space.structure())


def mlp_encoding():
    return encoding_of(
        MLP((4,), 3, min_layers=1, max_layers=4, widths=(4, 8, 16),
            activations=("relu", "tanh", "elu"))
    )


def random_vectors(enc, n, seed=0):
    rng = np.random.default_rng(seed)
    return [enc.random_vector(rng) for _ in range(n)]


def canonical(enc, vector):
    return np.array_equal(enc.repair(vector, np.random.default_rng(0)), vector)


def unit_values(enc, vector, index):
    unit = enc.structure.units[index]
    return {role: int(vector[slot]) for role, slot in unit.items()}


def test_tournament_picks_the_fittest_entrant():
    rng = np.random.default_rng(0)
    fitnesses = [0.1, 0.9, 0.5, 0.3]
    assert operators.tournament(fitnesses, 4, rng) == 1
    assert operators.tournament(fitnesses, 10, rng) == 1  # capped at 4
    wins = [operators.tournament(fitnesses, 1, rng) for _ in range(400)]
    assert set(wins) == {0, 1, 2, 3}  # size 1 is uniform selection
    pairs = [operators.tournament(fitnesses, 2, rng) for _ in range(600)]
    # With size 2 the worst member never wins and the best wins half.
    assert 0 not in pairs and abs(pairs.count(1) / 600 - 0.5) < 0.08


@pytest.mark.parametrize(
    "make_encoding", [lambda: encoding_of(nb201()), mlp_encoding], ids=["nb201", "mlp"]
)
def test_point_mutation_changes_one_decision(make_encoding):
    enc = make_encoding()
    rng = np.random.default_rng(1)
    for parent in random_vectors(enc, 50):
        child = operators.point_mutation(enc, parent, rng)
        assert canonical(enc, child)
        changed = np.flatnonzero(child != parent)
        assert changed.size >= 1
        if enc.structure.count_slot is None or child[0] == parent[0]:
            assert changed.size == 1  # a depth change may (de)activate slots


def test_uniform_mutation_rate_zero_and_one():
    enc = encoding_of(nb201())
    rng = np.random.default_rng(2)
    parent = enc.random_vector(rng)
    assert np.array_equal(operators.uniform_mutation(enc, parent, rng, 0.0), parent)
    child = operators.uniform_mutation(enc, parent, rng, 1.0)
    assert np.all(child != parent)  # every edge takes another operation


def test_uniform_crossover_takes_each_slot_from_a_parent():
    enc = encoding_of(nb201())
    rng = np.random.default_rng(3)
    a, b = random_vectors(enc, 2, seed=3)
    children = [operators.uniform_crossover(enc, a, b, rng) for _ in range(100)]
    for child in children:
        assert np.all((child == a) | (child == b))
    mixed = [c for c in children if not (np.array_equal(c, a) or np.array_equal(c, b))]
    assert len(mixed) > 80


def test_one_point_crossover_is_a_prefix_and_a_suffix():
    enc = encoding_of(nb201())
    rng = np.random.default_rng(4)
    a = np.zeros(6, dtype=np.int64)
    b = np.full(6, 3, dtype=np.int64)
    cuts = set()
    for _ in range(100):
        child = operators.one_point_crossover(enc, a, b, rng)
        cut = int(np.argmax(child == 3))
        assert np.all(child[:cut] == 0) and np.all(child[cut:] == 3)
        cuts.add(cut)
    assert cuts == {1, 2, 3, 4, 5}


def test_crossover_of_chains_of_different_depth_is_canonical():
    enc = mlp_encoding()
    rng = np.random.default_rng(5)
    vectors = random_vectors(enc, 40, seed=5)
    for a, b in zip(vectors, vectors[1:]):
        for cross in (operators.uniform_crossover, operators.one_point_crossover):
            child = cross(enc, a, b, rng)
            assert canonical(enc, child)
            assert INACTIVE not in child[enc.active_mask(child)]


def test_insert_unit_shifts_later_units_down():
    enc = mlp_encoding()
    rng = np.random.default_rng(6)
    grown = 0
    for parent in random_vectors(enc, 60, seed=6):
        depth = operators.depth(enc, parent)
        child = operators.insert_unit(enc, parent, rng)
        if depth == 4:
            assert child is None
            continue
        grown += 1
        assert canonical(enc, child)
        assert operators.depth(enc, child) == depth + 1
        old = [unit_values(enc, parent, i) for i in range(depth)]
        new = [unit_values(enc, child, i) for i in range(depth + 1)]
        # Removing one unit of the child gives back the parent's units.
        assert any(new[:k] + new[k + 1 :] == old for k in range(depth + 1))
    assert grown > 20


def test_delete_unit_removes_one_unit():
    enc = mlp_encoding()
    rng = np.random.default_rng(7)
    for parent in random_vectors(enc, 60, seed=7):
        depth = operators.depth(enc, parent)
        child = operators.delete_unit(enc, parent, rng)
        if depth == 1:
            assert child is None
            continue
        assert canonical(enc, child)
        assert operators.depth(enc, child) == depth - 1
        old = [unit_values(enc, parent, i) for i in range(depth)]
        new = [unit_values(enc, child, i) for i in range(depth - 1)]
        assert any(old[:k] + old[k + 1 :] == new for k in range(depth))


def test_structure_mutations_on_convnet_keep_conditional_filters():
    space = ConvNet((8, 8, 1), 3, max_blocks=4)
    enc = encoding_of(space)
    rng = np.random.default_rng(8)
    for parent in random_vectors(enc, 40, seed=8):
        for op in (operators.insert_unit, operators.delete_unit,
                   operators.replace_operation, operators.toggle_skip):
            child = op(enc, parent, rng)
            if child is not None:
                assert canonical(enc, child)
                space.describe(enc.decode(child))  # a valid architecture


def test_replace_operation_and_toggle_skip_touch_one_role():
    enc = mlp_encoding()
    rng = np.random.default_rng(9)
    op_slots = {u["operation"] for u in enc.structure.units}
    skip_slots = {u["skip"] for u in enc.structure.units}
    for parent in random_vectors(enc, 30, seed=9):
        child = operators.replace_operation(enc, parent, rng)
        changed = set(np.flatnonzero(child != parent))
        assert len(changed) == 1 and changed <= op_slots
        child = operators.toggle_skip(enc, parent, rng)
        changed = set(np.flatnonzero(child != parent))
        assert len(changed) == 1 and changed <= skip_slots


def test_topology_operators_on_a_cell():
    enc = encoding_of(nb201())
    rng = np.random.default_rng(10)
    parent = enc.random_vector(rng)
    assert operators.insert_unit(enc, parent, rng) is None
    assert operators.delete_unit(enc, parent, rng) is None
    assert operators.toggle_skip(enc, parent, rng) is None
    assert operators.depth(enc, parent) == 6
    child = operators.replace_operation(enc, parent, rng)
    assert np.count_nonzero(child != parent) == 1


def test_structural_distance():
    enc = mlp_encoding()
    rng = np.random.default_rng(11)
    a = enc.random_vector(rng)
    assert operators.structural_distance(enc, a, a) == 0.0
    deeper = operators.insert_unit(enc, a, rng)
    if deeper is None:
        deeper = operators.delete_unit(enc, a, rng)
    assert operators.structural_distance(enc, a, deeper) >= 1.0
    changed = operators.replace_operation(enc, a, rng)
    d = operators.structural_distance(enc, a, changed)
    assert 0.0 < d < 1.0
    b = enc.random_vector(rng)
    assert operators.structural_distance(enc, a, b) == operators.structural_distance(
        enc, b, a
    )
