"""How a benchmark of several objectives scores a run: hypervolume regret.

The objectives are normalised to [0, 1] over the whole table, turned to
minimisation (0 the table's best value, 1 its worst), and the hypervolume
of a set of points is taken against the reference point 1.1 in every
objective. A run's regret after `k` queries is
`100 * (1 - HV(first k queries) / HV(the table's Pareto front))`: 0 when
the queries hold the whole front, 100 when they dominate nothing.
"""

import dataclasses

import keras_tuner as kt
import numpy as np

from keras_nas.objectives import pareto

REFERENCE = 1.1
"""The reference point, in each normalised, minimised objective."""


@dataclasses.dataclass
class HypervolumeScale:
    """The normalisation and the true front of a table, for several objectives.

    Attributes:
        names: The objectives' metric names.
        directions: Their directions, `"max"` or `"min"`.
        low: Each metric's smallest value in the table.
        high: Each metric's largest value in the table.
        front_size: Architectures on the table's Pareto front.
        front_hypervolume: Hypervolume of that front (normalised).
        reference: The reference point in each normalised objective.
    """

    names: list
    directions: list
    low: list
    high: list
    front_size: int
    front_hypervolume: float
    reference: float = REFERENCE

    @classmethod
    def from_table(cls, table, objectives):
        """Measures a table's range and Pareto front.

        Rows without a value of every objective are left out.

        Args:
            table: A `Table`.
            objectives: The `keras_tuner.Objective`s, metrics of the table.

        Returns:
            A `HypervolumeScale`.
        """
        objectives = pareto.check_objectives(objectives)
        columns = np.stack([table.column(o.name) for o in objectives], axis=1)
        columns = columns[np.all(np.isfinite(columns), axis=1)]
        if not len(columns):
            raise ValueError(
                f"No row of {table.name} has a value of every objective "
                f"{[o.name for o in objectives]}."
            )
        scale = cls(
            names=[o.name for o in objectives],
            directions=[o.direction for o in objectives],
            low=columns.min(axis=0).tolist(),
            high=columns.max(axis=0).tolist(),
            front_size=0,
            front_hypervolume=0.0,
        )
        front = pareto.pareto_indices(columns, objectives)
        scale.front_size = int(len(front))
        scale.front_hypervolume = scale.hypervolume(columns[front])
        return scale

    @property
    def objectives(self):
        """The objectives, as `keras_tuner.Objective`s."""
        return [kt.Objective(n, d) for n, d in zip(self.names, self.directions)]

    def normalise(self, points):
        """Points in [0, 1] over the table, minimised (0: the table's best).

        Args:
            points: Array-like `(n, k)` in the metrics' own units.

        Returns:
            A float array `(n, k)`; an objective with one value in the whole
            table is 0 everywhere.
        """
        low, high = np.array(self.low), np.array(self.high)
        spread = np.where(high > low, high - low, 1.0)
        scaled = (np.asarray(points, dtype=np.float64) - low) / spread
        maximised = np.array([d == "max" for d in self.directions])
        return np.where(maximised, 1.0 - scaled, scaled)

    def hypervolume(self, points):
        """The normalised hypervolume of points, against the reference."""
        minimised = [kt.Objective(name, "min") for name in self.names]
        return pareto.hypervolume(
            self.normalise(points), minimised, [self.reference] * len(self.names)
        )

    def regret_curve(self, search, budget):
        """The hypervolume regret after each query, in percent.

        Args:
            search: Array `(queries, k)` of the objectives' values; rows
                with a `nan` (failed queries) count for nothing.
            budget: Length of the curve; a run that stopped early keeps its
                last value.

        Returns:
            A float array of length `budget`.
        """
        search = np.asarray(search, dtype=np.float64).reshape(-1, len(self.names))
        curve = np.full(budget, 100.0)
        kept = np.empty((0, len(self.names)))
        regret = 100.0
        for k in range(budget):
            if k < len(search) and np.isfinite(search[k]).all():
                kept = np.vstack([kept, search[k]])
                # Only a new non-dominated point can change the volume.
                if pareto.pareto_indices(kept, self.objectives)[-1] == len(kept) - 1:
                    share = self.hypervolume(kept) / self.front_hypervolume
                    regret = max(0.0, 100.0 * (1.0 - share))  # no rounding below 0
            curve[k] = regret
        return curve
