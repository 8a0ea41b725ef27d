"""Custom Keras layers used by the built-in spaces."""

import keras


@keras.saving.register_keras_serializable(package="keras_nas")
class Zeros(keras.layers.Layer):
    """Outputs zeros shaped like its input: the `none` operation of a cell.

    Example:

    ```python
    y = Zeros()(x)  # same shape and dtype as x, all zeros
    ```
    """

    def call(self, inputs):
        return keras.ops.zeros_like(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape
