"""`DartsOracle`: hands the architectures derived by DARTS searches to a tuner."""

import inspect

from keras_nas import validation
from keras_nas.darts.search import DartsSearch
from keras_nas.oracles.base import NASOracle


class DartsOracle(NASOracle):
    """The strategy `"darts"`: one-shot searches, then training from scratch.

    DARTS does not propose architectures one by one: `NASTuner.search` first
    runs `searches` one-shot searches (`keras_nas.darts.DartsSearch`) on the
    training and validation data, seeded `seed`, `seed + 1`, ..., and sets
    `architectures` to their derived decisions. The oracle hands these out
    as trials, in search order (an architecture derived twice is trained
    once); each is trained from scratch by `space.build(hp)`, and the best
    by `objective` is the search's result, exported like any trial.

    One search (the default) is plain DARTS. What a single search derives
    depends on its seed, so the DARTS paper (Liu et al., 2019, section 3.3)
    runs four and keeps the cell that scores best after a short training
    from scratch: `searches=4` is that protocol.

    Args:
        objective: The metric the retrained architectures are scored on
            (`NASTuner`'s default, `"val_accuracy"`).
        max_trials: Ignored: the trials are the derived architectures.
        seed: Random seed of the first search (its initial weights, logits
            and data shuffles); search `k` uses `seed + k - 1`.
        searches: How many one-shot searches to run, a positive integer.
        **search_options: Arguments of `keras_nas.darts.DartsSearch`
            (`order`, `guard`, `learning_rate`, `arch_learning_rate`, ...).
    """

    def __init__(
        self,
        objective="val_accuracy",
        max_trials=1,
        seed=None,
        searches=1,
        **search_options,
    ):
        self.searches = validation.check_positive_int("searches", searches)
        super().__init__(objective=objective, max_trials=searches, seed=seed)
        known = set(inspect.signature(DartsSearch).parameters) - {
            "space", "seed", "distribution_strategy"
        }
        validation.check_known_arguments(
            "the 'darts' strategy", search_options, sorted(known)
        )
        self.search_options = search_options
        self.architectures = []

    def propose(self, trial_id):
        if len(self.architectures) < self.searches:
            raise RuntimeError(
                "DartsOracle has not got its derived architectures: "
                "NASTuner.search runs the one-shot searches before asking "
                "for a trial."
            )
        for values in self.architectures:
            if self.is_new(values):
                return dict(values)
        return None

    def get_state(self):
        state = super().get_state()
        state["architectures"] = self.architectures
        return state

    def set_state(self, state):
        super().set_state(state)
        if "architectures" in state:
            self.architectures = state["architectures"]
        else:  # saved before `searches` existed: one search, one architecture
            self.architectures = [state["architecture"]] if state["architecture"] else []
