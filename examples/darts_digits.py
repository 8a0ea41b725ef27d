"""DARTS on the bundled digits: one-shot search of a NB201 cell, then export.

Run: python examples/darts_digits.py

The same search from the terminal:

    keras-nas run --space nb201 --strategy darts --epochs 10
"""

import json

import keras
import tensorflow as tf

import keras_nas as kn
from keras_nas.darts import DartsSearch


def main():
    data = kn.data.load_dataset("digits", seed=1)
    space = kn.spaces.NB201Cell(data.input_shape, data.num_classes)

    # Network weights learn on the training split, architecture logits on
    # the validation split; the collapse guard is on by default. The search's
    # seed covers its logits and data shuffles; the global seed, its initial
    # weights (as NASTuner does for a seeded search).
    keras.utils.set_random_seed(1)
    search = DartsSearch(space, seed=1)
    search.fit(
        data.x_train,
        data.y_train,
        data.x_val,
        data.y_val,
        epochs=10,
        batch_size=32,
        verbose=2,
    )
    print(json.dumps(search.alphas(), indent=1))
    print("derived cell:", search.describe()["arch_str"])

    # The derived cell, built by space.build(hp) and trained from scratch.
    model = search.retrain(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=10,
    )
    path = search.export(
        model,
        "saved_models/example-darts",
        x_test=data.x_test,
        y_test=data.y_test,
        overwrite=True,
    )
    loaded = tf.saved_model.load(str(path))
    predictions = loaded.serve(data.x_test).numpy().argmax(axis=1)
    print(f"SavedModel test accuracy: {(predictions == data.y_test).mean():.4f}")


if __name__ == "__main__":
    main()
