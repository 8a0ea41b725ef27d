"""`DartsOracle`: hands the architecture derived by a DARTS search to a tuner."""

import inspect

from keras_nas import validation
from keras_nas.darts.search import DartsSearch
from keras_nas.oracles.base import NASOracle


class DartsOracle(NASOracle):
    """The strategy `"darts"`: one-shot search, then one trial from scratch.

    DARTS does not propose architectures one by one: `NASTuner.search` first
    runs the one-shot search (`keras_nas.darts.DartsSearch`) on the training
    and validation data, sets `architecture` to the derived decisions, and
    the oracle hands them out as the search's single trial, which is trained
    from scratch by `space.build(hp)` and exported like any trial. The
    derived architecture is part of the oracle state.

    Args:
        objective: The metric the retrained architecture is scored on.
        max_trials: Ignored: a DARTS search retrains one architecture.
        seed: Random seed of the supernet's logits and data shuffles.
        **search_options: Arguments of `keras_nas.darts.DartsSearch`
            (`order`, `guard`, `learning_rate`, `arch_learning_rate`, ...).
    """

    def __init__(self, objective=None, max_trials=1, seed=None, **search_options):
        super().__init__(objective=objective, max_trials=1, seed=seed)
        known = set(inspect.signature(DartsSearch).parameters) - {
            "space", "seed", "distribution_strategy"
        }
        validation.check_known_arguments(
            "the 'darts' strategy", search_options, sorted(known)
        )
        self.search_options = search_options
        self.architecture = None

    def propose(self, trial_id):
        if self.architecture is None:
            raise RuntimeError(
                "DartsOracle has no derived architecture: NASTuner.search runs "
                "the one-shot search before asking for a trial."
            )
        values = dict(self.architecture)
        return values if self.is_new(values) else None

    def get_state(self):
        state = super().get_state()
        state["architecture"] = self.architecture
        return state

    def set_state(self, state):
        super().set_state(state)
        self.architecture = state["architecture"]
