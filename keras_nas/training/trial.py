"""One execution of a trial: seed, build, fit, checkpoint, report.

`fit_trial` is the one trial path: `NASTuner` calls it in its own process,
and `keras_nas.engine.trial_process` calls it in a child process.
"""

import dataclasses
import time

import keras

from keras_nas import compat
from keras_nas.data import batches
from keras_nas.training.checkpoint import BestWeights
from keras_nas.training.failures import StopOnNaN
from keras_nas.training.failures import build_trial_model
from keras_nas.training.time_limit import StopAtDeadline
from keras_nas.files import write_json_atomically
from keras_nas.objectives.costs import VIOLATION
from keras_nas.objectives.costs import measure_costs


@dataclasses.dataclass
class TrialResult:
    """What one execution of a trial reports.

    Attributes:
        history: Per-epoch metrics, a dict of lists of floats such as
            `{"loss": [...], "val_accuracy": [...]}`; for a `fit` that
            returns one dict or one value, a single epoch.
        costs: The architecture's costs measured before training (see
            `keras_nas.objectives.costs`), plus `train_seconds_per_epoch`
            once trained.
        violation: `None`, or for an architecture over a budget (never
            trained) `Constraints.violation`'s `(ratio, name, value, limit)`.
        best_value: The objective's value at the best epoch, `None` when
            the logs do not contain it.
        checkpoint_written: Whether the checkpoint file was written (not
            when an earlier execution's best value was given and no epoch
            beat it).
        deadline_reached: Whether training stopped at the deadline.
    """

    history: dict
    costs: dict
    violation: tuple = None
    best_value: float = None
    checkpoint_written: bool = True
    deadline_reached: bool = False

    def keras_history(self):
        """The history as a `keras.callbacks.History`, as `fit` returns it."""
        history = keras.callbacks.History()
        history.history = {
            name: list(values) for name, values in self.history.items()
        }
        history.epoch = list(
            range(max((len(v) for v in self.history.values()), default=0))
        )
        return history

    def best_epoch(self, objective):
        """The 0-based epoch whose metrics `metrics` reports (0 untrained)."""
        if not self.history:
            return 0
        return compat.get_best_step(self.keras_history(), objective)

    def metrics(self, objective):
        """The best epoch's metrics plus the costs, as `NASTuner` records them.

        Args:
            objective: The oracle's `keras_tuner.Objective`.

        Returns:
            A dict of floats: the metrics of the best epoch by `objective`
            (those that are not costs) and `costs`; for an infeasible
            architecture its costs and `constraint_violation` only.
        """
        if self.violation is not None:
            return {**self.costs, VIOLATION: float(self.violation[0])}
        history = self.keras_history()
        compat.validate_trial_results(history, objective, "HyperModel.fit()")
        metrics = compat.convert_to_metrics_dict(history, objective)
        return {**metrics, **self.costs}


def fit_trial(
    hypermodel,
    hp,
    fit_args=(),
    fit_kwargs=None,
    *,
    seed,
    objective,
    checkpoint_path,
    build_config_path,
    build=None,
    constraints=None,
    latency=None,
    deadline=None,
    best_value=None,
):
    """Builds and trains one execution of a trial's architecture.

    Seeds with `keras.utils.set_random_seed(seed)`, builds the model
    (`keras_nas.training.failures.build_trial_model`) and measures its costs
    (`keras_nas.objectives.costs.measure_costs`); an architecture over a
    budget of `constraints` is returned untrained, with its violation.
    Otherwise it runs
    `hypermodel.fit(hp, model, *fit_args, **fit_kwargs)` with the
    callbacks of `fit_kwargs` followed by `StopOnNaN`, a best-epoch
    checkpoint and, given a deadline, `StopAtDeadline`. When training ends
    the best epoch's weights are written to `checkpoint_path` and
    `model.get_build_config()`, as JSON, to `build_config_path`.

    Args:
        hypermodel: The `keras_tuner.HyperModel` whose `fit` trains.
        hp: The trial's `keras_tuner.HyperParameters`.
        fit_args: Positional arguments of `fit`.
        fit_kwargs: Keyword arguments of `fit`, `callbacks` included.
        seed: The trial's random seed.
        objective: The `keras_tuner.Objective` that ranks epochs.
        checkpoint_path: Where the best epoch's weights go (a
            `.weights.h5` path).
        build_config_path: Where the model's build config goes.
        build: Function from `hp` to the compiled model; `hypermodel.build`
            by default (`NASTuner` passes one that builds under its
            distribution strategy).
        constraints: A `keras_nas.objectives.costs.Constraints`, or `None`.
        latency: The `keras_nas.objectives.latency.LatencySettings` of
            `latency_ms` and `throughput`, or `None` not to measure them.
        deadline: A `time.monotonic()` value at which training stops after
            its current batch (`result.deadline_reached` is then `True`).
        best_value: The best objective value of an earlier execution of the
            same trial: `checkpoint_path` is then written only if an epoch
            of this execution beats it.

    Returns:
        A `TrialResult`.

    Raises:
        keras_tuner.errors.FailedTrialError: If the architecture cannot be
            built (`ArchitectureBuildError`) or its loss becomes NaN
            (`NaNLossError`).
        keras_nas.write_errors.WriteError: If the checkpoint or the build config
            cannot be written (a full disk): a `FatalError`, which ends the
            search rather than failing the trial.
    """
    fit_kwargs = dict(fit_kwargs or {})
    keras.utils.set_random_seed(seed)
    model = build_trial_model(build or hypermodel.build, hp)
    costs = measure_costs(model, latency)
    violation = constraints.violation(costs) if constraints else None
    if violation is not None:
        return TrialResult(
            history={}, costs=costs, violation=violation,
            checkpoint_written=False,
        )
    checkpoint = _KeepBest(objective, checkpoint_path, best_value)
    callbacks = list(fit_kwargs.pop("callbacks", None) or [])
    callbacks += [StopOnNaN(), checkpoint]
    stop_at_deadline = None
    if deadline is not None:
        stop_at_deadline = StopAtDeadline(deadline)
        callbacks.append(stop_at_deadline)
    fit_args, fit_kwargs = batches.fit_arguments(fit_args, fit_kwargs, seed)
    start = time.perf_counter()
    history = hypermodel.fit(
        hp, model, *fit_args, callbacks=callbacks, **fit_kwargs
    )
    seconds = time.perf_counter() - start
    compat.validate_trial_results(history, objective, "HyperModel.fit()")
    write_json_atomically(build_config_path, model.get_build_config())
    best = checkpoint.best_value
    history = _history_dict(history, objective)
    epochs = max((len(values) for values in history.values()), default=1)
    return TrialResult(
        history=history,
        costs={**costs, "train_seconds_per_epoch": seconds / max(epochs, 1)},
        best_value=None if best is None else float(best),
        checkpoint_written=checkpoint.written,
        deadline_reached=bool(stop_at_deadline and stop_at_deadline.reached),
    )


def numeric_logs(logs):
    """The entries of a `logs` dict that are numbers, as floats."""
    out = {}
    for name, value in logs.items():
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue
    return out


class _KeepBest(BestWeights):
    """`BestWeights` that may start from an earlier execution's best value."""

    def __init__(self, objective, filepath, best_value=None):
        super().__init__(objective, filepath)
        self.best_value = best_value
        self.must_beat = best_value is not None
        self.written = False

    def on_train_end(self, logs=None):
        if self.must_beat and self.best_weights is None:
            return
        super().on_train_end(logs)
        self.written = True


def _history_dict(history, objective):
    """Per-epoch metrics as plain lists of floats."""
    if isinstance(history, keras.callbacks.History):
        return {
            name: [float(v) for v in values]
            for name, values in history.history.items()
            if _all_numbers(values)
        }
    if isinstance(history, dict):
        return {name: [value] for name, value in numeric_logs(history).items()}
    return {objective.name: [float(history)]}


def _all_numbers(values):
    try:
        [float(v) for v in values]
    except (TypeError, ValueError):
        return False
    return True
