"""`NASTuner`: runs a search strategy over a space with `model.fit`."""

import copy
import math
import os
import time
import traceback
import zlib

import keras_tuner as kt
import tensorflow as tf

from keras_nas.engine import distributed  # noqa: F401 (mutes a KerasTuner print)
from keras_nas import compat
from keras_nas import tasks
from keras_nas import validation
from keras_nas.data import fit_data
from keras_nas.data.modality import detect_modality
from keras_nas.training.checkpoint import load_trial_model
from keras_nas.training.failures import build_trial_model
from keras_nas.training.failures import InfeasibleArchitecture
from keras_nas.training.failures import InfeasibleBudgetError
from keras_nas.training.failures import TooManyFailuresError
from keras_nas.training.failures import failure_reason
from keras_nas.formatting import first_line
from keras_nas.files import first_corrupt_json
from keras_nas.files import write_json_atomically
from keras_nas.objectives import costs
from keras_nas.objectives import pareto
from keras_nas.objectives.selection import rank_trials
from keras_nas.objectives.selection import select_trial
from keras_nas.runs.final_fit import final_fit as run_final_fit
from keras_nas.runs.final_model import check_ensemble
from keras_nas.runs.final_model import ensemble_members
from keras_nas.runs.final_model import make_final_model
from keras_nas.objectives.latency import LatencySettings
from keras_nas.training.gradient_registry import release_custom_gradients
from keras_nas.oracles import NASOracle
from keras_nas.strategies import STRATEGIES
from keras_nas.strategies import get_oracle
from keras_nas.engine.progress import SearchProgress
from keras_nas.engine.tensorboard_logs import TensorBoardLogs
from keras_nas.formatting import format_architecture
from keras_nas.formatting import trial_number
from keras_nas.engine.promotions import train_on_promotions
from keras_nas.runs.leaderboard import epochs_summary
from keras_nas.runs.leaderboard import format_leaderboard
from keras_nas.runs.leaderboard import leaderboard
from keras_nas.runs.leaderboard import task_columns
from keras_nas.runs.run_directory import SEARCH_FILE
from keras_nas.runs.run_directory import export_trial
from keras_nas.runs.front_file import load_front
from keras_nas.runs.front_file import save_front
from keras_nas.spaces.base import SearchSpace
from keras_nas.training.time_limit import TimeLimitReached
from keras_nas.training.time_limit import parse_duration
from keras_nas.training.trial import fit_trial
from keras_nas.training.trial import numeric_logs
from keras_nas.oracles.early_stopping import STOPPED_EARLY
from keras_nas.oracles.early_stopping import EarlyStopping
from keras_nas.oracles.early_stopping import get_early_stopping
from keras_nas.engine.trial_process import fit_in_subprocess
from keras_nas.engine.warm_start import begin_warm_start
from keras_nas.engine.warm_start import data_fingerprint
from keras_nas.engine.warm_start import read_warm_start

_STATUS = kt.engine.trial.TrialStatus
_BEST_EPOCH = "_best_epoch"
"""Carries each execution's best epoch from `run_trial` to the report."""
TRIAL_PROCESSES = ("in_process", "subprocess")
TRIAL_DATA_FOLDER = "trial_data"
"""The run's folder of the data arrays child-process trials re-open."""
DATA_CACHE_FOLDER = "data_cache"
"""The run's folder of `tf.data` splits beyond the memory budget."""


def default_distribution_strategy():
    """`MirroredStrategy` over all GPUs when there are several, else default."""
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


class NASTuner(kt.Tuner):
    """Searches a space of Keras architectures with a strategy.

    Each trial's architecture is built by the space under the distribution
    strategy's scope, measured (its costs: `params`, `flops`, `latency_ms`,
    `throughput`, `model_bytes`, see `keras_nas.objectives.costs`), checked
    against the budgets, trained with `model.fit` and scored on the
    objective; `train_seconds_per_epoch` is recorded with the task's
    metrics, and the weights of its best epoch are kept for
    `get_best_models` and `export`. Epochs are ranked by the first
    objective measured per epoch (the task's default objective when every
    objective is a cost).

    An architecture over a budget (`max_params`, `max_flops`,
    `max_latency_ms`, `max_model_bytes`) is never trained: its trial ends
    as `FAILED` with the message `infeasible: ...` and the metrics it was
    measured on plus `constraint_violation` (its largest cost over its
    limit). Such a trial does not count towards `max_consecutive_failures`;
    keras-nas strategies learn from it (`NASOracle.on_infeasible`).

    Args:
        space: A `keras_nas.spaces.SearchSpace`, any `keras_tuner.HyperModel`,
            or a function `build(hp)` returning a compiled Keras model.
        strategy: A strategy name (see `keras_nas.strategies.STRATEGIES`), or
            a `keras_tuner.Oracle` instance, which carries its own options,
            objective and budget. A keras-nas strategy may refuse a space or
            a time limit it cannot search (`NASOracle.check_search`) and
            may work on the data before the first trial
            (`NASOracle.before_search`).
        objective: Metric to optimise, a `keras_tuner.Objective`, or a list
            of them to search their Pareto front (see
            `keras_nas.oracles.NASOracle`). For a keras-nas space each must
            be one the space's task reports (see
            `keras_nas.tasks.Task.objective_names`: its metrics, and costs
            such as `"latency_ms"`, each with its direction), and it
            defaults to the task's (`"val_accuracy"` for classification,
            `"val_loss"` for regression); otherwise it defaults to
            `"val_accuracy"`.
        max_trials: Number of architectures to try at most.
        seed: Random seed of the strategy and of each trial's initialisation.
        directory: Folder holding the search's projects.
        project_name: Name of this search's folder inside `directory`.
        overwrite: Whether to delete an existing project of the same name;
            if `False`, an existing project is resumed.
        distribution_strategy: A `tf.distribute.Strategy` to train under;
            defaults to `MirroredStrategy` when more than one GPU is visible.
        max_params: Budget on parameters: a larger architecture is not
            trained (see above).
        max_flops: Budget on the multiply-adds of one inference.
        max_latency_ms: Budget on the median latency of one inference, in
            milliseconds, measured on this machine.
        max_model_bytes: Budget on the size of the saved weights.
        latency: How latency and throughput are measured: a
            `keras_nas.objectives.latency.LatencySettings` or a dict of its
            fields (`batch_size`, `repeats`, `warmup`,
            `throughput_batch_size`, `throughput_repeats`); `None` for the
            defaults, `False` not to measure them.
        early_stopping: Stop poor trials early, with any keras-nas
            strategy: `"asha"`, `"hyperband"`, `"median"` or `None` (see
            `keras_nas.oracles.early_stopping`), a dict `{"name": "asha",
            "eta": 3, "min_epochs": 1}`, or an `EarlyStopping` built for
            the search's `epochs`. Every epoch's metrics reach the oracle
            (the trial's learning curve) whether or not it is set; a
            stopped trial completes with the epochs it trained and the
            metric `stopped_early`; when the last trial has ended, the
            stopped trials the scheduler would now let go on are trained
            again to the full epochs (`keras_nas.engine.promotions`), and
            `export` takes the best trial that trained every epoch.
        max_consecutive_infeasible: Stop the search (with
            `keras_nas.training.failures.InfeasibleBudgetError`, naming the
            budget and the smallest value measured) after this many
            infeasible architectures in a row.
        time_limit: Stop the search once this much time has passed since
            `search()` began: seconds, or a text such as `"10m"` or
            `"1h30m"`. The trial training at the limit stops after its
            current batch and is not counted; it runs again when the search
            is resumed. Finished trials are kept.
        max_consecutive_failures: Stop the search (with
            `keras_nas.training.failures.TooManyFailuresError`) after this many
            failed trials in a row. A trial fails, with its reason recorded,
            when its architecture cannot be built, its loss becomes NaN, it
            runs out of memory or raises any other error.
        trial_process: `"in_process"` (default) trains in this process;
            `"subprocess"` trains each trial in a fresh child process, so
            that nothing a trial leaves behind accumulates over a long
            search (see `keras_nas.engine.trial_process` for what it requires:
            a picklable space, NumPy data, a `__main__` guard).
        verbose: 1 prints one line per trial (in a terminal, under a bar
            redrawn each epoch: see `keras_nas.engine.progress`), 2 also
            one line per epoch, 0 prints nothing.
        task: Overrides the space's task (`"multiclass"`, `"binary"`,
            `"regression"` or a `keras_nas.tasks.Task`); keras-nas spaces
            only, since a plain `build(hp)` compiles its own model.
        tensorboard_dir: A folder for `tensorboard --logdir`: each trial's
            training logs and the HParams dashboard (decisions as
            hyperparameters, objectives and costs as metrics; see
            `keras_nas.engine.tensorboard_logs`).
        warm_start: The folder of an earlier run of the same space and
            input shape to begin from (keras-nas strategies; see
            `keras_nas.engine.warm_start` and `NASOracle.warm_start`): on the
            same data its trials are taken over untrained, on other data its
            best architectures are proposed first.
        memory_budget: The most bytes that `tf.data.Dataset`s given to
            `search` may take once read into memory; `None` for a quarter
            of this machine's RAM (`keras_nas.data.default_memory_budget`).
        **kwargs: Further arguments of `keras_tuner.Tuner`.

    Example:

    ```python
    space = keras_nas.spaces.ConvNet(input_shape=(8, 8, 1), num_classes=10)
    tuner = keras_nas.NASTuner(space, strategy="random", max_trials=20,
                               directory="runs", project_name="digits", seed=1)
    tuner.search(x_train, y_train, validation_split=0.2, epochs=5)
    tuner.results_summary()
    tuner.export("saved_models/digits")
    ```
    """

    def __init__(
        self,
        space,
        strategy="random",
        objective=None,
        max_trials=10,
        seed=None,
        directory=None,
        project_name=None,
        overwrite=False,
        distribution_strategy=None,
        max_params=None,
        max_flops=None,
        max_latency_ms=None,
        max_model_bytes=None,
        latency=None,
        max_consecutive_infeasible=20,
        early_stopping=None,
        time_limit=None,
        max_consecutive_failures=5,
        trial_process="in_process",
        verbose=1,
        task=None,
        tensorboard_dir=None,
        warm_start=None,
        memory_budget=None,
        **kwargs,
    ):
        validation.check_positive_int("max_trials", max_trials)
        self.memory_budget = validation.check_positive_int(
            "memory_budget", memory_budget, allow_none=True
        )
        self.constraints = costs.Constraints(
            max_params=max_params, max_flops=max_flops,
            max_latency_ms=max_latency_ms, max_model_bytes=max_model_bytes,
        )
        self.latency = _latency_settings(latency, max_latency_ms)
        validation.check_positive_int(
            "max_consecutive_failures", max_consecutive_failures
        )
        self.max_consecutive_infeasible = validation.check_positive_int(
            "max_consecutive_infeasible", max_consecutive_infeasible
        )
        self.time_limit = (
            None if time_limit is None else parse_duration("time_limit", time_limit)
        )
        self.max_consecutive_failures = max_consecutive_failures
        self.trial_process = validation.check_one_of(
            "trial_process", trial_process, TRIAL_PROCESSES
        )
        if not isinstance(space, kt.HyperModel) and not callable(space):
            raise ValueError(
                "Received an invalid value for `space`, expected a "
                "keras_nas SearchSpace, a keras_tuner.HyperModel or a function "
                f"build(hp). Received: space={space!r}"
            )
        space = _with_task(space, task)
        if isinstance(space, SearchSpace):
            objective = _task_objective(space.task, objective)
        elif objective is None:
            objective = "val_accuracy"
        oracle = get_oracle(strategy, objective, max_trials, seed)
        if isinstance(space, SearchSpace):
            _task_objective(space.task, oracle.objective)
        if isinstance(oracle, NASOracle):
            oracle.check_search(space, time_limit=self.time_limit)
        # The limit is applied here, after each trial is saved; KerasTuner's
        # own check raises inside `end_trial`, before the state is written.
        oracle.max_consecutive_failed_trials = None
        self.early_stopping = _early_stopping_spec(early_stopping, oracle)
        self.space = space
        self.epoch_objective = _epoch_objective(oracle.objective, space)
        self.stopped_by_time_limit = False
        self._deadline = None
        self._consecutive_failures = 0
        self._consecutive_infeasible = 0
        self.seed = seed if seed is not None else oracle.seed
        if isinstance(oracle, NASOracle) and isinstance(space, SearchSpace):
            oracle.set_structure(space.structure())
        if isinstance(oracle, NASOracle):
            oracle.set_constraints(self.constraints.cost_limits())
        self.progress = SearchProgress(verbose)
        self.tensorboard = (
            None if tensorboard_dir is None else TensorBoardLogs(tensorboard_dir)
        )
        self.data_fingerprint = None
        self.modality = None
        self.warm_start = None
        compat.save_state_atomically(oracle, write_json_atomically)
        super().__init__(
            oracle=oracle,
            hypermodel=space,
            directory=directory,
            project_name=project_name,
            overwrite=overwrite,
            distribution_strategy=(
                distribution_strategy or default_distribution_strategy()
            ),
            **kwargs,
        )
        if warm_start is not None:
            self.warm_start = read_warm_start(
                warm_start, self._space_label(), self._search_settings()["space_config"]
            )
        self.front = None  # The data's front: set by `search`, else read at export.
        if not self._is_worker():
            # Written at once, so a search killed before its first trial
            # ended is resumed rather than started over.
            self.save()
        self._write_search_file()

    def reload(self):
        """Reloads the tuner's state; a corrupt state file is named."""
        try:
            super().reload()
        except ValueError as error:
            corrupt = first_corrupt_json([self._get_tuner_fname()])
            if corrupt is None:
                raise
            raise corrupt from error

    def save(self):
        """Saves the oracle and the tuner state, each file atomically."""
        if not self._is_worker():
            self.oracle.save()
        write_json_atomically(self._get_tuner_fname(), self.get_state())

    def _populate_initial_space(self):
        """Declares the space without building models for our own spaces.

        A keras-nas space declares every decision, conditions included, in
        `declare_hyperparameters`; KerasTuner would otherwise build a model
        per inactive conditional scope to discover them.
        """
        if not isinstance(self.hypermodel, SearchSpace):
            super()._populate_initial_space()
            return
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def search(self, *fit_args, **fit_kwargs):
        """Runs the search; arguments are passed to `model.fit`.

        The data may be NumPy arrays (`x`, `y`, `validation_data=(x_val,
        y_val)`), a `keras_nas.data.SearchData` (its splits and the front
        that made them, which the export puts before the network), or
        `tf.data.Dataset`s of `(x, y)` batches for `x` and
        `validation_data` (read once into memory within `memory_budget`
        bytes, `keras_nas.data.SearchData.from_datasets`). `verbose`
        defaults to 0 (no per-epoch bars): progress is printed one line
        per trial instead.
        """
        fit_kwargs.setdefault("verbose", 0)
        data = self._search_data_of(fit_args, fit_kwargs)
        if data is not None:
            fit_args, fit_kwargs = self._use_search_data(data, fit_kwargs)
        if isinstance(self.hypermodel, SearchSpace):
            fit_args, fit_kwargs = self._prepare_data(fit_args, fit_kwargs)
        self._search_data = _final_fit_data(fit_args, fit_kwargs)
        self._begin_warm_start(fit_args, fit_kwargs)
        if isinstance(self.oracle, NASOracle):
            self.oracle.before_search(
                self,
                *validation.fit_data(fit_args, fit_kwargs),
                fit_kwargs.get("validation_data"),
                fit_kwargs,
            )
        self.stopped_by_time_limit = False
        self.epochs = int(fit_kwargs.get("epochs", 1))
        if self.early_stopping is not None and not self._is_worker():
            self.oracle.set_early_stopping(self._scheduler(self.epochs))
        if self.time_limit is not None:
            self._deadline = time.monotonic() + self.time_limit
        try:
            super().search(*fit_args, **fit_kwargs)
            if not self._is_worker():
                if self.early_stopping is not None:
                    train_on_promotions(self, fit_args, fit_kwargs)
                self.progress.on_search_end(self.epochs_summary())
            trials = [] if self._is_worker() else list(self.oracle.trials.values())
            if trials and all(map(costs.is_infeasible, trials)):
                raise InfeasibleBudgetError(self._infeasible_budget_line())
        except TimeLimitReached:
            self.stopped_by_time_limit = True
            self.save()
            self.progress.on_time_limit(self.time_limit, self._finished_trials())
            self.on_search_end()
            if not self._is_worker():
                self.progress.on_search_end(self.epochs_summary())
        finally:
            self._deadline = None

    def _search_data_of(self, fit_args, fit_kwargs):
        """The `SearchData` of `search`'s arguments, or `None` for arrays."""
        cache = os.path.join(self.project_dir, DATA_CACHE_FOLDER,
                             self.tuner_id or "search")
        return fit_data.search_data_of(
            fit_args, fit_kwargs, self.memory_budget, cache,
            getattr(self.hypermodel, "text_output", "tf_idf"),
        )

    def _use_search_data(self, data, fit_kwargs):
        """Takes the splits and the front of `data`; the `fit` arguments."""
        if isinstance(self.hypermodel, SearchSpace):
            self.hypermodel.check_data(data.spec)
            self.hypermodel.modality = data.modality
        self.front, self.modality = data.front, data.modality
        if self.front is not None and not self._is_worker():
            save_front(self.front, self.project_dir)
        args, data_kwargs = data.fit_arguments()
        kwargs = {
            k: v for k, v in fit_kwargs.items() if k not in ("x", "y", "validation_data")
        }
        return args, {**kwargs, **data_kwargs}

    def _begin_warm_start(self, fit_args, fit_kwargs):
        """Records the data's fingerprint; seeds the oracle from `warm_start`."""
        if self._is_worker():
            return
        self.data_fingerprint = data_fingerprint(
            *validation.fit_data(fit_args, fit_kwargs),
            fit_kwargs,
        )
        self._write_search_file()
        if self.warm_start is not None and isinstance(self.oracle, NASOracle):
            begin_warm_start(self.oracle, self.warm_start, self.data_fingerprint)
            self.save()

    def _prepare_data(self, fit_args, fit_kwargs):
        """Fits the space to the data (`keras_nas.data.fit_data.fit_space`);
        writes `search.json` again with the fitted space.

        Returns:
            `(fit_args, fit_kwargs)` with the labels encoded.
        """
        fit_args, fit_kwargs, x = fit_data.fit_space(self.hypermodel, fit_args, fit_kwargs)
        if x is not None:
            if self.modality is None:
                self.modality = detect_modality(x)[0]
            self._write_search_file()
        return fit_args, fit_kwargs

    def pre_create_trial(self):
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise TimeLimitReached()

    def _finished_trials(self):
        return sum(
            t.status in (_STATUS.COMPLETED, _STATUS.FAILED)
            for t in self.oracle.trials.values()
        )

    def on_search_begin(self):
        super().on_search_begin()
        self.oracle.verbose = 0
        done = 0
        if not self._is_worker():
            done = self._finished_trials()
            self._consecutive_failures = _trailing(self.oracle, _is_failure)
            self._consecutive_infeasible = _trailing(self.oracle, costs.is_infeasible)
        taken = len(getattr(self.oracle, "taken_over", ()))
        resumed = f", resuming after {done - taken} finished trials" if (
            done > taken
        ) else ""
        if taken:
            resumed += f", {taken} taken over from an earlier run"
        budgets = "".join(
            f", {name}={limit:,}" for name, limit in self.constraints.limits.items()
        )
        names = ", ".join(
            o.name for o in compat.single_objectives(self.oracle.objective)
        )
        # One process writes the experiment: the search's, or the first worker.
        if self.tensorboard is not None and (
            not self._is_worker() or self.tuner_id == "tuner0"
        ):
            self.tensorboard.write_config(self.oracle.get_space(), self.oracle.objective)
        self.progress.on_search_begin(
            f"Search: {self._oracle_label()} on {self._space_label()}, "
            f"objective{'s' if ',' in names else ''} {names}{budgets}, "
            f"up to {_trial_budget(self.oracle)} trials{resumed}"
        )

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self.progress.on_trial_begin(
            trial_number(trial.trial_id), self.oracle.max_trials,
            getattr(self, "epochs", 1), self.epoch_objective.name,
        )

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        trial = self.oracle.get_trial(trial.trial_id)
        if self.tensorboard is not None:
            self.tensorboard.write_trial(
                trial, self.describe(trial.hyperparameters.values)["decisions"],
                self.oracle.objective,
            )
        self.print_trial_end(trial)
        infeasible = costs.is_infeasible(trial)
        self._consecutive_infeasible = self._consecutive_infeasible + 1 if (
            infeasible
        ) else 0
        if self._consecutive_infeasible >= self.max_consecutive_infeasible:
            raise InfeasibleBudgetError(self._infeasible_budget_line())
        if not infeasible:
            self._consecutive_failures = (
                self._consecutive_failures + 1 if _is_failure(trial) else 0
            )
        if self._consecutive_failures >= self.max_consecutive_failures:
            raise TooManyFailuresError(
                f"The search stopped after {self._consecutive_failures} "
                "consecutive failed trials (max_consecutive_failures="
                f"{self.max_consecutive_failures}); the last failed with: "
                f"{first_line(trial.message or 'no reason recorded')}"
            )

    def print_trial_end(self, trial):
        """Prints an ended trial's progress line, with the best so far."""
        self.progress.on_trial_end(
            number=trial_number(trial.trial_id),
            total=self.oracle.max_trials,
            trial=trial,
            objective=self.oracle.objective,
            best=self._best_so_far(),
            summary=self._summary(trial.hyperparameters.values),
        )

    def epochs_summary(self, epochs=None):
        """One line: the epochs trained, in all and as a share of the budget.

        Args:
            epochs: The epochs of one trial; by default the last search's.
        """
        return epochs_summary(
            self.oracle.trials.values(), _trial_budget(self.oracle),
            epochs or getattr(self, "epochs", 1),
        )

    def _scheduler(self, epochs):
        """The early-stopping scheduler of a search of `epochs` epochs."""
        if isinstance(self.early_stopping, EarlyStopping):
            return self.early_stopping
        return get_early_stopping(**self.early_stopping, max_epochs=epochs)

    def _best_so_far(self):
        """The best completed trial, or the front's trials for several objectives."""
        if compat.is_multi_objective(self.oracle.objective):
            return self.get_pareto_front()
        best = self.oracle.get_best_trials(1)
        return best[0] if best and best[0].status == _STATUS.COMPLETED else None

    def _infeasible_budget_line(self):
        """Says which budget no architecture met, with the smallest value seen."""
        trials = list(self.oracle.trials.values())
        parts = []
        for name, limit in self.constraints.limits.items():
            cost = costs.CONSTRAINTS[name]
            seen = [
                t.metrics.get_history(cost)[-1].mean()
                for t in trials
                if t.metrics.exists(cost)
            ]
            if seen and min(seen) > limit:
                parts.append(
                    f"{name}={limit:,}: the smallest {cost} measured was "
                    f"{min(seen):,.6g}"
                )
        infeasible = sum(costs.is_infeasible(t) for t in trials)
        budget = "; ".join(parts) or ", ".join(
            f"{n}={v:,}" for n, v in self.constraints.limits.items()
        )
        return (
            f"No architecture met the budget {budget} ({infeasible} "
            "architectures measured, none trained); raise the budget or "
            "search a space of smaller architectures."
        )

    def get_pareto_front(self):
        """The completed trials no other completed trial dominates.

        With one objective, the trials of the best score. See
        `keras_nas.objectives.pareto.pareto_front`.

        Returns:
            A list of `keras_tuner.engine.trial.Trial`, in creation order.
        """
        return pareto.pareto_front(
            self.oracle.trials.values(),
            compat.single_objectives(self.oracle.objective),
        )

    def _run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        """Trains the trial and reports its executions' averaged metrics.

        Each execution's metrics (`run_trial`) hold every objective, costs
        included; KerasTuner's version would rank a list objective by the
        sum of its metrics, which no execution reports.
        """
        results = self.run_trial(trial, *fit_args, **fit_kwargs)
        compat.validate_trial_results(
            results, self.epoch_objective, "Tuner.run_trial()"
        )
        metrics = compat.convert_to_metrics_dict(results, self.epoch_objective)
        missing = [
            o.name for o in compat.single_objectives(self.oracle.objective)
            if o.name not in metrics
        ]
        if missing:
            raise kt.errors.FatalValueError(
                f"The trial reported no {', '.join(missing)}, an objective of "
                f"the search. Received: {sorted(metrics)}"
            )
        # At the best epoch's step, where the epoch reports already hold
        # the same figures, so that the learning curve is not changed.
        step = int(metrics.pop(_BEST_EPOCH, 0))
        self.oracle.update_trial(trial.trial_id, metrics, step=step)

    def on_epoch_end(self, trial, model, epoch, logs=None):
        """Reports an epoch's metrics to the oracle; stops when it says so."""
        if self._report_epoch(trial, epoch, logs):
            model.stop_training = True

    def _report_epoch(self, trial, epoch, logs):
        """Sends one epoch's logs to the oracle; returns whether to stop.

        A KerasTuner oracle of the user's gets only epochs whose logs hold
        every objective (it refuses others).
        """
        logs = numeric_logs(logs or {})
        self.progress.on_epoch_end(epoch, logs)
        if not isinstance(compat.worker_oracle(self.oracle), NASOracle) and any(
            o.name not in logs for o in compat.single_objectives(self.oracle.objective)
        ):
            return False
        reported = self.oracle.update_trial(trial.trial_id, logs, step=epoch)
        return reported.status == _STATUS.STOPPED

    def _try_run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        """Runs a trial; a failure is recorded with its reason, not raised.

        The trial's message starts with a one-line reason (shown in the
        progress line and the leaderboard) followed by the traceback.
        """
        try:
            self._run_and_update_trial(trial, *fit_args, **fit_kwargs)
            trial.status = _STATUS.COMPLETED
        except InfeasibleArchitecture as infeasible:
            # KerasTuner wants every objective reported: those it was not
            # trained for are NaN, which no ranking reads.
            missing = {
                o.name: math.nan
                for o in compat.single_objectives(self.oracle.objective)
                if o.name not in infeasible.metrics
            }
            self.oracle.update_trial(
                trial.trial_id, {**infeasible.metrics, **missing}
            )
            trial.status = _STATUS.FAILED
            trial.message = str(infeasible)
        except (TimeLimitReached, kt.errors.FatalError):
            raise
        except Exception as error:
            trial.status = _STATUS.FAILED
            trial.message = f"{failure_reason(error)}\n\n{traceback.format_exc()}"

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        """Trains the trial's architecture; returns each execution's metrics.

        Each execution runs `keras_nas.training.trial.fit_trial`, in this
        process or, with `trial_process="subprocess"`, in a child process
        (`keras_nas.engine.trial_process`); an execution overwrites the
        trial's checkpoint only when it beats the earlier ones' best epoch.
        The gradient functions TensorFlow registers for the trial's traced
        train step are released at the end, so that trials do not
        accumulate their training graphs in memory.
        """
        user_callbacks = fit_kwargs.pop("callbacks", [])
        results, best_value = [], None
        with release_custom_gradients():
            for execution in range(self.executions_per_trial):
                callbacks = self._deepcopy_callbacks(user_callbacks)
                self._configure_tensorboard_dir(callbacks, trial, execution)
                if self.tensorboard is not None:
                    callbacks.append(self.tensorboard.callback(
                        trial.trial_id, execution, self.executions_per_trial
                    ))
                settings = {
                    "seed": self._trial_seed(trial.trial_id),
                    "objective": self.epoch_objective,
                    "checkpoint_path": self._get_checkpoint_fname(trial.trial_id),
                    "build_config_path": self._get_build_config_fname(
                        trial.trial_id
                    ),
                    "constraints": self.constraints,
                    "latency": self.latency,
                    "deadline": self._deadline,
                    "best_value": best_value,
                }
                if self.trial_process == "subprocess":
                    result = fit_in_subprocess(
                        self.hypermodel,
                        trial.hyperparameters,
                        fit_args,
                        {**fit_kwargs, "callbacks": callbacks},
                        epoch_callback=lambda epoch, logs: self._report_epoch(
                            trial, epoch, logs
                        ),
                        data_folder=os.path.join(self.project_dir, TRIAL_DATA_FOLDER),
                        **settings,
                    )
                else:
                    callbacks.append(compat.tuner_callback(self, trial))
                    result = fit_trial(
                        self.hypermodel,
                        trial.hyperparameters,
                        fit_args,
                        {**fit_kwargs, "callbacks": callbacks},
                        build=self._build_hypermodel,
                        **settings,
                    )
                if result.violation is not None:
                    raise InfeasibleArchitecture(
                        costs.describe_violation(result.violation),
                        result.metrics(self.epoch_objective),
                    )
                if result.checkpoint_written:
                    best_value = result.best_value
                results.append({
                    **result.metrics(self.epoch_objective),
                    _BEST_EPOCH: result.best_epoch(self.epoch_objective),
                })
                if result.deadline_reached:
                    raise TimeLimitReached()
        return results

    def _try_build(self, hp):
        """Builds a trial's model after clearing Keras's global state.

        KerasTuner's version also forces two full garbage collections per
        trial (about 0.4 s each with TensorFlow loaded, measured here), which
        was most of the tuner's overhead over a bare `build` + `fit` loop.
        """
        return build_trial_model(self._build_hypermodel, hp)

    def load_model(self, trial):
        """Rebuilds a trial's model with the weights of its best epoch."""
        return load_trial_model(
            self._build_hypermodel, trial.hyperparameters,
            self._get_build_config_fname(trial.trial_id),
            self._get_checkpoint_fname(trial.trial_id),
            scope=self.distribution_strategy.scope,
        )

    def describe(self, values):
        """Describes an architecture: its active decisions (and `arch_str`)."""
        if isinstance(self.hypermodel, SearchSpace):
            return self.hypermodel.describe(values)
        return {"space": self._space_label(), "decisions": dict(values)}

    def get_best_architectures(self, num_trials=1):
        """Returns the best architectures, as `describe` dicts, best first.

        Args:
            num_trials: How many architectures to return at most.

        Returns:
            A list of dicts with the space name, the active decisions, the
            trial id and score, and `arch_str` where the space has one.
        """
        return [
            {
                **row["description"],
                "trial_id": row["trial_id"],
                "score": row["score"],
            }
            for row in leaderboard(
                self.oracle.trials.values(),
                self.oracle.objective,
                self.describe,
                num_trials,
            )
        ]

    def results_summary(self, num_trials=10, columns=()):
        """Prints a leaderboard of the best `num_trials` trials.

        Args:
            num_trials: Rows at most.
            columns: Further metrics to show (`"val_f1"`, `"latency_ms"`,
                `"flops"`, ...); a trial that lacks one shows `-`.
        """
        trials = list(self.oracle.trials.values())
        rows = leaderboard(
            trials, self.oracle.objective, self.describe, num_trials,
            columns=task_columns(self._task(), self.oracle.objective, columns),
        )
        print(format_leaderboard(rows, trials, self.oracle.objective))

    def export(
        self,
        path,
        x_test=None,
        y_test=None,
        overwrite=False,
        select=None,
        final_fit=False,
        final_epochs=None,
        ensemble=1,
    ):
        """Exports a trial's model (or an ensemble) as a SavedModel.

        The trial is the best by the objective or, with several
        objectives, the one `select` chooses (see
        `keras_nas.objectives.selection`); `metrics.json` records the rule
        and why the trial was chosen, and `self.selection` holds that line.

        With `final_fit=True` the architecture is trained again from
        scratch on the training and validation data of the last `search`
        call, for the epochs its trial found best (`final_epochs` to
        choose), with the search's seed; see
        `keras_nas.runs.final_fit`. With `ensemble=K > 1`, up to `K` of
        the best trials are chosen by greedy ensemble selection on their
        validation predictions and exported as one model averaging their
        outputs, each final-trained when `final_fit` is set (see
        `keras_nas.runs.final_model`). `metrics.json` then also holds
        `final_fit` (epochs, seed, samples, seconds), `trial_test_*` (the
        selected trial's own weights on the test data) and `ensemble`
        (members, weights, validation figures); `test_*` are always the
        exported model's.

        Args:
            path: Folder to write (see `keras_nas.export_saved_model`).
            x_test: Optional held-out inputs, never seen by the search, for
                the test figures of `metrics.json`.
            y_test: Labels of `x_test`, as given to `search` (class labels
                are encoded by the space's task).
            overwrite: Whether to replace a previous export at `path`.
            select: A rule such as `"val_accuracy, latency_ms<=5"`: the best
                trial by its first part among those meeting its limits;
                `None` for the best by the (first) objective. Ensemble
                candidates are the trials meeting its limits, best first.
            final_fit: Whether to train the exported architecture(s) again
                on train + validation.
            final_epochs: Epochs of the final fit, a positive integer;
                `None` for each trial's best epoch count.
            ensemble: The most members of an exported ensemble (keras-nas
                spaces only); 1 exports a single model.

        Returns:
            The export folder, a `pathlib.Path`.

        Raises:
            RuntimeError: If no trial has completed, or `final_fit` is set
                and `search` has not run in this process.
            ValueError: If `select` is malformed, no completed trial meets
                its limits (the message names the limit), or `final_epochs`
                or `ensemble` is invalid.
        """
        completed = [
            t for t in self.oracle.trials.values() if t.status == _STATUS.COMPLETED
        ]
        if not completed:
            raise RuntimeError(
                f"No completed trial to export in {self.project_dir}."
            )
        task = self._task()
        check_ensemble(ensemble, task)
        validation.check_positive_int("final_epochs", final_epochs, allow_none=True)
        data = getattr(self, "_search_data", None)
        if (final_fit or ensemble > 1) and data is None:
            raise RuntimeError(
                "Received final_fit=True or ensemble > 1, which need the "
                "NumPy training data and validation_data of search(): call "
                "search() with them in this process first (a finished "
                "search returns at once)."
            )
        objectives = compat.single_objectives(self.oracle.objective)
        trained = [
            t for t in self.oracle.trials.values()
            if not t.metrics.exists(STOPPED_EARLY)
        ]
        trial, self.selection = select_trial(trained, objectives, select)
        ranked, _ = rank_trials(trained, objectives, select)
        if task is not None and y_test is not None:
            y_test = task.encode(y_test, "y_test")
        retrain = None
        if final_fit:
            def retrain(chosen):
                return run_final_fit(
                    self.hypermodel, chosen, data["train"],
                    data["validation_data"], seed=int(self.seed or 0),
                    epochs=final_epochs, fit_kwargs=data["fit_kwargs"],
                    build=self._build_hypermodel,
                    scope=self.distribution_strategy.scope,
                )
        model, figures = make_final_model(
            ranked, load_model=self.load_model, retrain=retrain, task=task,
            validation_data=data and data["validation_data"],
            test_data=None if x_test is None else (x_test, y_test),
            ensemble=ensemble,
        )
        members = ensemble_members(figures, self.oracle.trials, self.describe)
        return export_trial(
            model,
            trial,
            self.oracle.objective,
            self.describe(trial.hyperparameters.values),
            path,
            search=self._search_settings(),
            x_test=x_test,
            y_test=y_test,
            overwrite=overwrite,
            task=task,
            selection={"rule": select, "reason": self.selection},
            figures=figures,
            members=members,
            front=self.front if self.front is not None else load_front(
                self.project_dir
            ),
        )

    def _task(self):
        """The space's task, or `None` for a plain `build(hp)` space."""
        if isinstance(self.hypermodel, SearchSpace):
            return self.hypermodel.task
        return None

    def _trial_seed(self, trial_id):
        digits = int(trial_id) if trial_id.isdigit() else zlib.crc32(trial_id.encode())
        return (int(self.seed) * 1_000_003 + digits) % (2**31 - 1)

    def _summary(self, values):
        description = self.describe(values)
        return description.get("arch_str") or format_architecture(
            description["decisions"]
        )

    def _oracle_label(self):
        # A worker's oracle is KerasTuner's client of the chief's oracle.
        return type(compat.worker_oracle(self.oracle)).__name__

    def _space_label(self):
        if isinstance(self.hypermodel, SearchSpace):
            return self.hypermodel.space_name
        return self.hypermodel.name or type(self.hypermodel).__name__

    def _search_settings(self):
        strategy = type(self.oracle).__name__
        for name, cls in STRATEGIES.items():
            if type(self.oracle) is cls:
                strategy = name
        space = self.hypermodel
        return {
            "space": self._space_label(),
            "space_config": (
                space.get_config() if isinstance(space, SearchSpace) else None
            ),
            "strategy": strategy,
            "objective": {
                "name": self.oracle.objective.name,
                "direction": self.oracle.objective.direction,
            },
            "objectives": [
                {"name": o.name, "direction": o.direction}
                for o in compat.single_objectives(self.oracle.objective)
            ],
            "constraints": self.constraints.get_config(),
            "max_trials": _trial_budget(self.oracle),
            "seed": self.seed,
            "modality": self.modality,
            "data_fingerprint": self.data_fingerprint,
            "warm_start": None if self.warm_start is None else self.warm_start.path,
        }

    def _write_search_file(self):
        if self._is_worker():
            return
        write_json_atomically(
            os.path.join(self.project_dir, SEARCH_FILE), self._search_settings(),
            indent=2,
        )


def _final_fit_data(fit_args, fit_kwargs):
    """What `export(final_fit=True)` trains on: the search's splits and options.

    `None` unless the data are arrays with a `validation_data` pair.
    """
    x, y = validation.fit_data(fit_args, fit_kwargs)
    validation_data = fit_kwargs.get("validation_data")
    if not isinstance(validation_data, (tuple, list)) or y is None:
        return None
    return {
        "train": (x, y),
        "validation_data": tuple(validation_data[:2]),
        "fit_kwargs": {k: v for k, v in fit_kwargs.items() if k != "callbacks"},
    }


def _with_task(space, task):
    """A copy of a keras-nas space (with another task when `task` is given).

    `search` fits the copy to the data (`SearchSpace.adapt`), so the
    caller's space is never changed.
    """
    if task is not None and not isinstance(space, SearchSpace):
        raise ValueError(
            "Received an invalid value for `task`: it applies to keras-nas "
            "spaces; a plain build(hp) or HyperModel compiles its own model. "
            f"Received: task={task!r} with space={type(space).__name__}"
        )
    if not isinstance(space, SearchSpace):
        return space
    space = copy.copy(space)
    if task is not None:
        task = tasks.get_task(
            task, space.num_classes if task == "multiclass" else None
        )
        if task.name != space.task.name or task.fitted:
            space.task = task
    return space


def _task_objective(task, objective):
    """The objective(s) checked against what `task` reports, directions set."""
    if isinstance(objective, (list, tuple)):
        return [task.objective(o) for o in objective]
    if isinstance(objective, kt.Objective):
        objectives = [task.objective(o) for o in compat.single_objectives(objective)]
        return objectives[0] if len(objectives) == 1 else objectives
    return task.objective(objective)


def _trailing(oracle, matches):
    """How many trials in a row at the end of the oracle's history match."""
    count = 0
    for trial_id in reversed(oracle.end_order):
        if not matches(oracle.trials[trial_id]):
            break
        count += 1
    return count


def _is_failure(trial):
    """Whether a trial failed, an infeasible architecture apart."""
    return trial.status == _STATUS.FAILED and not costs.is_infeasible(trial)


def _early_stopping_spec(early_stopping, oracle):
    """`NASTuner`'s `early_stopping`, checked: `None`, a dict or a scheduler."""
    if early_stopping is None or early_stopping == "none":
        return None
    if not isinstance(oracle, NASOracle):
        raise ValueError(
            "Received an invalid value for `early_stopping`: it needs a "
            "keras-nas strategy, whose oracle runs the scheduler. Received: "
            f"early_stopping={early_stopping!r} with {type(oracle).__name__}"
        )
    if isinstance(early_stopping, EarlyStopping):
        return early_stopping
    spec = {"name": early_stopping} if isinstance(early_stopping, str) else early_stopping
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(
            "Received an invalid value for `early_stopping`, expected "
            '"asha", "hyperband", "median", None, a dict with a "name" or '
            f"an EarlyStopping. Received: early_stopping={early_stopping!r}"
        )
    unknown = sorted(set(spec) - {"name", "eta", "min_epochs"})
    if unknown:
        raise ValueError(
            "Received an invalid value for `early_stopping`: its keys are "
            f"name, eta and min_epochs. Received: {unknown[0]!r}"
        )
    get_early_stopping(**spec, max_epochs=max(spec.get("min_epochs", 1), 1))
    return dict(spec)


def _latency_settings(latency, max_latency_ms):
    """`LatencySettings` from `NASTuner`'s `latency`, or `None` for `False`."""
    if latency is False:
        if max_latency_ms is not None:
            raise ValueError(
                "Received an invalid value for `latency`: max_latency_ms "
                "needs the latency measured. Received: latency=False with "
                f"max_latency_ms={max_latency_ms!r}"
            )
        return None
    if isinstance(latency, LatencySettings):
        return latency
    if latency is None or isinstance(latency, dict):
        return LatencySettings.from_config(latency)
    raise ValueError(
        "Received an invalid value for `latency`, expected a dict of "
        "LatencySettings fields, a LatencySettings or False. "
        f"Received: latency={latency!r}"
    )


def _epoch_objective(objective, space):
    """The objective that ranks a trial's epochs: the first not a cost.

    With only costs (measured once per trial), the task's default objective
    of a keras-nas space, or `val_loss` for a plain `build(hp)`.
    """
    for single in compat.single_objectives(objective):
        if single.name not in costs.COSTS:
            return single
    if isinstance(space, SearchSpace):
        return space.task.objective()
    return kt.Objective("val_loss", "min")


def _trial_budget(oracle):
    """Trials to train: a keras-nas oracle's `max_trials` grows with infeasible ones."""
    return getattr(oracle, "trial_budget", oracle.max_trials)


