"""Search ConvNet architectures on the bundled digits data and export the best.

Run: python examples/search_digits.py
"""

import tensorflow as tf

import keras_nas as kn


def main():
    data = kn.data.load_dataset("digits", seed=1)
    space = kn.spaces.ConvNet(
        input_shape=data.input_shape, num_classes=data.num_classes, max_blocks=3
    )
    tuner = kn.NASTuner(
        space,
        strategy="random",
        max_trials=5,
        directory="runs",
        project_name="example-digits",
        overwrite=True,
        seed=1,
    )
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=5,
    )
    tuner.results_summary()
    path = tuner.export(
        "saved_models/example-digits",
        x_test=data.x_test,
        y_test=data.y_test,
        overwrite=True,
    )
    loaded = tf.saved_model.load(str(path))
    predictions = loaded.serve(data.x_test).numpy().argmax(axis=1)
    print(f"SavedModel test accuracy: {(predictions == data.y_test).mean():.4f}")


if __name__ == "__main__":
    main()
