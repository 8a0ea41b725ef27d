"""Architecture encoding: KerasTuner hyperparameters <-> integer vectors.

Every learned strategy (evolution, controllers, surrogates) works on one
fixed-length integer vector per architecture: one slot per decision of the
space, holding the index of the chosen value, or `INACTIVE` when the decision
is switched off by a condition (a layer beyond the chosen depth, say). No
strategy parses hyperparameter names itself.

Spaces with repeated structure (the layers of a chain, the edges of a cell)
describe it with a `RepeatedStructure`; the encoding resolves it to slot
indices so that topology operators can move whole layers.
"""

import dataclasses
import functools

import keras_tuner as kt
import numpy as np

INACTIVE = -1
"""The token stored in a slot whose decision is inactive."""

_MAX_ENUMERATED_INTS = 64


@dataclasses.dataclass(frozen=True)
class RepeatedStructure:
    """The repeated units of a search space, by hyperparameter name.

    Args:
        kind: `"chain"` for a sequence of layers or blocks whose number is
            itself a decision, `"cell"` for a fixed set of edges.
        units: One mapping per unit, from a role (`"operation"`, `"skip"`,
            `"units"`, ...) to the name of that unit's hyperparameter. All
            units share the same roles, so that a unit's decisions can be
            copied onto another's.
        count: For a chain, the name of the `Int` hyperparameter holding the
            number of active units; unit `i` is active when `count > i`.
            `None` for a cell, whose units are always present.
    """

    kind: str
    units: tuple
    count: str | None = None


@dataclasses.dataclass(frozen=True)
class SlotStructure:
    """A `RepeatedStructure` resolved to slot indices of an encoding.

    Attributes:
        kind: `"chain"` or `"cell"`.
        units: One dict per unit, from role to slot index.
        count_slot: Slot of the unit count (chains), or `None`.
        count_values: The values the unit count can take (chains), or `()`.
    """

    kind: str
    units: tuple
    count_slot: int | None
    count_values: tuple


@dataclasses.dataclass(frozen=True)
class Slot:
    """One decision of the space and the values its index refers to.

    Attributes:
        hyperparameter: The KerasTuner hyperparameter behind the slot.
        choices: The values the slot's index selects from.
        exact: Whether `choices` lists every value the hyperparameter can
            take (`False` for a continuous or very wide range, binned).
    """

    hyperparameter: kt.engine.hyperparameters.HyperParameter
    choices: tuple
    exact: bool = True

    @property
    def name(self):
        return self.hyperparameter.name

    @property
    def conditions(self):
        return self.hyperparameter.conditions

    def is_active(self, values):
        """Whether this decision is active given the values decided so far."""
        return all(cond.is_active(values) for cond in self.conditions)


def _python_value(value):
    """Converts NumPy scalars to the plain Python types KerasTuner expects."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _make_slot(hp, float_bins):
    """Makes the slot of one hyperparameter, listing the values it can take."""
    hps = kt.engine.hyperparameters
    if isinstance(hp, hps.Boolean):
        return Slot(hp, (False, True))
    if isinstance(hp, (hps.Choice, hps.Fixed)):
        return Slot(hp, tuple(_python_value(v) for v in hp.values))
    as_type = int if isinstance(hp, hps.Int) else float
    if isinstance(hp, (hps.Int, hps.Float)) and hp.step is not None:
        values = sorted({as_type(round(v) if as_type is int else v) for v in hp.values})
        if len(values) <= _MAX_ENUMERATED_INTS:
            return Slot(hp, tuple(values))
    if isinstance(hp, (hps.Int, hps.Float)):
        probs = [(k + 0.5) / float_bins for k in range(float_bins)]
        values = sorted({_python_value(hp.prob_to_value(p)) for p in probs})
        return Slot(hp, tuple(values), exact=False)
    raise TypeError(
        f"Unsupported hyperparameter type for the architecture encoding: "
        f"{type(hp).__name__} ({hp.name})."
    )


class ArchitectureEncoding:
    """Maps architectures (hyperparameter values) to integer vectors and back.

    Args:
        hyperparameters: A `keras_tuner.HyperParameters` holding the whole
            space, conditions included (what an oracle's
            `self.hyperparameters` holds once the space is declared).
        structure: Optional `RepeatedStructure` of the space.
        float_bins: Number of grid points for continuous `Float` (and very
            wide `Int`) decisions, which the encoding discretises.

    Example:

    ```python
    hp = keras_tuner.HyperParameters()
    hp.Int("layers", 1, 2)
    with hp.conditional_scope("layers", [2]):
        hp.Choice("units_1", [8, 16])
    enc = ArchitectureEncoding(hp)
    vec = enc.encode({"layers": 1})      # array([0, -1])
    enc.decode(vec)                      # {"layers": 1}
    ```
    """

    def __init__(self, hyperparameters, structure=None, float_bins=10):
        if not isinstance(float_bins, int) or float_bins < 2:
            raise ValueError(
                "Received an invalid value for `float_bins`, expected an "
                f"integer of at least 2. Received: float_bins={float_bins}"
            )
        self.slots = tuple(
            _make_slot(hp, float_bins) for hp in hyperparameters.space
        )
        self._index = {}
        for i, slot in enumerate(self.slots):
            self._index.setdefault(slot.name, []).append(i)
        self.cardinalities = np.array(
            [len(s.choices) for s in self.slots], dtype=np.int64
        )
        self.structure = (
            self._resolve_structure(structure) if structure is not None else None
        )
        self._last_reference = self._parent_last_reference()

    def __len__(self):
        return len(self.slots)

    @property
    def exact(self):
        """Whether every decision's values are all listed (none binned)."""
        return all(slot.exact for slot in self.slots)

    @property
    def names(self):
        """The hyperparameter name of each slot, in slot order."""
        return tuple(slot.name for slot in self.slots)

    def slot_of(self, name):
        """Returns the slot index of the (first) hyperparameter `name`."""
        if name not in self._index:
            raise KeyError(f"No decision named {name!r} in the space.")
        return self._index[name][0]

    def encode(self, values):
        """Encodes active hyperparameter values as an integer vector.

        Args:
            values: Dict of hyperparameter name to value; only active
                decisions are read, extra keys are ignored.

        Returns:
            An int64 NumPy vector with one entry per slot, `INACTIVE` where the
            decision is inactive.

        Raises:
            ValueError: If a categorical value is not among its choices.
        """
        vector = np.full(len(self.slots), INACTIVE, dtype=np.int64)
        decided = {}
        for i, slot in enumerate(self.slots):
            if not slot.is_active(decided):
                continue
            if slot.name in values:
                value = values[slot.name]
            else:
                value = slot.hyperparameter.default
            vector[i] = self._choice_index(slot, value)
            decided[slot.name] = slot.choices[vector[i]]
        return vector

    def decode(self, vector):
        """Decodes an integer vector into the active hyperparameter values.

        Slots whose decision is inactive are ignored whatever they hold.

        Args:
            vector: A sequence of ints, one per slot.

        Returns:
            Dict of the active decisions' names to plain Python values, in slot
            order.

        Raises:
            ValueError: If the vector has the wrong length, or an active slot
                holds `INACTIVE` or an index out of range.
        """
        vector = self._check_vector(vector)
        values = {}
        for i, slot in enumerate(self.slots):
            if not slot.is_active(values):
                continue
            index = int(vector[i])
            if not 0 <= index < len(slot.choices):
                raise ValueError(
                    f"Slot {i} ({slot.name}) is active but holds {index}; "
                    f"expected an index in [0, {len(slot.choices)})."
                )
            values[slot.name] = slot.choices[index]
        return values

    def repair(self, vector, rng):
        """Makes a vector canonical: inactive slots `INACTIVE`, active valid.

        Active slots holding `INACTIVE` or an out-of-range index get a random
        valid index, so operators may write freely and repair afterwards.

        Args:
            vector: A sequence of ints, one per slot.
            rng: A `numpy.random.Generator`.

        Returns:
            A new canonical int64 vector.
        """
        vector = self._check_vector(vector).copy()
        values = {}
        for i, slot in enumerate(self.slots):
            if not slot.is_active(values):
                vector[i] = INACTIVE
                continue
            if not 0 <= vector[i] < len(slot.choices):
                vector[i] = rng.integers(len(slot.choices))
            values[slot.name] = slot.choices[vector[i]]
        return vector

    def active_mask(self, vector):
        """Returns a boolean vector: which slots are active for `vector`."""
        vector = self._check_vector(vector)
        mask = np.zeros(len(self.slots), dtype=bool)
        values = {}
        for i, slot in enumerate(self.slots):
            if slot.is_active(values) and 0 <= vector[i] < len(slot.choices):
                mask[i] = True
                values[slot.name] = slot.choices[vector[i]]
        return mask

    def random_vector(self, rng):
        """Samples a canonical vector uniformly per active decision."""
        return self.repair(np.full(len(self.slots), INACTIVE), rng)

    def key(self, vector):
        """A hashable key naming the architecture of a canonical vector."""
        return tuple(int(v) for v in self._check_vector(vector))

    def count(self):
        """Counts the distinct architectures of the space, exactly.

        Conditions are honoured: the decisions of a layer beyond the chosen
        depth do not multiply the count.

        Returns:
            The number of distinct canonical vectors (Python int).
        """

        @functools.lru_cache(maxsize=None)
        def count_from(i, env):
            if i == len(self.slots):
                return 1
            slot = self.slots[i]
            decided = dict(env)
            if not slot.is_active(decided):
                return count_from(i + 1, self._prune(decided, i + 1))
            return sum(
                count_from(i + 1, self._prune({**decided, slot.name: c}, i + 1))
                for c in slot.choices
            )

        return count_from(0, ())

    def enumerate(self):
        """Yields every canonical vector of the space, in lexicographic order.

        Yields:
            int64 NumPy vectors, the first slot changing slowest.
        """
        vector = np.full(len(self.slots), INACTIVE, dtype=np.int64)

        def walk(i, values):
            if i == len(self.slots):
                yield vector.copy()
                return
            slot = self.slots[i]
            if not slot.is_active(values):
                vector[i] = INACTIVE
                yield from walk(i + 1, values)
                return
            for index, choice in enumerate(slot.choices):
                vector[i] = index
                yield from walk(i + 1, {**values, slot.name: choice})

        yield from walk(0, {})

    def _choice_index(self, slot, value):
        value = _python_value(value)
        for index, choice in enumerate(slot.choices):
            if choice == value and type(choice) is type(value):
                return index
        hps = kt.engine.hyperparameters
        numeric = isinstance(slot.hyperparameter, (hps.Int, hps.Float))
        if numeric and isinstance(value, (int, float)):
            log = slot.hyperparameter.sampling == "log" and value > 0
            scale = np.log if log else np.asarray
            distances = np.abs(scale(np.asarray(slot.choices, float)) - scale(value))
            return int(np.argmin(distances))
        for index, choice in enumerate(slot.choices):
            if choice == value:
                return index
        raise ValueError(
            f"Received an invalid value for `{slot.name}`, expected one of "
            f"{list(slot.choices)}. Received: {slot.name}={value!r}"
        )

    def _check_vector(self, vector):
        vector = np.asarray(vector, dtype=np.int64)
        if vector.shape != (len(self.slots),):
            raise ValueError(
                f"Received an invalid architecture vector, expected shape "
                f"({len(self.slots)},). Received: shape={vector.shape}"
            )
        return vector

    def _parent_last_reference(self):
        """Maps each parent name to the last slot whose conditions use it."""
        last = {}
        for i, slot in enumerate(self.slots):
            for cond in slot.conditions:
                last[cond.name] = i
        return last

    def _prune(self, decided, next_slot):
        """Keeps only decisions later slots' conditions still refer to."""
        return tuple(
            sorted(
                (name, value)
                for name, value in decided.items()
                if self._last_reference.get(name, -1) >= next_slot
            )
        )

    def _resolve_structure(self, structure):
        if structure.kind not in ("chain", "cell"):
            raise ValueError(
                "Received an invalid value for `structure.kind`, expected "
                f"'chain' or 'cell'. Received: kind={structure.kind!r}"
            )
        units = tuple(
            {role: self.slot_of(name) for role, name in unit.items()}
            for unit in structure.units
        )
        roles = {frozenset(unit) for unit in units}
        if len(roles) > 1:
            raise ValueError(
                "All units of a RepeatedStructure must share the same roles. "
                f"Received roles: {sorted(sorted(r) for r in roles)}"
            )
        count_slot = None
        count_values = ()
        if structure.count is not None:
            count_slot = self.slot_of(structure.count)
            count_values = self.slots[count_slot].choices
        return SlotStructure(structure.kind, units, count_slot, count_values)

