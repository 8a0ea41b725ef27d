"""How many epochs a trial trains when the user does not say."""

import math

from keras_nas import validation

TARGET_STEPS = 400
"""The training steps (batches) a trial of the default run aims at."""
EPOCH_LIMITS = (10, 100)
"""The fewest and the most epochs of the default."""


def default_epochs(train_size, batch_size):
    """Epochs for about `TARGET_STEPS` steps, within `EPOCH_LIMITS`.

    Small data sets need many epochs to train at all: a UCR series set of
    55 training series makes 2 batches an epoch, so 10 epochs are 20 steps
    (`keras-nas run --space sequence` then served 0.49 test accuracy on
    Trace; with 200 epochs 0.99, but in 16 minutes here, so at most 100).
    Large ones reach the target within the fewest epochs.

    Args:
        train_size: Training examples.
        batch_size: Examples per step.

    Returns:
        An int.
    """
    steps = math.ceil(validation.check_positive_int("train_size", train_size)
                      / validation.check_positive_int("batch_size", batch_size))
    return int(min(EPOCH_LIMITS[1], max(EPOCH_LIMITS[0],
                                        math.ceil(TARGET_STEPS / steps))))
