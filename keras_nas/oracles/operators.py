"""Variation and selection operators on architecture vectors.

Small functions shared by the evolutionary strategies: each takes an
`ArchitectureEncoding`, canonical vectors (see `keras_nas.encoding`) and a
`numpy.random.Generator`, and returns a new canonical vector (or an index,
for selection). Topology operators act on whole units (layers, blocks,
edges) through the encoding's `SlotStructure` and return `None` when they do
not apply (no structure, depth already at its limit, no skip role).
"""

import numpy as np

from keras_nas.encoding import INACTIVE


def tournament(fitnesses, size, rng):
    """Picks the fittest of `size` members drawn without replacement.

    Args:
        fitnesses: Sequence of fitness values (higher is better).
        size: Tournament size; capped at the number of members.
        rng: A `numpy.random.Generator`.

    Returns:
        The index of the winner in `fitnesses`.
    """
    entrants = rng.choice(len(fitnesses), size=min(size, len(fitnesses)), replace=False)
    return int(max(entrants, key=lambda i: (fitnesses[i], -i)))


def point_mutation(encoding, vector, rng, num_slots=1):
    """Gives `num_slots` active decisions another of their values.

    Decisions with a single value cannot change and are never picked. Slots
    that become active (a deeper chain, a conditional width) get random
    values; slots that become inactive are cleared.

    Args:
        encoding: The `ArchitectureEncoding`.
        vector: A canonical vector.
        rng: A `numpy.random.Generator`.
        num_slots: How many decisions to change.

    Returns:
        A new canonical vector, equal to `vector` if nothing can change.
    """
    vector = np.array(vector, dtype=np.int64)
    for _ in range(num_slots):
        mutable = np.flatnonzero(
            encoding.active_mask(vector) & (encoding.cardinalities > 1)
        )
        if mutable.size == 0:
            break
        slot = int(rng.choice(mutable))
        vector[slot] = _other_value(vector[slot], encoding.cardinalities[slot], rng)
        vector = encoding.repair(vector, rng)
    return vector


def uniform_mutation(encoding, vector, rng, rate):
    """Gives each active decision another value with probability `rate`.

    Args:
        encoding: The `ArchitectureEncoding`.
        vector: A canonical vector.
        rng: A `numpy.random.Generator`.
        rate: Probability that a decision changes.

    Returns:
        A new canonical vector.
    """
    vector = np.array(vector, dtype=np.int64)
    mask = encoding.active_mask(vector) & (encoding.cardinalities > 1)
    for slot in np.flatnonzero(mask & (rng.random(len(vector)) < rate)):
        vector[slot] = _other_value(vector[slot], encoding.cardinalities[slot], rng)
    return encoding.repair(vector, rng)


def uniform_crossover(encoding, first, second, rng):
    """Takes each slot from either parent with equal probability.

    Args:
        encoding: The `ArchitectureEncoding`.
        first: A canonical vector.
        second: A canonical vector.
        rng: A `numpy.random.Generator`.

    Returns:
        A new canonical vector; decisions that become active without a value
        from the chosen parent take the other parent's, else a random one.
    """
    first, second = np.asarray(first), np.asarray(second)
    take_second = rng.random(len(first)) < 0.5
    return _combine(encoding, first, second, take_second, rng)


def one_point_crossover(encoding, first, second, rng):
    """Takes the slots before a random cut from `first`, the rest from `second`.

    Args:
        encoding: The `ArchitectureEncoding`.
        first: A canonical vector.
        second: A canonical vector.
        rng: A `numpy.random.Generator`.

    Returns:
        A new canonical vector (see `uniform_crossover` for inactive slots).
    """
    first, second = np.asarray(first), np.asarray(second)
    cut = int(rng.integers(1, len(first))) if len(first) > 1 else 0
    take_second = np.arange(len(first)) >= cut
    return _combine(encoding, first, second, take_second, rng)


def depth(encoding, vector):
    """The number of active units of a chain (or of all units of a cell).

    Returns:
        An int, or `None` when the space has no repeated structure.
    """
    structure = encoding.structure
    if structure is None:
        return None
    if structure.count_slot is None:
        return len(structure.units)
    return int(structure.count_values[vector[structure.count_slot]])


def insert_unit(encoding, vector, rng):
    """Inserts a random unit at a random position of a chain.

    The units after the position move one place down, keeping their
    decisions.

    Returns:
        A new canonical vector, or `None` if the space is not a chain or the
        chain is at its maximum depth.
    """
    count = _count_step(encoding, vector, +1)
    if count is None:
        return None
    units = encoding.structure.units
    current = depth(encoding, vector)
    position = int(rng.integers(current + 1))
    child = np.array(vector, dtype=np.int64)
    for target in range(current, position, -1):
        _copy_unit(child, units[target - 1], units[target], vector)
    for slot in units[position].values():
        child[slot] = INACTIVE
    child[encoding.structure.count_slot] = count
    return encoding.repair(child, rng)


def delete_unit(encoding, vector, rng):
    """Deletes a random unit of a chain; the units after it move up.

    Returns:
        A new canonical vector, or `None` if the space is not a chain or the
        chain is at its minimum depth.
    """
    count = _count_step(encoding, vector, -1)
    if count is None:
        return None
    units = encoding.structure.units
    current = depth(encoding, vector)
    position = int(rng.integers(current))
    child = np.array(vector, dtype=np.int64)
    for target in range(position, current - 1):
        _copy_unit(child, units[target + 1], units[target], vector)
    child[encoding.structure.count_slot] = count
    return encoding.repair(child, rng)


def replace_operation(encoding, vector, rng):
    """Gives one active unit's `"operation"` another value.

    Returns:
        A new canonical vector, or `None` if no unit has an operation with
        more than one value.
    """
    return _mutate_role(encoding, vector, rng, "operation")


def toggle_skip(encoding, vector, rng):
    """Adds or removes the skip connection of one active unit.

    Returns:
        A new canonical vector, or `None` if the units have no `"skip"` role.
    """
    return _mutate_role(encoding, vector, rng, "skip")


def structural_distance(encoding, first, second, depth_weight=1.0):
    """A NEAT-style compatibility distance between two architectures.

    With repeated structure: `depth_weight` times the difference in depth,
    plus the fraction of differing decisions among the units both have.
    Without it: the fraction of slots that differ.

    Returns:
        A non-negative float; 0 for identical architectures.
    """
    first, second = np.asarray(first), np.asarray(second)
    structure = encoding.structure
    if structure is None:
        return float(np.mean(first != second)) if len(first) else 0.0
    depth_first, depth_second = depth(encoding, first), depth(encoding, second)
    shared = [
        slot
        for unit in structure.units[: min(depth_first, depth_second)]
        for slot in unit.values()
    ]
    mismatch = float(np.mean(first[shared] != second[shared])) if shared else 0.0
    return depth_weight * abs(depth_first - depth_second) + mismatch


def _other_value(current, cardinality, rng):
    """A uniformly random index in [0, cardinality) other than `current`."""
    if current < 0 or current >= cardinality:
        return int(rng.integers(cardinality))
    return int((current + 1 + rng.integers(cardinality - 1)) % cardinality)


def _combine(encoding, first, second, take_second, rng):
    child = np.where(take_second, second, first)
    fallback = np.where(take_second, first, second)
    child = np.where(child == INACTIVE, fallback, child)
    return encoding.repair(child, rng)


def _count_step(encoding, vector, step):
    """The count index one unit deeper or shallower, or `None`."""
    structure = encoding.structure
    if structure is None or structure.count_slot is None:
        return None
    wanted = depth(encoding, vector) + step
    if wanted not in structure.count_values:
        return None
    return structure.count_values.index(wanted)


def _copy_unit(child, source, target, vector):
    for role, slot in source.items():
        child[target[role]] = vector[slot]


def _mutate_role(encoding, vector, rng, role):
    structure = encoding.structure
    if structure is None or role not in structure.units[0]:
        return None
    mask = encoding.active_mask(vector)
    slots = [
        unit[role]
        for unit in structure.units
        if mask[unit[role]] and encoding.cardinalities[unit[role]] > 1
    ]
    if not slots:
        return None
    slot = int(rng.choice(slots))
    child = np.array(vector, dtype=np.int64)
    child[slot] = _other_value(child[slot], encoding.cardinalities[slot], rng)
    return encoding.repair(child, rng)
