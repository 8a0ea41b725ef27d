"""TensorFlow's gradient registry, which keeps every traced train step alive."""

import contextlib

from keras_nas import compat

_CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


@contextlib.contextmanager
def release_custom_gradients():
    """Forgets the custom gradients registered while the block runs.

    In graph mode (inside `tf.function`), `tf.custom_gradient` registers its
    gradient function under a unique name in TensorFlow's global gradient
    registry and never removes it; the function holds the traced graph, so
    the graph outlives its model. Keras's TensorFlow optimizer calls the
    distribution strategy's `all_reduce`, which uses `tf.custom_gradient`,
    in every traced train step, so each trained model leaks its training
    graph. A registration is only looked up while the gradient of the
    traced step is built, during tracing: dropping it afterwards is safe
    for training (a model that trains again reuses its traced step, or
    registers anew when it retraces). Only code that differentiates an
    already traced function again, from outside, would miss it.

    Example:

    ```python
    with release_custom_gradients():
        model = space.build(hp)
        model.fit(x, y, epochs=1)
    ```
    """
    registry = compat.gradient_registry()
    before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - before:
            if str(name).startswith(_CUSTOM_GRADIENT_PREFIX):
                registry.pop(name, None)
