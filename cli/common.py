"""Helpers shared by the `keras-nas` commands."""

import contextlib
import importlib
import json
import os
import sys

import click


@contextlib.contextmanager
def stderr_silenced():
    """Hides what C++ code writes to fd 2 (TensorFlow's start-up log lines).

    The bench runner has its own copy: any module inside keras_nas imports
    TensorFlow with the package, so this one must live outside it.
    """
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


def import_keras_nas():
    """Imports keras_nas (and TensorFlow) without TensorFlow's start-up noise."""
    with stderr_silenced():
        return importlib.import_module("keras_nas")


def check_choice(option, value, choices):
    """Raises a `click.BadParameter` unless `value` is one of `choices`."""
    if value not in choices:
        raise click.BadParameter(
            f"{value!r} is not one of {', '.join(choices)}.", param_hint=option
        )


def echo_export(path):
    """Prints what was exported: final fits, ensemble members, figures.

    The figures are the exported model's validation and test figures and,
    when a final fit or an ensemble changed the model, the selected trial's
    own test figure (`trial_test_*`).
    """
    with open(os.path.join(path, "metrics.json")) as f:
        metrics = json.load(f)
    for record in metrics.get("final_fit") or []:
        click.echo(
            f"Final fit: trial {record['trial_id']}, {record['epochs']} epochs "
            f"on {record['samples']:,} samples (train + validation), seed "
            f"{record['seed']}, {record['seconds']:.1f} s"
        )
    ensemble = metrics.get("ensemble")
    if ensemble:
        members = ", ".join(
            f"trial {m['trial_id']} x{m['weight']:.2f}" for m in ensemble["members"]
        )
        click.echo(f"Ensemble of {len(ensemble['members'])}: {members}")
    keys = ("val_accuracy", "trial_test_accuracy", "test_accuracy")
    if metrics.get("task") == "regression":
        keys = ("val_loss", "trial_test_loss", "test_loss", "test_mae",
                "test_rmse", "test_r2")
    figures = ", ".join(
        f"{key} {metrics[key]:.4f}" for key in keys if key in metrics
    )
    click.echo(f"Exported the best model to {path} ({figures}).")


def excerpt(value, limit=60):
    """A value as an error message shows it: its `repr`, cut when long.

    Args:
        value: Anything a user gave (an option, a config file's value).
        limit: Characters kept before an ellipsis and the full length.

    Returns:
        At most about `limit + 30` characters.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def check_output_folder(option, path):
    """Refuses, before any work, an output folder that cannot be written.

    Raises:
        click.BadParameter: If `path` names a file or cannot be created.
    """
    from keras_nas.runs.output_paths import check_output_folder as check

    try:
        check(path)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None


def lock_folder(stack, folder, command):
    """Holds a folder's lock until `stack` closes; one line if another has it.

    Args:
        stack: A `contextlib.ExitStack` that releases the lock.
        folder: A run or export folder the command writes.
        command: The command, as a refused process will be told.

    Raises:
        click.UsageError: If another process holds the folder.
    """
    from keras_nas.runs.folder_lock import FolderLock
    from keras_nas.runs.folder_lock import FolderLockedError

    try:
        stack.enter_context(FolderLock(folder, command))
    except FolderLockedError as error:
        raise click.UsageError(str(error)) from None


def split_list(value):
    """The names of a comma-separated option (or a config file's list)."""
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    return [item.strip() for item in (value or "").split(",") if item.strip()]
