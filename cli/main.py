"""`keras-nas`: run a search, show a run, export its best model."""

import json
import os
import sys

import click
from keras_nas_cli.bench_command import bench
from keras_nas_cli.common import echo_export
from keras_nas_cli.common import import_keras_nas
from keras_nas_cli.common import split_list
from keras_nas_cli.finetune_command import finetune
from keras_nas_cli.run_command import run

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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
    click.echo(run_directory.format_leaderboard(top, split_list(columns)))
    if run_directory.dataset is not None:
        from keras_nas.results import epochs_summary

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
def export(run_dir, out, overwrite, rule):
    """Export the best (or selected) model of RUN_DIR as a SavedModel."""
    run_directory = _open_run(run_dir)
    from keras_nas.runs import export_trial

    try:
        trial, reason = run_directory.select(rule)
        model = run_directory.load_model(trial)
    except ValueError as error:
        raise click.BadParameter(" ".join(str(error).split()),
                                 param_hint="--select") from None
    except RuntimeError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"Selected {reason}")
    x_test = y_test = None
    if run_directory.dataset is not None:
        from keras_nas.datasets import load_dataset

        task = run_directory.task
        data = load_dataset(
            run_directory.dataset["dataset"],
            seed=run_directory.dataset["seed"],
            task=None if task is None else task.name,
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
            task=run_directory.task,
            selection={"rule": rule, "reason": reason},
        )
    except (FileExistsError, ValueError) as error:
        raise click.UsageError(str(error)) from None
    echo_export(path)


def _open_run(run_dir):
    import_keras_nas()
    from keras_nas.runs import RunDirectory

    try:
        return RunDirectory(run_dir)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


app.add_command(run)
app.add_command(bench)
app.add_command(finetune)


def main():
    """Entry point of the `keras-nas` console script."""
    app()


if __name__ == "__main__":
    main()
