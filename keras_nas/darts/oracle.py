"""`DartsOracle`: hands the architectures derived by DARTS searches to a tuner."""

import inspect
import os

from keras_nas import validation
from keras_nas.darts.one_shot import OneShotRun
from keras_nas.darts.search import DartsSearch
from keras_nas.oracles.base import NASOracle
from keras_nas.spaces.base import SearchSpace


class DartsOracle(NASOracle):
    """The strategy `"darts"`: one-shot searches, then training from scratch.

    DARTS does not propose architectures one by one: before the first trial
    (`before_search`, called by `NASTuner.search`) it runs `searches`
    one-shot searches (`keras_nas.darts.DartsSearch`) on the training and
    validation data, seeded `seed`, `seed + 1`, ..., and sets
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

    needs_training_data = True

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
        validation.check_known_arguments(
            "the 'darts' strategy", search_options, sorted(_search_options())
        )
        self.search_options = search_options
        self.architectures = []

    @classmethod
    def option_names(cls):
        """The constructor's named arguments and those of `DartsSearch`.

        Its `**search_options` go to `DartsSearch`, not to KerasTuner's
        `Oracle`, so the bases' arguments are not options here.
        """
        parameters = inspect.signature(cls.__init__).parameters.values()
        named = {p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD}
        return (named - {"self"}) | _search_options()

    def check_search(self, space, time_limit=None, workers=None):
        """Refuses what DARTS cannot search: other spaces, limits, workers.

        Arguments as in `NASOracle.check_search`.

        Raises:
            ValueError: If `space` has no supernet
                (`SearchSpace.has_supernet`: `NB201Cell`, `ConvNet` and any
                space implementing `SearchSpace.supernet`), or `time_limit`
                or `workers` is given: the one-shot searches run in one
                process, to the end.
        """
        if not (isinstance(space, SearchSpace) and space.has_supernet()):
            raise ValueError(
                "Received an invalid value for `space`: the 'darts' strategy "
                "searches spaces with a supernet: NB201Cell or ConvNet, or a "
                "space implementing SearchSpace.supernet. Received: "
                f"space={type(space).__name__}"
            )
        if time_limit is not None:
            raise ValueError(
                "Received an invalid value for `time_limit`: the 'darts' "
                f"strategy has no time limit. Received: time_limit={time_limit}"
            )
        if workers is not None:
            raise ValueError(
                "Received an invalid value for `workers`: the 'darts' strategy "
                "runs its one-shot searches in one process. "
                f"Received: workers={workers}"
            )

    def before_search(self, tuner, x, y, validation_data, fit_kwargs):
        """Runs (or resumes) the one-shot searches not yet finished.

        Search `k` (from 1) is seeded `tuner.seed + k - 1` and trains the
        supernet of `tuner.hypermodel` for `fit_kwargs["epochs"]` epochs
        (1 by default) of `fit_kwargs["batch_size"]` (32 by default), the
        network weights on `(x, y)` and the architecture weights on
        `validation_data`. The first search keeps its files in the project
        folder, search `k` (from 2) in its `darts_search_k` subfolder; a
        finished search is read back from its files, not rerun. Then
        `architectures` holds the derived decisions and the oracle is saved.
        Arguments as in `NASOracle.before_search`.

        Raises:
            ValueError: If `validation_data` is not `(x_val, y_val)`, or a
                resumed search was started with other `epochs` or
                `batch_size`.
        """
        if len(self.architectures) >= self.searches:
            return
        pair = isinstance(validation_data, (tuple, list)) and len(validation_data) == 2
        if not pair:
            raise ValueError(
                "Received an invalid value for `validation_data`: DARTS trains "
                "the architecture weights on it, so it needs (x_val, y_val). "
                f"Received: validation_data={type(validation_data).__name__}"
            )
        epochs = fit_kwargs.get("epochs", 1)
        architectures = []
        for k in range(self.searches):
            seed = tuner.seed + k
            which = ""
            if self.searches > 1:
                which = f" {k + 1}/{self.searches} (seed {seed})"
            tuner.progress.on_search_begin(
                f"One-shot DARTS search{which} on "
                f"{tuner.hypermodel.space_name}, {epochs} epochs"
            )
            folder = tuner.project_dir
            if k:
                folder = os.path.join(folder, f"darts_search_{k + 1}")
                os.makedirs(folder, exist_ok=True)
            run = OneShotRun(
                tuner.hypermodel,
                folder,
                seed=seed,
                search_options=self.search_options,
                distribution_strategy=tuner.distribution_strategy,
                on_epoch=tuner.progress.on_one_shot_epoch,
            )
            architectures.append(run.run(
                x, y, validation_data[0], validation_data[1],
                epochs=epochs,
                batch_size=fit_kwargs.get("batch_size") or 32,
            ))
        self.architectures = architectures
        self.save()

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


def _search_options():
    """The arguments of `DartsSearch` that `DartsOracle` passes on."""
    return set(inspect.signature(DartsSearch).parameters) - {
        "space", "seed", "distribution_strategy"
    }
