"""`keras-nas finetune`: adapt an exported model to new data."""

import click

from keras_nas_cli.common import check_choice
from keras_nas_cli.common import import_keras_nas


@click.command()
@click.argument("export_dir", type=click.Path())
@click.option("--dataset", required=True,
              help="The new data: digits, a .npz or .csv file, or tfds:NAME.")
@click.option("--mode", default="full", show_default=True,
              help=("full (every weight, lower learning rate), features (new "
                    "head on the frozen network) or lora (Keras LoRA, merged)."))
@click.option("--rank", default=8, show_default=True, type=int,
              help="Rank of the LoRA factors (--mode lora).")
@click.option("--epochs", default=30, show_default=True, type=int,
              help="Most epochs of each phase; early stopping on validation loss.")
@click.option("--unfreeze-top", is_flag=True,
              help="With --mode features, then train the top block too.")
@click.option("--batch-size", default=32, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the data split and of the new weights.")
@click.option("--out", required=True, type=click.Path(),
              help="Folder to write the fine-tuned SavedModel to.")
@click.option("--overwrite", is_flag=True, help="Replace a previous export.")
def finetune(export_dir, dataset, mode, rank, epochs, unfreeze_top, batch_size,
             seed, out, overwrite):
    """Fine-tune the model exported in EXPORT_DIR on new data and export it."""
    kn = import_keras_nas()
    from keras_nas.finetune import MODES
    from keras_nas.finetune import finetune as run_finetune

    check_choice("--mode", mode, MODES)

    try:
        data = kn.datasets.load_dataset(dataset, seed=seed)
    except ValueError as error:
        raise click.BadParameter(" ".join(str(error).split()),
                                 param_hint="--dataset") from None
    try:
        result = run_finetune(
            export_dir, data, out, mode=mode, rank=rank, epochs=epochs,
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
    click.echo(
        f"Fine-tuned ({mode}): {result.trainable_params:,} trainable "
        f"parameters, {result.seconds:.1f} s, {figures}."
    )
    click.echo(f"Exported to {result.path}.")
