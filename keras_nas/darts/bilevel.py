"""The DARTS architecture gradient, first and second order, and paired data.

Both gradients are pure functions of tensors: `loss_fn(weights, alphas, x,
y)` evaluates the supernet's loss with the given network weights and
architecture logits (no variable is assigned), so they run unchanged in a
replica context of `tf.distribute` and can be checked against finite
differences.
"""

import tensorflow as tf

from keras_nas import validation

HESSIAN_RADIUS = 0.01
"""DARTS's finite-difference radius: `eps = 0.01 / ||grad_w' L_val||`."""


def first_order_gradient(loss_fn, weights, alphas, val_batch):
    """The first-order DARTS architecture gradient, `grad_alpha L_val(w, alpha)`.

    Args:
        loss_fn: `loss_fn(weights, alphas, x, y) -> (loss, y_pred)`.
        weights: List of network weight tensors `w`.
        alphas: List of architecture logit tensors, one per decision.
        val_batch: The validation batch `(x, y)`.

    Returns:
        `(gradients, loss, y_pred)`: one gradient per alpha, the validation
        loss and predictions.
    """
    with tf.GradientTape() as tape:
        tape.watch(alphas)
        loss, y_pred = loss_fn(weights, alphas, *val_batch)
    gradients = tape.gradient(
        loss, alphas, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return gradients, loss, y_pred


def second_order_gradient(
    loss_fn,
    weights,
    alphas,
    train_batch,
    val_batch,
    xi,
    reduce_fn=None,
    radius=HESSIAN_RADIUS,
):
    """The second-order (unrolled) DARTS architecture gradient.

    With the one-step unrolled weights `w' = w - xi * grad_w L_train(w,
    alpha)` (a plain SGD step, without momentum or weight decay), the
    gradient of `L_val(w', alpha)` with respect to `alpha` is approximated
    as in Liu et al. (2019), eq. 7-8:

        grad_alpha L_val(w', alpha)
          - xi * (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha))
                 / (2 * eps),

    where `w+- = w +- eps * grad_w' L_val(w', alpha)` and
    `eps = radius / ||grad_w' L_val(w', alpha)||` (DARTS: `radius = 0.01`).
    The central difference is exact up to `O(radius**2)` on smooth losses;
    ReLU kinks and batch norm over few samples make it coarser.

    Args:
        loss_fn: `loss_fn(weights, alphas, x, y) -> (loss, y_pred)`.
        weights: List of network weight tensors `w`.
        alphas: List of architecture logit tensors, one per decision.
        train_batch: The training batch `(x, y)`.
        val_batch: The validation batch `(x, y)`.
        xi: The unrolled step's learning rate.
        reduce_fn: Optional function applied to the two weight gradients
            (`grad_w L_train` and `grad_w' L_val`) before use, e.g. an
            all-reduce mean across replicas; identity when None.
        radius: Norm of the weight perturbation of the finite difference.

    Returns:
        `(gradients, loss, y_pred)`: one gradient per alpha, and the
        validation loss and predictions at `w'`.
    """
    reduce_fn = reduce_fn or (lambda gradients: gradients)
    zero = tf.UnconnectedGradients.ZERO
    with tf.GradientTape() as tape:
        tape.watch(weights)
        train_loss, _ = loss_fn(weights, alphas, *train_batch)
    train_grads = reduce_fn(
        tape.gradient(train_loss, weights, unconnected_gradients=zero)
    )
    unrolled = [w - xi * g for w, g in zip(weights, train_grads)]

    with tf.GradientTape() as tape:
        tape.watch(unrolled)
        tape.watch(alphas)
        val_loss, y_pred = loss_fn(unrolled, alphas, *val_batch)
    alpha_grads, unrolled_grads = tape.gradient(
        val_loss, (alphas, unrolled), unconnected_gradients=zero
    )
    unrolled_grads = reduce_fn(unrolled_grads)

    norm = tf.linalg.global_norm(unrolled_grads)
    eps = radius / tf.maximum(norm, tf.cast(1e-12, norm.dtype))
    plus = [w + eps * v for w, v in zip(weights, unrolled_grads)]
    minus = [w - eps * v for w, v in zip(weights, unrolled_grads)]
    plus = _train_alpha_gradient(loss_fn, plus, alphas, train_batch)
    minus = _train_alpha_gradient(loss_fn, minus, alphas, train_batch)
    gradients = [
        g - xi * (p - m) / (2.0 * eps) for g, p, m in zip(alpha_grads, plus, minus)
    ]
    return gradients, val_loss, y_pred


def _train_alpha_gradient(loss_fn, weights, alphas, train_batch):
    with tf.GradientTape() as tape:
        tape.watch(alphas)
        loss, _ = loss_fn(weights, alphas, *train_batch)
    return tape.gradient(
        loss, alphas, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )


def replica_mean(values):
    """Averages a list of tensors across replicas (identity with one replica).

    Usable in a `tf.distribute` replica context (inside `train_step`) and in
    the default strategy's context.
    """
    context = tf.distribute.get_replica_context()
    if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return list(values)
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, list(values))


def paired_dataset(
    x_train, y_train, x_val, y_val, batch_size=32, seed=None, shuffle=True
):
    """Pairs every training batch with a validation batch, for `model.fit`.

    One epoch is `ceil(len(x_train) / batch_size)` steps, each with a full
    training batch and a full validation batch. Both splits are streamed
    pass after pass (reshuffled on every pass when `shuffle`), so an epoch
    holds every training example once and, when the split does not fill
    its last batch, tops that batch up from the start of the next pass
    (`batch_size - len(x_train) % batch_size` examples seen twice). Every
    batch therefore has the same static shape: the bilevel step is traced
    once, for that shape, and TensorFlow optimises its graph for it (on the
    bundled digits this saves about 2 s of the first epoch against a
    variable batch size).

    Args:
        x_train: Training inputs, a NumPy array.
        y_train: Training labels.
        x_val: Validation inputs (the architecture's training data).
        y_val: Validation labels.
        batch_size: Size of both batches.
        seed: Optional seed of the shuffles.
        shuffle: Whether to shuffle both splits on every pass.

    Returns:
        A `tf.data.Dataset` of `((x_train, y_train), (x_val, y_val))` batches,
        one epoch long.

    Raises:
        ValueError: If a split is empty or its inputs and labels differ in
            length, or `batch_size` is not a positive integer.
    """
    validation.check_positive_int("batch_size", batch_size)
    _check_split("x_train", x_train, "y_train", y_train)
    _check_split("x_val", x_val, "y_val", y_val)
    steps = -(-len(x_train) // batch_size)
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    val = tf.data.Dataset.from_tensor_slices((x_val, y_val))
    if shuffle:
        train = train.shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
        val = val.shuffle(
            len(x_val),
            seed=None if seed is None else seed + 1,
            reshuffle_each_iteration=True,
        )
    train = train.repeat().batch(batch_size, drop_remainder=True)
    val = val.repeat().batch(batch_size, drop_remainder=True)
    return tf.data.Dataset.zip((train, val)).take(steps).prefetch(tf.data.AUTOTUNE)


def _check_split(x_name, x, y_name, y):
    x_len = len(x) if hasattr(x, "__len__") else None
    y_len = len(y) if hasattr(y, "__len__") else None
    if not x_len:
        raise ValueError(
            f"Received an invalid value for `{x_name}`, expected a non-empty "
            f"array. Received: {x_name} of length {x_len}"
        )
    if x_len != y_len:
        raise ValueError(
            f"Received an invalid value for `{y_name}`, expected "
            f"{x_len} labels, one per row of `{x_name}`. Received: "
            f"{y_name} of length {y_len}"
        )
