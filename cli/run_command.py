"""`keras-nas run`: search a space on a dataset and export the best model."""

import contextlib
import io
import json
import os
import sys
import tempfile

import click
from click.core import ParameterSource

from keras_nas_cli.common import check_choice
from keras_nas_cli.common import check_output_folder
from keras_nas_cli.common import echo_export
from keras_nas_cli.common import excerpt
from keras_nas_cli.common import import_keras_nas
from keras_nas_cli.common import lock_folder
from keras_nas_cli.common import split_list
from keras_nas_cli.config_file import ConfigError
from keras_nas_cli.config_file import load_config
from keras_nas_cli.config_file import split_named

TASKS = ("auto", "multiclass", "binary", "regression")
MAX_COUNT = 100_000
"""The most trials, epochs and failures a run accepts."""
_MAX_SIZE = 2**53
"""The largest budget of parameters, FLOPs or bytes (exact as a float)."""
_BOUNDS = {
    "max_trials": MAX_COUNT, "epochs": MAX_COUNT, "min_epochs": MAX_COUNT,
    "final_epochs": MAX_COUNT, "max_failures": MAX_COUNT, "eta": 1_000,
    "batch_size": 2**20, "ensemble": 1_000, "max_params": _MAX_SIZE,
    "max_flops": _MAX_SIZE, "max_model_bytes": _MAX_SIZE,
}
"""The largest value of each positive integer setting (`workers`: see
`max_workers`)."""
MAX_SEED = 2**32 - 1
EARLY_STOPPING = ("asha", "hyperband", "median", "none")
_BUDGETS = ("max_params", "max_flops", "max_latency_ms", "max_model_bytes")


class StrategyOption(click.Option):
    """`--strategy`, whose help lists `keras_nas.strategies.STRATEGIES`.

    The registry is read only when the help is shown, since importing
    keras_nas imports TensorFlow.
    """

    def get_help_record(self, ctx):
        names = sorted(import_keras_nas().strategies.STRATEGIES)
        self.help = (
            f"Search strategy: {', '.join(names)}. Its options go in a "
            "--config file's strategy mapping."
        )
        return super().get_help_record(ctx)


@click.command()
@click.option("--config", "config_path", default=None, type=click.Path(),
              help=("A .yaml or .json file of these settings (keys as the "
                    "options, with underscores); options given here win."))
@click.option("--dataset", default="digits", show_default=True,
              help=("digits, tfds:NAME[:SPLIT], a .npz (x, y) / .csv file, or "
                    "a folder of class folders of images, .wav or .txt files."))
@click.option("--modality", default="auto", show_default=True,
              help=("What the inputs are: auto (detected, the reason is "
                    "printed), image, audio, text, series or tabular."))
@click.option("--text-column", default=None,
              help="The CSV column holding the text [default: text].")
@click.option("--image-size", default=None,
              help=("HEIGHTxWIDTH that folder images are resized to [default: "
                    "their median size, at most 64 a side]."))
@click.option("--memory-budget", default=None, type=float,
              help=("GiB that decoded images or clips of a folder, or a tfds "
                    "split, may take in memory; beyond it they are decoded "
                    "once into --cache-dir and read from there a batch at a "
                    "time [default: a quarter of the RAM]."))
@click.option("--cache-dir", default=None,
              help=("Folder of the decoded data beyond --memory-budget, "
                    "reused by later runs on the same files [default: "
                    "~/.cache/keras_nas/data]."))
@click.option("--disk-cache/--no-disk-cache", default=True, show_default=True,
              help=("Beyond --memory-budget, decode a folder's images once "
                    "into --cache-dir, or (--no-disk-cache) read them from "
                    "their files at every epoch, writing no cache."))
@click.option("--skip-bad-files", is_flag=True,
              help=("Leave out files of a folder that cannot be read (they "
                    "are counted) instead of stopping."))
@click.option("--space", default="auto", show_default=True,
              help=("Search space: auto (convnet for images and audio "
                    "spectrograms, sequence for series, mlp for text and "
                    "features), mlp, convnet, nb201 or sequence."))
@click.option("--strategy", cls=StrategyOption, default="random",
              show_default=True)
@click.option("--max-trials", default=10, show_default=True, type=int,
              help="Architectures to try.")
@click.option("--epochs", default=None, type=int,
              help=("Training epochs per trial [default: enough for about 400 "
                    "batches, from 10 to 100 epochs]."))
@click.option("--batch-size", default=32, show_default=True, type=int)
@click.option("--task", default="auto", show_default=True,
              help=("auto (detected from the labels), multiclass, binary or "
                    "regression."))
@click.option("--objective", default=None,
              help=("Metric to optimise [default: val_accuracy for "
                    "classification, val_loss for regression]: the task's "
                    "metrics (val_f1, val_precision, val_recall, val_auc for "
                    "binary; val_mae, val_rmse, val_r2 for regression) or a "
                    "cost (params, flops, latency_ms, throughput, model_bytes, "
                    "train_seconds_per_epoch). Several, comma-separated "
                    "(val_accuracy,latency_ms), search their Pareto front."))
@click.option("--select", default=None,
              help=("Which trial to export: 'val_accuracy, latency_ms<=5' "
                    "takes the best val_accuracy with latency_ms at most 5 "
                    "[default: the best by the first objective]."))
@click.option("--max-params", default=None, type=int,
              help="Do not train architectures with more parameters.")
@click.option("--max-flops", default=None, type=int,
              help="Do not train architectures with more multiply-adds per inference.")
@click.option("--max-latency-ms", default=None, type=float,
              help="Do not train architectures slower than this (ms, batch 1, this machine).")
@click.option("--max-model-bytes", default=None, type=int,
              help="Do not train architectures whose saved weights are larger.")
@click.option("--early-stopping", default="none", show_default=True,
              help=("Stop poor trials early: asha, hyperband, median or none "
                    "(works with every strategy)."))
@click.option("--eta", default=3, show_default=True, type=int,
              help="Early stopping's reduction factor: keep the top 1/eta at each rung.")
@click.option("--min-epochs", default=1, show_default=True, type=int,
              help="Epochs a trial trains before early stopping may stop it.")
@click.option("--directory", default="runs", show_default=True,
              help="Folder holding runs.")
@click.option("--name", default=None,
              help="Run name [default: DATASET-SPACE-STRATEGY].")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--export-dir", default="saved_models", show_default=True,
              help="The best model is exported to EXPORT_DIR/NAME.")
@click.option("--test-fraction", default=0.25, show_default=True, type=float,
              help=("Share of each class held out as the test split, which "
                    "the search and the final fit never see."))
@click.option("--final-fit/--no-final-fit", default=True, show_default=True,
              help=("Train the exported architecture(s) again on train + "
                    "validation for the epochs their trial found best."))
@click.option("--final-epochs", default=None, type=int,
              help="Epochs of the final fit [default: each trial's best].")
@click.option("--ensemble", default=5, show_default=True, type=int,
              help=("Export an ensemble of up to this many trials, chosen by "
                    "greedy selection on validation predictions (1: one model)."))
@click.option("--time-limit", default=None,
              help=("Stop after this long (e.g. 90s, 10m, 2h30m), keep the "
                    "finished trials and export the best so far."))
@click.option("--max-failures", default=5, show_default=True, type=int,
              help="Stop after this many failed trials in a row.")
@click.option("--trial-process", default="in_process", show_default=True,
              help=("in_process, or subprocess: train each trial in a fresh "
                    "child process, for long searches."))
@click.option("--workers", default=None, type=int,
              help=("Run a KerasTuner chief and this many workers on this "
                    "machine (loopback)."))
@click.option("--tensorboard", default=None, type=click.Path(),
              help=("Write TensorBoard logs here: each trial's training and "
                    "the HParams dashboard (tensorboard --logdir DIR)."))
@click.option("--quiet", is_flag=True,
              help="Print no progress (the leaderboard and export still are).")
@click.option("--verbose", is_flag=True,
              help="Also print one line per epoch, with its metrics.")
@click.option("--warm-start", default=None, type=click.Path(),
              help=("Begin from the run in this folder: on the same data its "
                    "trials are kept untrained, on other data its best "
                    "architectures are tried first."))
@click.option("--overwrite/--resume", default=None,
              help="Start an existing run over, or continue it.")
@click.pass_context
def run(ctx, config_path, overwrite, **options):
    """Search a space on a dataset and export the best model."""
    settings = _settings(ctx, config_path, options)
    kn = import_keras_nas()
    from keras_nas.engine import distributed

    try:
        role = distributed.role()
    except RuntimeError as error:
        raise click.UsageError(str(error)) from None
    space_name, space_options = split_named(settings["space"])
    strategy_name, strategy_options = split_named(settings["strategy"])
    check_choice("--strategy", strategy_name, sorted(kn.strategies.STRATEGIES))
    check_choice("--space", space_name, ["auto", *sorted(kn.spaces.SPACES)])
    check_choice("--task", settings["task"], TASKS)
    check_choice("--modality", settings["modality"], ("auto", *kn.data.MODALITIES))
    image_size = _image_size(settings["image_size"])
    check_choice("--early-stopping", settings["early_stopping"], EARLY_STOPPING)
    if settings["eta"] < 2:
        raise click.BadParameter(
            f"expected an integer of at least 2, received {settings['eta']}.",
            param_hint="--eta",
        )
    check_choice("--trial-process", settings["trial_process"],
                 kn.engine.tuner.TRIAL_PROCESSES)
    time_limit = _time_limit(settings["time_limit"])
    if settings["quiet"] and settings["verbose"]:
        raise click.UsageError("--quiet and --verbose cannot be combined.")
    if settings["workers"] is not None and time_limit is not None:
        raise click.UsageError("--time-limit cannot be combined with --workers.")
    _check_outputs(settings, role)
    data, space_name = _load_data(kn, settings, image_size, space_name)
    if settings["epochs"] is None:
        from keras_nas.training.epochs import default_epochs

        settings["epochs"] = default_epochs(len(data.y_train), settings["batch_size"])
    name = settings["name"]
    if name is None:
        name = _default_name(settings["dataset"], space_name, strategy_name)
    run_dir = os.path.join(settings["directory"], name)
    export_path = os.path.join(settings["export_dir"], name)
    _check_run_paths(settings, name, run_dir, export_path, role)
    existing = role != "worker" and _check_run_folder(run_dir, overwrite)
    try:
        objectives = [
            data.task.objective(n) for n in split_list(settings["objective"]) or [None]
        ]
    except ValueError as error:
        raise click.BadParameter(" ".join(str(error).split()),
                                 param_hint="--objective") from None
    objective = objectives[0] if len(objectives) == 1 else objectives
    try:
        kn.objectives.parse_rule(settings["select"], objectives)
    except ValueError as error:
        raise click.BadParameter(" ".join(str(error).split()),
                                 param_hint="--select") from None
    latency_limit = settings["max_latency_ms"]
    if latency_limit is not None and not latency_limit > 0:
        raise click.BadParameter(
            f"expected a positive number, received {latency_limit}.",
            param_hint="--max-latency-ms",
        )
    try:
        if space_name in kn.spaces.SPACES:
            kn.spaces.SPACES[space_name].check_accepts(data.spec)
        search_space = kn.spaces.get_space(
            space_name, data.input_shape, task=data.task,
            **{**kn.spaces.data_options(space_name, data.spec), **space_options}
        )
        search_space.check_data(data.spec)
        oracle = kn.strategies.get_oracle(
            strategy_name, objective, settings["max_trials"],
            settings["seed"], **strategy_options,
        )
        oracle.check_search(
            search_space, time_limit=time_limit, workers=settings["workers"]
        )
    except (ValueError, FileNotFoundError) as error:
        raise click.UsageError(str(error)) from None
    if existing and not overwrite:
        _check_same_run(
            run_dir,
            {"dataset": settings["dataset"], "seed": settings["seed"],
             "task": settings["task"], "test_fraction": settings["test_fraction"],
             "space": space_name,
             "strategy": strategy_name},
        )
        _check_same_files(run_dir, data)
    if settings["workers"] is not None:
        _check_unlocked(run_dir, export_path)
        sys.exit(_launch(distributed, settings, existing, overwrite))
    with contextlib.ExitStack() as locks:
        if role != "worker":
            # Distributed workers share their chief's run; the chief holds it.
            for folder in (run_dir, export_path):
                lock_folder(locks, folder, "keras-nas run")
        _search_and_export(
            kn, settings, search_space, oracle, name, run_dir, export_path,
            existing, overwrite, role, time_limit, data,
        )


def _search_and_export(kn, settings, search_space, oracle, name, run_dir,
                       export_path, existing, overwrite, role, time_limit, data):
    """Searches in the locked run folder, then exports the best model."""
    from keras_nas.engine import distributed
    from keras_nas.training import failures

    try:
        # KerasTuner prints "Reloading Tuner from ..." on resume; our search
        # line says how many trials are resumed.
        with contextlib.redirect_stdout(io.StringIO()):
            tuner = kn.NASTuner(
                search_space,
                strategy=oracle,
                max_trials=settings["max_trials"],
                seed=settings["seed"],
                directory=settings["directory"],
                project_name=name,
                overwrite=bool(overwrite) and role != "worker",
                time_limit=time_limit,
                max_consecutive_failures=settings["max_failures"],
                trial_process=settings["trial_process"],
                verbose=0 if settings["quiet"] else 2 if settings["verbose"] else 1,
                tensorboard_dir=settings["tensorboard"],
                **{key: settings[key] for key in _BUDGETS},
                early_stopping=_early_stopping(settings),
                warm_start=settings["warm_start"],
            )
    except ValueError as error:
        if not existing:
            raise click.UsageError(str(error)) from None
        raise click.UsageError(
            f"run {run_dir} cannot be resumed ({type(error).__name__}: "
            f"{' '.join(str(error).split())}); pass --overwrite to start it over."
        ) from None
    except (RuntimeError, KeyError, TypeError) as error:
        if not existing:
            raise
        raise click.UsageError(
            f"run {run_dir} cannot be resumed ({type(error).__name__}: "
            f"{' '.join(str(error).split())}); pass --overwrite to start it over."
        ) from None
    if role != "worker":
        click.echo(f"Modality: {data.modality_reason}")
        skipped = data.details.get("skipped")
        if skipped:
            click.echo(
                f"Skipped {len(skipped):,} unreadable file(s), e.g. "
                f"{skipped[0][0]}: {skipped[0][1]}"
            )
        click.echo(data.summary())
        click.echo(f"Task: {data.task_reason}")
        _write_dataset_file(run_dir, settings, data)
    try:
        tuner.search(
            data, epochs=settings["epochs"], batch_size=settings["batch_size"],
        )
    except (failures.TooManyFailuresError, failures.InfeasibleBudgetError) as error:
        message = str(error)
        if isinstance(error, failures.TooManyFailuresError):
            message += (" The finished trials are kept: fix the cause and pass "
                        "--resume to continue.")
        stop = click.ClickException(message)
        if role == "worker":
            # Not a lost worker: the launcher must stop the search, not restart it.
            stop.exit_code = distributed.STOP_EXIT_CODE
        raise stop from None
    if role == "worker":
        return
    tuner.results_summary()
    try:
        path = tuner.export(
            export_path,
            x_test=data.x_test,
            y_test=data.y_test,
            overwrite=True,
            select=settings["select"],
            final_fit=settings["final_fit"],
            final_epochs=settings["final_epochs"],
            ensemble=settings["ensemble"],
        )
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    except ValueError as error:
        raise click.ClickException(" ".join(str(error).split())) from None
    click.echo(f"Selected {tuner.selection}")
    echo_export(path)


def _settings(ctx, config_path, options):
    """Merges the config file under the options given on the command line."""
    config = {}
    if config_path is not None:
        try:
            config = load_config(config_path)
        except ConfigError as error:
            raise click.BadParameter(str(error), param_hint="--config") from None
    settings = {}
    for key, value in options.items():
        given = ctx.get_parameter_source(key) in (
            ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT
        )
        settings[key] = value if given or key not in config else config[key]
    bounds = {**_BOUNDS, "workers": max_workers()}
    for key, most in bounds.items():
        value = settings[key]
        if value is not None and not 1 <= value <= most:
            raise click.BadParameter(
                f"expected an integer from 1 to {most:,}, received "
                f"{excerpt(value)}.",
                param_hint="--" + key.replace("_", "-"),
            )
    if not 0 <= settings["seed"] <= MAX_SEED:
        raise click.BadParameter(
            f"expected an integer from 0 to {MAX_SEED:,}, received "
            f"{excerpt(settings['seed'])}.",
            param_hint="--seed",
        )
    objective = settings["objective"]
    if objective is not None:
        entries = objective if isinstance(objective, list) else objective.split(",")
        if not all(str(entry).strip() for entry in entries):
            raise click.BadParameter(
                f"expected metric names separated by commas, none empty, "
                f"received {excerpt(objective)}.",
                param_hint="--objective",
            )
    return settings


def max_workers():
    """The most `--workers` on this machine: its CPU cores, at least 2.

    Each worker is a TensorFlow process training its own trial; more
    workers than cores only share the cores.
    """
    return max(2, os.cpu_count() or 1)


def _check_outputs(settings, role):
    """Refuses, before any data is read, folders a run cannot use.

    `--name`, when given, must be one folder name; every output folder must
    be a folder that exists or can be created; `--warm-start` a folder.
    """
    if settings["name"] is not None:
        _check_name(settings["name"])
    checks = [("--directory", settings["directory"])]
    if role != "worker":
        checks.append(("--export-dir", settings["export_dir"]))
        if settings["tensorboard"] is not None:
            checks.append(("--tensorboard", settings["tensorboard"]))
    for option, path in checks:
        check_output_folder(option, path)
    warm_start = settings["warm_start"]
    if warm_start is not None and not os.path.isdir(warm_start):
        raise click.BadParameter(
            f"{excerpt(warm_start)} is not a folder.", param_hint="--warm-start"
        )


def _check_name(name):
    from keras_nas.runs.output_paths import check_folder_name

    try:
        check_folder_name(name)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--name") from None


def _check_run_paths(settings, name, run_dir, export_path, role):
    """The run folder must be one name inside `--directory`, the export one
    inside `--export-dir` (links followed), both writable, before anything
    is written."""
    from keras_nas.runs.output_paths import check_inside

    _check_name(name)
    checks = [("--name", run_dir, settings["directory"])]
    if role != "worker":
        checks.append(("--export-dir", export_path, settings["export_dir"]))
    for option, path, root in checks:
        try:
            check_inside(path, root)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint=option) from None
        check_output_folder(option, path)




def _check_unlocked(*folders):
    """Refuses to launch a distributed search on folders another process holds."""
    from keras_nas.runs.folder_lock import FolderLockedError
    from keras_nas.runs.folder_lock import check_unlocked

    for folder in folders:
        try:
            check_unlocked(folder)
        except FolderLockedError as error:
            raise click.UsageError(str(error)) from None


def _dataset_hint(message):
    """The option a `load_dataset` error is about."""
    if "`task`" in message:
        return "--task"
    if "`test_fraction`" in message:
        return "--test-fraction"
    if "modality=" in message:
        return "--modality"
    if "--text-column" in message:
        return "--text-column"
    if "--memory-budget" in message:
        return "--memory-budget"
    return "--dataset"


def _early_stopping(settings):
    if settings["early_stopping"] == "none":
        return None
    return {"name": settings["early_stopping"], "eta": settings["eta"],
            "min_epochs": settings["min_epochs"]}


def _task(settings):
    return None if settings["task"] == "auto" else settings["task"]


def _time_limit(value):
    from keras_nas.training.time_limit import parse_duration

    if value is None:
        return None
    try:
        return parse_duration("time_limit", value)
    except ValueError:
        raise click.BadParameter(
            f"expected a duration such as 90s, 10m or 1h30m, received {value!r}.",
            param_hint="--time-limit",
        ) from None


def _check_run_folder(run_dir, overwrite):
    """Says whether `run_dir` holds a run; refuses what must not be touched."""
    from keras_nas.runs import run_directory as runs

    try:
        existing = runs.check_run_folder(run_dir)
    except runs.CorruptRunError as error:
        if overwrite:
            return True
        raise click.UsageError(str(error)) from None
    except runs.ForeignFolderError as error:
        raise click.UsageError(str(error)) from None
    if existing and overwrite is None:
        raise click.UsageError(
            f"run {run_dir} exists: pass --resume to continue it or "
            "--overwrite to start over."
        )
    return existing


def _default_name(dataset, space, strategy):
    label = os.path.splitext(os.path.basename(dataset.replace(":", "-")))[0]
    return f"{label}-{space}-{strategy}"


def _write_dataset_file(run_dir, settings, data):
    """Records how the data was read and cut, so the run reads it again alike.

    A folder's files of each split are recorded too.
    """
    from keras_nas.files import write_json_atomically
    from keras_nas.runs.run_directory import DATASET_FILE

    keys = ("dataset", "seed", "task", "test_fraction", "epochs", "batch_size",
            "modality", "text_column", "image_size", "skip_bad_files")
    record = {key: settings[key] for key in keys}
    record["modality"] = data.modality
    if "files" in data.details:
        record["image_size"] = (
            list(data.input_shape[:2]) if data.modality == "image" else None
        )
        record["files"] = data.details["files"]
    for key in ("sample_rate", "skipped"):
        if key in data.details:
            record[key] = data.details[key]
    write_json_atomically(os.path.join(run_dir, DATASET_FILE), record, indent=2)


def _load_data(kn, settings, image_size, space_name):
    """Loads and splits the dataset, resolves `--space auto` by its modality
    and computes its model inputs (text as the space takes it); one line if
    not.

    Returns:
        `(SearchData, space name)`.
    """
    modality = None if settings["modality"] == "auto" else settings["modality"]
    try:
        splits = kn.data.load_dataset(
            settings["dataset"], seed=settings["seed"], task=_task(settings),
            test_fraction=settings["test_fraction"], modality=modality,
            text_column=settings["text_column"], image_size=image_size,
            skip_bad_files=settings["skip_bad_files"],
            memory_budget=_memory_budget(settings["memory_budget"]),
            cache_dir=settings["cache_dir"], disk_cache=settings["disk_cache"],
        )
    except ValueError as error:
        raise click.BadParameter(
            " ".join(str(error).split()),
            param_hint=_dataset_hint(str(error)),
        ) from None
    if space_name == "auto":
        space_name = kn.spaces.default_space(splits.modality)
    data = kn.data.SearchData.from_splits(
        splits, text_output=kn.spaces.SPACES[space_name].text_output
    )
    return data, space_name


def _memory_budget(gib):
    """`--memory-budget` in bytes, or `None`."""
    if gib is None:
        return None
    if not 0 < gib <= 2**20:
        raise click.BadParameter(
            f"expected a positive number of GiB, received {excerpt(gib)}.",
            param_hint="--memory-budget",
        )
    return int(gib * 2**30)


def _image_size(text):
    """`--image-size HEIGHTxWIDTH` as `(height, width)`, or `None`."""
    if text is None:
        return None
    height, _, width = str(text).lower().partition("x")
    if not (height.isdigit() and width.isdigit()) or not (
        1 <= int(height) <= 4096 and 1 <= int(width) <= 4096
    ):
        raise click.BadParameter(
            f"expected HEIGHTxWIDTH of whole numbers from 1 to 4096, such as "
            f"64x64, received {excerpt(text)}.",
            param_hint="--image-size",
        )
    return int(height), int(width)


def _check_same_run(run_dir, requested):
    """Refuses to resume a run with other settings than it was started with."""
    from keras_nas.runs.run_directory import DATASET_FILE
    from keras_nas.runs.run_directory import SEARCH_FILE

    saved = {}
    for filename in (SEARCH_FILE, DATASET_FILE):
        path = os.path.join(run_dir, filename)
        if os.path.isfile(path):
            with open(path) as f:
                saved.update(json.load(f))
    for key, value in requested.items():
        if key in saved and saved[key] != value:
            raise click.UsageError(
                f"run {run_dir} was started with {key} {saved[key]!r}, not "
                f"{value!r}: pass the same settings with --resume, or --overwrite."
            )


def _check_same_files(run_dir, data):
    """Refuses to resume a run on a folder whose split reads other files."""
    from keras_nas.runs.run_directory import DATASET_FILE
    from keras_nas.runs.run_directory import changed_files

    path = os.path.join(run_dir, DATASET_FILE)
    if not os.path.isfile(path):
        return
    with open(path) as f:
        change = changed_files(json.load(f), data)
    if change:
        raise click.UsageError(
            f"run {run_dir} was started on other files: {change}; pass "
            "--overwrite to start it over on the folder as it is now."
        )


def _launch(distributed, settings, existing, overwrite):
    """Runs the same search as a chief and `workers` workers; returns the code.

    Every process reads the resolved settings from one temporary config file.
    """
    child = {k: v for k, v in settings.items() if k != "workers" and v is not None}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "search.json")
        with open(path, "w") as f:
            json.dump(child, f)
        command = [sys.executable, "-m", "keras_nas_cli.main", "run", "--config", path]
        if existing:
            command.append("--overwrite" if overwrite else "--resume")
        try:
            return distributed.launch(command, settings["workers"])
        except distributed.LaunchError as error:
            raise click.ClickException(str(error)) from None
