"""`keras-nas`: run a search, show a run, export its best model."""

import contextlib
import json
import os
import sys

import click
from keras_nas_cli.bench_command import bench
from keras_nas_cli.report_command import report
from keras_nas_cli.common import check_output_folder
from keras_nas_cli.common import echo_export
from keras_nas_cli.common import excerpt
from keras_nas_cli.common import import_keras_nas
from keras_nas_cli.common import lock_folder
from keras_nas_cli.common import split_list
from keras_nas_cli.finetune_command import finetune
from keras_nas_cli.run_command import run

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class OneLineErrors(click.Group):
    """A click group whose usage errors print one line, never a traceback.

    So does a file that cannot be written (a full disk): the line names the
    file and what to free (`keras_nas.write_errors.WriteError`), and after `run`
    says to pass `--resume`; the exit code is 1.
    """

    RESUMABLE = ("run",)
    """Commands that continue where they stopped with `--resume`."""

    invoked = None

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        self.invoked = name
        return name, command, rest

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        self.invoked = None
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
        except OSError as error:
            click.echo(f"Error: {self._os_error_line(error)}", err=True)
            sys.exit(1)

    def _os_error_line(self, error):
        # keras_nas.write_errors is loaded only if a command used it.
        write_errors = sys.modules.get("keras_nas.write_errors")
        if write_errors is not None and isinstance(error, write_errors.WriteError):
            then = "pass --resume to continue"
            return error.message(then=then if self.invoked in self.RESUMABLE else None)
        where = f"{error.filename}: " if error.filename else ""
        return " ".join(f"{where}{error.strerror or error}".split())


@click.group(cls=OneLineErrors)
@click.version_option(package_name="keras-nas")
def app():
    """Neural architecture search for Keras."""


@app.command()
@click.argument("run_dir", type=click.Path())
@click.option("--top", default=10, show_default=True, type=int,
              help="Rows of the leaderboard.")
@click.option("--columns", default="",
              help=("Further metrics to show, comma-separated: val_f1, "
                    "val_precision, val_recall, val_auc, flops, latency_ms, "
                    "throughput, model_bytes, train_seconds_per_epoch, ..."))
def show(run_dir, top, columns):
    """Show the leaderboard (Pareto fronts for several objectives) of RUN_DIR."""
    run_directory = _open_run(run_dir)
    columns = split_list(columns)
    known = run_directory.metric_names()
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise click.BadParameter(
            f"{excerpt(', '.join(unknown))} recorded by no trial of {run_dir}; "
            f"known columns: {', '.join(known) or 'none (no trial has ended)'}.",
            param_hint="--columns",
        )
    click.echo(run_directory.format_leaderboard(top, columns))
    _warn_missing_checkpoints(run_directory)
    if run_directory.dataset is not None:
        from keras_nas.runs.leaderboard import epochs_summary

        click.echo(epochs_summary(
            run_directory.trials, run_directory.search["max_trials"],
            run_directory.dataset["epochs"],
        ))
    rows = run_directory.leaderboard(1)
    if rows:
        click.echo("Best architecture:")
        click.echo(json.dumps(rows[0]["description"], indent=2))


@app.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", required=True, type=click.Path(),
              help="Folder to write the SavedModel to.")
@click.option("--overwrite", is_flag=True, help="Replace a previous export.")
@click.option("--select", "rule", default=None,
              help=("Which trial: 'val_accuracy, latency_ms<=5' takes the best "
                    "val_accuracy among those with latency_ms at most 5 "
                    "[default: the best by the first objective]."))
@click.option("--final-fit/--no-final-fit", default=False, show_default=True,
              help=("Train the exported architecture(s) again on train + "
                    "validation (runs of `keras-nas run`)."))
@click.option("--final-epochs", default=None, type=int,
              help="Epochs of the final fit [default: each trial's best].")
@click.option("--ensemble", default=1, show_default=True, type=int,
              help="Export an ensemble of up to this many trials (1: one model).")
def export(run_dir, out, overwrite, rule, final_fit, final_epochs, ensemble):
    """Export the best (or selected) model of RUN_DIR as a SavedModel."""
    for option, value in (("--final-epochs", final_epochs), ("--ensemble", ensemble)):
        if value is not None and value < 1:
            raise click.BadParameter(
                f"expected a positive integer, received {value}.", param_hint=option
            )
    run_directory = _open_run(run_dir)
    check_output_folder("--out", out)
    with contextlib.ExitStack() as locks:
        for folder in (run_dir, out):
            lock_folder(locks, folder, "keras-nas export")
        _export(run_directory, out, overwrite, rule, final_fit, final_epochs,
                ensemble)


def _export(run_directory, out, overwrite, rule, final_fit, final_epochs, ensemble):
    """Exports from a locked run folder into a locked export folder."""
    from keras_nas.runs.run_directory import export_trial

    run_dir = run_directory.path
    try:
        trial, reason = run_directory.select(rule)
    except ValueError as error:
        raise click.BadParameter(" ".join(str(error).split()),
                                 param_hint="--select") from None
    except RuntimeError as error:
        raise click.UsageError(str(error)) from None
    data = None
    if run_directory.dataset is not None:
        data = _run_data(run_directory)
    elif final_fit or ensemble > 1:
        raise click.UsageError(
            f"{run_dir} records no dataset (it was not made by `keras-nas run`), "
            "so --final-fit and --ensemble cannot train or choose on it."
        )
    try:
        model, figures = run_directory.final_model(
            rule, data, final_fit=final_fit, final_epochs=final_epochs,
            ensemble=ensemble,
        )
    except (RuntimeError, ValueError) as error:
        raise click.UsageError(" ".join(str(error).split())) from None
    click.echo(f"Selected {reason}")
    try:
        path = export_trial(
            model,
            trial,
            run_directory.objective,
            run_directory.describe(trial.hyperparameters.values),
            out,
            search=run_directory.search,
            x_test=None if data is None else data.x_test,
            y_test=None if data is None else data.y_test,
            overwrite=overwrite,
            task=run_directory.task,
            selection={"rule": rule, "reason": reason},
            figures=figures,
            members=run_directory.members(figures),
            front=run_directory.front,
        )
    except (FileExistsError, ValueError) as error:
        raise click.UsageError(str(error)) from None
    echo_export(path)


def _warn_missing_checkpoints(run_directory):
    """Says which completed trials lost their weights (they cannot be exported)."""
    missing = run_directory.missing_checkpoints()
    if missing:
        click.echo(
            f"Warning: the weights of trial(s) {', '.join(missing)} are missing "
            f"from {run_directory.path}; those trials cannot be exported.",
            err=True,
        )


def _run_data(run_directory):
    """The model inputs of a `keras-nas run`'s dataset, as the run cut them.

    Read with the run's recorded settings (modality, text column, image
    size, skipped files) and made model inputs by the run's own front.
    """
    from keras_nas.data import SearchData
    from keras_nas.data import load_dataset
    from keras_nas.runs.run_directory import changed_files

    task = run_directory.task
    dataset = run_directory.dataset
    options = {key: dataset[key] for key in (
        "test_fraction", "modality", "text_column", "skip_bad_files"
    ) if key in dataset}
    if dataset.get("image_size"):
        options["image_size"] = tuple(dataset["image_size"])
    splits = load_dataset(
        dataset["dataset"], seed=dataset["seed"],
        task=None if task is None else task.name, **options,
    )
    change = changed_files(dataset, splits)
    if change:
        raise click.UsageError(
            f"{run_directory.path} was searched on other files of "
            f"{dataset['dataset']}: {change}; the final fit and the ensemble "
            "need the run's own splits."
        )
    return SearchData.from_splits(splits, front=run_directory.front)


def _open_run(run_dir):
    import_keras_nas()
    from keras_nas.runs.run_directory import RunDirectory

    try:
        return RunDirectory(run_dir)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


app.add_command(run)
app.add_command(bench)
app.add_command(report)
app.add_command(finetune)


def main():
    """Entry point of the `keras-nas` console script."""
    app()


if __name__ == "__main__":
    main()
