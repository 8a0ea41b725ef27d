"""Grid search: every architecture of the space, in order."""

import itertools

from keras_nas.oracles.base import NASOracle


class GridSearchOracle(NASOracle):
    """Tries every architecture of the space in lexicographic order.

    The grid is the architecture encoding's: every value of each categorical
    or stepped decision, and `float_bins` points of a continuous one. Inactive
    decisions do not multiply the grid (a 1-layer MLP is listed once, not once
    per width of an absent second layer). Architectures already tried (by
    any strategy, before a reload) are skipped; the search stops when the
    grid is done or `max_trials` is reached.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed (the grid order does not depend on it).
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    tuner = keras_nas.NASTuner(space, strategy=GridSearchOracle(max_trials=50))
    ```
    """

    def __init__(self, objective=None, max_trials=10, seed=None, **kwargs):
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        self._position = 0
        self._grid = None

    def propose(self, trial_id):
        if self._grid is None:
            self._grid = itertools.islice(
                self.encoding.enumerate(), self._position, None
            )
        for vector in self._grid:
            self._position += 1
            values = self.encoding.decode(vector)
            if self.is_new(values):
                return values
        return None

    def update_space(self, hyperparameters):
        size = len(self.hyperparameters.space)
        super().update_space(hyperparameters)
        if len(self.hyperparameters.space) != size:
            self._position = 0
            self._grid = None

    def get_state(self):
        state = super().get_state()
        state["grid_position"] = self._position
        return state

    def set_state(self, state):
        super().set_state(state)
        self._position = state["grid_position"]
        self._grid = None
