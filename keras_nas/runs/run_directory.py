"""Reading a search's folder back: trials, space, best model, export."""

import json
import os

import keras_tuner as kt

from keras_nas import compat
from keras_nas.data.batches import labelled
from keras_nas.data.preprocessing import describe_front
from keras_nas.training.checkpoint import restore_weights
from keras_nas.runs.export import export_saved_model
from keras_nas.runs.final_fit import final_fit as final_fit_trial
from keras_nas.runs.final_model import ensemble_members
from keras_nas.runs.final_model import make_final_model
from keras_nas.objectives.selection import rank_trials
from keras_nas.objectives.selection import select_trial
from keras_nas.tasks import evaluate
from keras_nas.runs.leaderboard import format_leaderboard
from keras_nas.runs.leaderboard import leaderboard
from keras_nas.runs.leaderboard import task_columns
from keras_nas.spaces.registry import SPACES
from keras_nas.runs.front_file import load_front

SEARCH_FILE = "search.json"
"""Written by `NASTuner` in its project folder: space, strategy, objective."""
DATASET_FILE = "dataset.json"
"""Written by `keras-nas run`: the dataset and training settings."""
CHECKPOINT_FILE = "checkpoint.weights.h5"
ORACLE_FILE = "oracle.json"


class ForeignFolderError(ValueError):
    """A folder that is not a keras-nas run, which a run must not touch."""


class CorruptRunError(ValueError):
    """A keras-nas run whose files cannot be read."""


def check_run_folder(path):
    """Checks a folder before a search starts or resumes in it.

    Args:
        path: The run folder (`directory/project_name`).

    Returns:
        `True` if it holds a keras-nas run, `False` if it is missing or empty.

    Raises:
        ForeignFolderError: If it holds files but no keras-nas run.
        CorruptRunError: If one of the run's JSON files cannot be read.
    """
    if not os.path.isdir(path) or not os.listdir(path):
        if os.path.exists(path) and not os.path.isdir(path):
            raise ForeignFolderError(f"{path} exists and is not a folder.")
        return False
    if not os.path.isfile(os.path.join(path, SEARCH_FILE)):
        raise ForeignFolderError(
            f"{path} is not a keras-nas run folder (it has no {SEARCH_FILE}) "
            "and is left untouched: choose another --name or --directory."
        )
    names = [SEARCH_FILE, ORACLE_FILE] + [
        os.path.join(entry, "trial.json")
        for entry in sorted(os.listdir(path))
        if entry.startswith("trial_")
        and os.path.isfile(os.path.join(path, entry, "trial.json"))
    ]
    names += [
        entry for entry in os.listdir(path)
        if entry.endswith(".json") and entry not in names
    ]
    for name in names:
        try:
            _read_json(os.path.join(path, name))
        except (OSError, ValueError) as error:
            detail = " ".join(str(error).split())
            raise CorruptRunError(
                f"run {path} is corrupt: {name} cannot be read ({detail}); "
                "pass --overwrite to start it over."
            ) from None
    return True


def _read_json(path):
    with open(path) as f:
        return json.load(f)


class RunDirectory:
    """A finished or interrupted search, read from its project folder.

    It needs no oracle: it reads the trial files KerasTuner writes and the
    `search.json` that `NASTuner` writes, so any strategy's run can be shown
    and exported.

    Args:
        path: The project folder (`directory/project_name`).

    Raises:
        ValueError: If `path` is not a keras-nas run folder.

    Example:

    ```python
    run = RunDirectory("runs/digits")
    print(run.format_leaderboard())
    run.export("saved_models/digits")
    ```
    """

    def __init__(self, path):
        self.path = str(path)
        search_file = os.path.join(self.path, SEARCH_FILE)
        if not os.path.isfile(search_file):
            raise ValueError(
                f"Received an invalid value for `run_dir`: {self.path!r} is not "
                f"a keras-nas run folder (it has no {SEARCH_FILE})."
            )
        try:
            self.search = _read_json(search_file)
            objectives = self.search.get("objectives") or [self.search["objective"]]
            objectives = [kt.Objective(o["name"], o["direction"]) for o in objectives]
            self.objective = (
                objectives[0] if len(objectives) == 1 else compat.create_objective(objectives)
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"Received an invalid value for `run_dir`: {search_file} is "
                f"corrupt ({error!r})."
            ) from None
        dataset_file = os.path.join(self.path, DATASET_FILE)
        self.dataset = (
            _read_json(dataset_file) if os.path.isfile(dataset_file) else None
        )
        self.space = self._make_space()
        self.trials = self._load_trials()
        self.front = load_front(self.path)

    def _make_space(self):
        name, config = self.search.get("space"), self.search.get("space_config")
        if name in SPACES and config is not None:
            return SPACES[name](**config)
        return None

    def _load_trials(self):
        trials = []
        for entry in sorted(os.listdir(self.path)):
            trial_file = os.path.join(self.path, entry, "trial.json")
            if entry.startswith("trial_") and os.path.isfile(trial_file):
                trials.append(kt.engine.trial.Trial.load(trial_file))
        return trials

    def metric_names(self):
        """The metrics some trial of this run recorded, sorted."""
        return sorted({name for t in self.trials for name in t.metrics.metrics})

    def missing_checkpoints(self):
        """Completed trials whose saved weights are missing or empty.

        Such a trial is listed but cannot be exported or ensembled.

        Returns:
            Their trial ids, in order.
        """
        missing = []
        for trial in self.trials:
            path = os.path.join(self.path, f"trial_{trial.trial_id}", CHECKPOINT_FILE)
            if trial.status == "COMPLETED" and not (
                os.path.isfile(path) and os.path.getsize(path) > 0
            ):
                missing.append(trial.trial_id)
        return missing

    def oracle_state(self):
        """The strategy's saved state (`oracle.json`), or `None` before it exists."""
        path = os.path.join(self.path, ORACLE_FILE)
        return _read_json(path) if os.path.isfile(path) else None

    def trial_end_times(self):
        """When each trial's file was last written (its end), in seconds.

        Returns:
            `{trial_id: seconds since the search began}`, the beginning
            being the earliest of `search.json` and the trial files.
        """
        times = {
            trial.trial_id: os.path.getmtime(
                os.path.join(self.path, f"trial_{trial.trial_id}", "trial.json")
            )
            for trial in self.trials
        }
        start = min([os.path.getmtime(os.path.join(self.path, SEARCH_FILE)),
                     *times.values()])
        return {trial_id: t - start for trial_id, t in times.items()}

    def describe(self, values):
        """Describes an architecture of this run's space."""
        if self.space is not None:
            return self.space.describe(values)
        return {"space": self.search.get("space"), "decisions": dict(values)}

    @property
    def task(self):
        """The space's `keras_nas.tasks.Task`, or `None` for a custom space."""
        return None if self.space is None else self.space.task

    def leaderboard(self, num_trials=10, columns=()):
        """The best `num_trials` completed trials, as `results.leaderboard` rows.

        Args:
            num_trials: Rows at most.
            columns: Further metrics to show (see `results.task_columns`).
        """
        return leaderboard(
            self.trials, self.objective, self.describe, num_trials,
            columns=task_columns(self.task, self.objective, columns),
        )

    def format_leaderboard(self, num_trials=10, columns=()):
        """The leaderboard as text."""
        return format_leaderboard(
            self.leaderboard(num_trials, columns), self.trials, self.objective
        )

    def select(self, rule=None):
        """The completed trial a selection rule chooses, and why.

        Args:
            rule: A rule such as `"val_accuracy, latency_ms<=5"` (see
                `keras_nas.objectives.selection`); `None` for the best by
                the (first) objective.

        Returns:
            `(trial, reason)`.

        Raises:
            RuntimeError: If no trial has completed.
            ValueError: If the rule is malformed or no trial meets it.
        """
        if not any(t.status == "COMPLETED" for t in self.trials):
            raise RuntimeError(f"No completed trial in {self.path}.")
        return select_trial(
            self.trials, compat.single_objectives(self.objective), rule
        )

    def final_model(
        self, rule=None, data=None, *, final_fit=False, final_epochs=None,
        ensemble=1,
    ):
        """The model to export: the selected trial's, final-trained, or an ensemble.

        As `NASTuner.export` does it (see
        `keras_nas.runs.final_model.make_final_model`), on the splits of the
        run's dataset.

        Args:
            rule: A selection rule (see `select`), or `None`.
            data: The run's `keras_nas.data.DatasetSplits`, cut as the
                search cut them; needed for `final_fit` and ensembles.
            final_fit: Whether to train the architecture(s) again on train
                + validation, with the run's seed and batch size.
            final_epochs: Epochs of the final fit; `None` for each trial's
                best epoch count.
            ensemble: The most members of an ensemble; 1 for one model.

        Returns:
            `(model, figures)`, as `make_final_model` returns them.

        Raises:
            RuntimeError: If the run's space is not a built-in one.
            ValueError: If the rule is malformed or no trial meets it,
                `final_epochs` or `ensemble` is invalid, or `data` is
                missing for a final fit or an ensemble.
        """
        ranked, _ = rank_trials(
            self.trials, compat.single_objectives(self.objective), rule
        )
        if data is None and (final_fit or ensemble > 1):
            raise ValueError(
                "Received an invalid value for `data`: a final fit or an "
                "ensemble needs the run's splits. Received: data=None"
            )
        retrain = None
        if final_fit:
            def retrain(trial):
                return final_fit_trial(
                    self.space, trial, (data.x_train, data.y_train),
                    (data.x_val, data.y_val), seed=self.search.get("seed") or 0,
                    epochs=final_epochs,
                    fit_kwargs={"batch_size": self.dataset["batch_size"]},
                    build=self.space.build,
                )
        return make_final_model(
            ranked, load_model=self.load_model, retrain=retrain,
            task=self.task,
            validation_data=None if data is None else (data.x_val, data.y_val),
            test_data=None if data is None else (data.x_test, data.y_test),
            ensemble=ensemble,
        )

    def members(self, figures):
        """The ensemble members' descriptions (see `ensemble_members`)."""
        return ensemble_members(
            figures, {t.trial_id: t for t in self.trials}, self.describe
        )

    def load_model(self, trial):
        """Rebuilds a trial's model with the weights of its best epoch.

        Raises:
            RuntimeError: If the run's space is not a built-in one (load a
                custom space's models with `NASTuner.get_best_models`).
        """
        if self.space is None:
            raise RuntimeError(
                f"The space of {self.path} ({self.search.get('space')}) is not "
                "a built-in space; load its models with NASTuner in Python."
            )
        model = self.space.build_architecture(trial.hyperparameters.values)
        return restore_weights(
            model, os.path.join(self.path, f"trial_{trial.trial_id}", CHECKPOINT_FILE)
        )


def changed_files(record, data):
    """How a folder's split differs from the one a run recorded, or `""`.

    Args:
        record: The run's `dataset.json` content.
        data: The data read again (its `details["files"]`, if a folder).

    Returns:
        A few words such as `"3 files added to train, 1 gone from test"`,
        or `""` when the run recorded no files or the same ones.
    """
    recorded = record.get("files")
    if not recorded:
        return ""
    now = data.details.get("files", {})
    parts = []
    for split, files in recorded.items():
        before, after = set(files), set(now.get(split, ()))
        if after - before:
            parts.append(f"{len(after - before):,} files added to {split}")
        if before - after:
            parts.append(f"{len(before - after):,} gone from {split}")
    return ", ".join(parts)


def export_trial(
    model,
    trial,
    objective,
    description,
    path,
    *,
    search=None,
    x_test=None,
    y_test=None,
    overwrite=False,
    task=None,
    selection=None,
    figures=None,
    members=None,
    front=None,
):
    """Exports a trial's model with `architecture.json` and `metrics.json`.

    Both files record the task (`architecture.json` its full config with
    the class names, or the regression targets' statistics); `metrics.json`
    its name, the class names in output order, the trial's validation
    figures and, with `x_test`, the test figures (`test_loss` and the
    task's metrics: `test_accuracy`, or `test_mae`, `test_rmse`, `test_r2`).

    Args:
        model: The trial's trained model.
        trial: The `keras_tuner.engine.trial.Trial`.
        objective: The search's `keras_tuner.Objective`.
        description: The trial's architecture description (`describe`).
        path: The export folder.
        search: The search settings (`search.json`'s content), stored with the
            architecture.
        x_test: Optional held-out inputs for the test figures.
        y_test: Labels of `x_test`, encoded as the model trains on them.
        overwrite: Whether to replace a previous export.
        task: The space's `keras_nas.tasks.Task`, or `None` for a plain
            `build(hp)` model.
        selection: How the trial was chosen, `{"rule": ..., "reason": ...}`
            (`NASTuner.export`), recorded in `metrics.json`.
        figures: Further entries of `metrics.json`: the final fit and
            ensemble figures of `keras_nas.runs.final_model.make_final_model`.
        members: For an ensemble, its members' descriptions (each with
            `trial_id` and `weight`), stored in `architecture.json`.
        front: The data's preprocessing (`keras_nas.data.preprocessing`),
            put before the model in the SavedModel, or `None`.

    Returns:
        The export folder, a `pathlib.Path`.
    """
    metrics = {
        "objective": objective.name,
        "direction": objective.direction,
        "objectives": [
            {"name": o.name, "direction": o.direction}
            for o in compat.single_objectives(objective)
        ],
        "selection": selection,
        "score": trial.score,
        **{name: trial.metrics.get_best_value(name) for name in trial.metrics.metrics},
    }
    if task is not None:
        metrics["task"] = task.name
        if task.is_classification:
            metrics["class_names"] = task.class_names
    metrics.update(figures or {})
    if x_test is not None:
        metrics.update(evaluate(model, *labelled(x_test, y_test)))
    search = search or {}
    architecture = {
        **description,
        "space_config": search.get("space_config"),
        "strategy": search.get("strategy"),
        "trial_id": trial.trial_id,
    }
    if members:
        architecture["ensemble"] = members
    if task is not None:
        architecture["task"] = task.get_config()
    architecture["modality"] = metrics["modality"] = search.get("modality")
    architecture["preprocessing"] = describe_front(front)
    return export_saved_model(
        model, path, architecture=architecture, metrics=metrics,
        overwrite=overwrite, front=front,
    )
