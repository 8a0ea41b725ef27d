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


def split_list(value):
    """The names of a comma-separated option (or a config file's list)."""
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    return [item.strip() for item in (value or "").split(",") if item.strip()]
