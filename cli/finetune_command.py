"""`keras-nas finetune`: adapt an exported model to new data."""

import contextlib

import click

from keras_nas_cli.common import check_choice
from keras_nas_cli.common import check_output_folder
from keras_nas_cli.common import import_keras_nas
from keras_nas_cli.common import lock_folder


@click.command()
@click.argument("export_dir", type=click.Path())
@click.option("--dataset", required=True,
              help="The new data: digits, a .npz or .csv file, or tfds:NAME.")
@click.option("--mode", default="full", show_default=True,
              help=("full (every weight), features (new head on the frozen "
                    "network; --unfreeze-top then trains its top block too) "
                    "or lora (Keras LoRA, merged)."))
@click.option("--rank", default=8, show_default=True, type=int,
              help="Rank of the LoRA factors (--mode lora).")
@click.option("--steps", default=None, type=int,
              help=("Most optimisation steps of each phase. A phase validates "
                    "every 10 steps (or epoch, if longer), stops once 200 "
                    "steps are done and 200 have brought no better "
                    "validation loss, and keeps its best weights  "
                    "[default: 1000]"))
@click.option("--epochs", default=None, type=int,
              help=("Most passes over the training data in each phase, a cap "
                    "on --steps  [default: none]"))
@click.option("--learning-rate", default=None, type=float,
              help=("Adam learning rate of every phase  [default: 1e-3 full, "
                    "1e-2 features, then 1e-3 its top block, 1e-3 lora]"))
@click.option("--unfreeze-top", is_flag=True,
              help="With --mode features, then train the top block too.")
@click.option("--batch-size", default=32, show_default=True, type=int)
@click.option("--validation-fraction", default=0.2, show_default=True,
              type=float,
              help=("Share of each class of --dataset held out to stop early "
                    "and keep the best weights."))
@click.option("--test-fraction", default=0.2, show_default=True, type=float,
              help=("Share of each class of --dataset held out and only "
                    "scored (test_accuracy); the rest trains."))
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the data split and of the new weights.")
@click.option("--out", required=True, type=click.Path(),
              help="Folder to write the fine-tuned SavedModel to.")
@click.option("--overwrite", is_flag=True, help="Replace a previous export.")
def finetune(export_dir, dataset, mode, rank, steps, epochs, learning_rate,
             unfreeze_top, batch_size, validation_fraction, test_fraction, seed,
             out, overwrite):
    """Fine-tune the model exported in EXPORT_DIR on new data and export it."""
    kn = import_keras_nas()
    from keras_nas.runs.finetune import MODES
    from keras_nas.runs.finetune import finetune as run_finetune

    check_choice("--mode", mode, MODES)
    check_output_folder("--out", out)

    try:
        data = kn.data.load_dataset(
            dataset, seed=seed, validation_fraction=validation_fraction,
            test_fraction=test_fraction,
        )
    except ValueError as error:
        message = " ".join(str(error).split())
        hint = next((f"--{name.replace('_', '-')}" for name in (
            "validation_fraction", "test_fraction") if f"`{name}`" in message),
            "--dataset")
        raise click.BadParameter(message, param_hint=hint) from None
    try:
        with contextlib.ExitStack() as locks:
            lock_folder(locks, out, "keras-nas finetune")
            result = run_finetune(
                export_dir, data, out, mode=mode, rank=rank, steps=steps,
                epochs=epochs, learning_rate=learning_rate,
                unfreeze_top=unfreeze_top, batch_size=batch_size, seed=seed,
                overwrite=overwrite,
            )
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        hint = "--dataset" if "`data`" in str(error) else None
        message = " ".join(str(error).split())
        if hint is None:
            raise click.UsageError(message) from None
        raise click.BadParameter(message, param_hint=hint) from None
    figures = ", ".join(
        f"{key} {result.metrics[key]:.4f}"
        for key in ("val_accuracy", "test_accuracy", "test_loss")
        if key in result.metrics
    )
    steps = "+".join(map(str, result.metrics["steps_trained"]))
    best = ", ".join(map(str, result.metrics["best_step"]))
    click.echo(
        f"Fine-tuned ({mode}): {result.trainable_params:,} trainable "
        f"parameters, {steps} steps (best at {best}), {result.seconds:.1f} s, "
        f"{figures}."
    )
    click.echo(f"Exported to {result.path}.")
