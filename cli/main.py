"""`keras-nas`: run a search, show a run, export its best model."""

import contextlib
import importlib
import json
import os
import sys

import click
from keras_nas_cli.bench_command import bench

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

OBJECTIVES = ("val_accuracy", "val_loss", "accuracy", "loss")


class OneLineErrors(click.Group):
    """A click group whose usage errors print one line, never a traceback."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)


@contextlib.contextmanager
def _stderr_silenced():
    """Hides what C++ code writes to fd 2 (TensorFlow's start-up log lines)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_keras_nas():
    """Imports keras_nas (and TensorFlow) without TensorFlow's start-up noise."""
    with _stderr_silenced():
        return importlib.import_module("keras_nas")


def _strategy_names():
    return sorted(_import_keras_nas().oracles.STRATEGIES)


def _space_names():
    return sorted(_import_keras_nas().spaces.SPACES)


def _check_choice(option, value, choices):
    if value not in choices:
        raise click.BadParameter(
            f"{value!r} is not one of {', '.join(choices)}.", param_hint=option
        )


@click.group(cls=OneLineErrors)
@click.version_option(package_name="keras-nas")
def app():
    """Neural architecture search for Keras."""


@app.command()
@click.option("--dataset", default="digits", show_default=True,
              help="digits, tfds:NAME[:SPLIT], or a .npz (x, y) / .csv file.")
@click.option("--space", default="convnet", show_default=True,
              help="Search space: mlp, convnet or nb201.")
@click.option("--strategy", default="random", show_default=True,
              help=("Search strategy: random, grid, evolution, genetic, neat, "
                    "bayesian, dls, reinforce or q_learning."))
@click.option("--max-trials", default=10, show_default=True, type=int,
              help="Architectures to try.")
@click.option("--epochs", default=10, show_default=True, type=int,
              help="Training epochs per trial.")
@click.option("--batch-size", default=32, show_default=True, type=int)
@click.option("--objective", default="val_accuracy", show_default=True,
              help="Metric to optimise: " + ", ".join(OBJECTIVES) + ".")
@click.option("--directory", default="runs", show_default=True,
              help="Folder holding runs.")
@click.option("--name", default=None,
              help="Run name [default: DATASET-SPACE-STRATEGY].")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--export-dir", default="saved_models", show_default=True,
              help="The best model is exported to EXPORT_DIR/NAME.")
@click.option("--overwrite/--resume", default=None,
              help="Start an existing run over, or continue it.")
def run(dataset, space, strategy, max_trials, epochs, batch_size, objective,
        directory, name, seed, export_dir, overwrite):
    """Search a space on a dataset and export the best model."""
    _check_choice("--strategy", strategy, _strategy_names())
    _check_choice("--space", space, _space_names())
    _check_choice("--objective", objective, OBJECTIVES)
    for option, value in (("--max-trials", max_trials), ("--epochs", epochs),
                          ("--batch-size", batch_size)):
        if value < 1:
            raise click.BadParameter(
                f"expected a positive integer, received {value}.", param_hint=option
            )
    name = name or _default_name(dataset, space, strategy)
    run_dir = os.path.join(directory, name)
    existing = os.path.isfile(os.path.join(run_dir, "oracle.json"))
    if existing and overwrite is None:
        raise click.UsageError(
            f"run {run_dir} exists: pass --resume to continue it or "
            "--overwrite to start over."
        )
    from keras_nas import NASTuner
    from keras_nas.datasets import load_dataset
    from keras_nas.spaces import get_space

    try:
        data = load_dataset(dataset, seed=seed)
        search_space = get_space(space, data.input_shape, data.num_classes)
    except (ValueError, FileNotFoundError) as error:
        raise click.UsageError(str(error)) from None
    if existing and not overwrite:
        _check_same_run(
            run_dir,
            {"dataset": dataset, "seed": seed, "space": space, "strategy": strategy},
        )
    click.echo(data.summary())
    tuner = NASTuner(
        search_space,
        strategy=strategy,
        objective=objective,
        max_trials=max_trials,
        seed=seed,
        directory=directory,
        project_name=name,
        overwrite=bool(overwrite),
    )
    _write_dataset_file(run_dir, dataset, seed, epochs, batch_size)
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=batch_size,
    )
    tuner.results_summary()
    path = tuner.export(
        os.path.join(export_dir, name),
        x_test=data.x_test,
        y_test=data.y_test,
        overwrite=True,
    )
    _echo_export(path)


@app.command()
@click.argument("run_dir", type=click.Path())
@click.option("--top", default=10, show_default=True, type=int,
              help="Rows of the leaderboard.")
def show(run_dir, top):
    """Show the leaderboard and best architecture of RUN_DIR."""
    run_directory = _open_run(run_dir)
    click.echo(run_directory.format_leaderboard(top))
    rows = run_directory.leaderboard(1)
    if rows:
        click.echo("Best architecture:")
        click.echo(json.dumps(rows[0]["description"], indent=2))


@app.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", required=True, type=click.Path(),
              help="Folder to write the SavedModel to.")
@click.option("--overwrite", is_flag=True, help="Replace a previous export.")
def export(run_dir, out, overwrite):
    """Export the best model of RUN_DIR as a SavedModel."""
    run_directory = _open_run(run_dir)
    from keras_nas.runs import export_trial

    try:
        trial = run_directory.best_trial()
        model = run_directory.load_model(trial)
    except RuntimeError as error:
        raise click.UsageError(str(error)) from None
    x_test = y_test = None
    if run_directory.dataset is not None:
        from keras_nas.datasets import load_dataset

        data = load_dataset(
            run_directory.dataset["dataset"], seed=run_directory.dataset["seed"]
        )
        x_test, y_test = data.x_test, data.y_test
    try:
        path = export_trial(
            model,
            trial,
            run_directory.objective,
            run_directory.describe(trial.hyperparameters.values),
            out,
            search=run_directory.search,
            x_test=x_test,
            y_test=y_test,
            overwrite=overwrite,
        )
    except (FileExistsError, ValueError) as error:
        raise click.UsageError(str(error)) from None
    _echo_export(path)


def _open_run(run_dir):
    _import_keras_nas()
    from keras_nas.runs import RunDirectory

    try:
        return RunDirectory(run_dir)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _default_name(dataset, space, strategy):
    label = os.path.splitext(os.path.basename(dataset.replace(":", "-")))[0]
    return f"{label}-{space}-{strategy}"


def _write_dataset_file(run_dir, dataset, seed, epochs, batch_size):
    from keras_nas.runs import DATASET_FILE

    settings = {"dataset": dataset, "seed": seed, "epochs": epochs,
                "batch_size": batch_size}
    with open(os.path.join(run_dir, DATASET_FILE), "w") as f:
        json.dump(settings, f, indent=2)


def _check_same_run(run_dir, requested):
    """Refuses to resume a run with other settings than it was started with."""
    from keras_nas.runs import DATASET_FILE
    from keras_nas.runs import SEARCH_FILE

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


def _echo_export(path):
    with open(os.path.join(path, "metrics.json")) as f:
        metrics = json.load(f)
    figures = ", ".join(
        f"{key} {metrics[key]:.4f}"
        for key in ("val_accuracy", "test_accuracy")
        if key in metrics
    )
    click.echo(f"Exported the best model to {path} ({figures}).")


app.add_command(bench)


def main():
    """Entry point of the `keras-nas` console script."""
    app()


if __name__ == "__main__":
    main()
