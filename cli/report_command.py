"""`keras-nas report`: one HTML page about a run folder."""

import contextlib
import os

import click

from keras_nas_cli.common import check_output_folder
from keras_nas_cli.common import import_keras_nas
from keras_nas_cli.common import lock_folder


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", default=None, type=click.Path(),
              help="Folder to write report.html to [default: RUN_DIR].")
def report(run_dir, out):
    """Write an HTML report of RUN_DIR (finished or not): leaderboard, plots,
    the best architecture and what the strategy learnt."""
    if not os.path.isdir(run_dir):
        raise click.BadParameter(f"{run_dir!r} is not a folder.",
                                 param_hint="RUN_DIR")
    kn = import_keras_nas()
    from keras_nas.runs.run_directory import SEARCH_FILE

    if not os.path.isfile(os.path.join(run_dir, SEARCH_FILE)):
        raise click.BadParameter(
            f"{run_dir!r} is not a keras-nas run folder (it has no {SEARCH_FILE}).",
            param_hint="RUN_DIR",
        )
    check_output_folder("--out", run_dir if out is None else out)
    try:
        with contextlib.ExitStack() as locks:
            lock_folder(locks, run_dir if out is None else out, "keras-nas report")
            path = kn.report(run_dir, out)
    except ValueError as error:
        raise click.BadParameter(" ".join(str(error).split()),
                                 param_hint="RUN_DIR") from None
    click.echo(f"Wrote {path}")
