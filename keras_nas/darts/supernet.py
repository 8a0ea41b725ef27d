"""`DartsSupernet`: the one-shot model and its bilevel `train_step`."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_nas import validation
from keras_nas.darts import bilevel
from keras_nas.darts.networks import build_network
from keras_nas.darts.networks import supernet_spec


class DartsSupernet(keras.Model):
    """A supernet whose architecture logits are trained by `model.fit`.

    The model owns one logit vector `alpha` per decision (non-trainable
    Keras variables, so neither the network optimizer nor `fit`'s defaults
    touch them) and wraps the functional `network`, which takes the images
    and one `softmax(alpha)` per decision. `train_step` takes a pair of
    batches `((x_train, y_train), (x_val, y_val))` (see
    `keras_nas.darts.paired_dataset`, which gives every step full batches
    of one static shape) and makes, as in DARTS:

    1. one architecture step on the validation batch: the first-order
       (`order=1`) or unrolled second-order (`order=2`) gradient of the
       validation loss with respect to `alpha`, plus `arch_weight_decay *
       alpha` (PyTorch-style L2, as in DARTS), applied by `arch_optimizer`;
    2. one network step on the training batch, applied by `optimizer`.

    The loss and metrics are the task's (`keras_nas.tasks`: cross-entropy
    and accuracy for classification, mean squared error, MAE, RMSE and R²
    for regression). Logs: `loss` and the metrics of the network steps,
    `val_loss` and `val_` metrics of the architecture steps (at the unrolled
    weights when `order=2`, in training mode). `evaluate` and
    `validation_data` take plain `(x, y)` batches and report `loss` and the
    metrics in inference mode.

    Under `tf.distribute`, each replica computes its gradients on its shard;
    the weight gradients inside the unrolled step are averaged across
    replicas first (`replica_mean`), and the final gradients are scaled by
    `1 / num_replicas` for the optimizers' cross-replica sum, so the update
    is that of the global batch. No Python state changes inside a step.

    Args:
        network: The functional network from
            `keras_nas.darts.networks.build_network`.
        spec: Its `keras_nas.spaces.SupernetSpec`.
        task: The space's `keras_nas.tasks.Task`: the loss and metrics.
        order: 1 for first-order DARTS, 2 for the unrolled second order.
        arch_weight_decay: L2 coefficient added to the architecture
            gradient.
        unrolled_learning_rate: `xi` of the unrolled step (`order=2`); None
            uses the network optimizer's current learning rate, as DARTS.
        hessian_radius: Weight-space radius of the finite-difference
            Hessian-vector product (`order=2`); DARTS uses 0.01.
        alpha_stddev: Standard deviation of the logits' normal initializer.
        seed: Optional seed of the logits' initializer.
        **kwargs: Base `keras.Model` arguments (`name`).
    """

    def __init__(
        self,
        network,
        spec,
        task,
        order=1,
        arch_weight_decay=1e-3,
        unrolled_learning_rate=None,
        hessian_radius=bilevel.HESSIAN_RADIUS,
        alpha_stddev=1e-3,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.order = check_order(order)
        self.arch_weight_decay = validation.check_non_negative_float(
            "arch_weight_decay", arch_weight_decay
        )
        if unrolled_learning_rate is not None:
            validation.check_positive_float(
                "unrolled_learning_rate", unrolled_learning_rate
            )
        self.unrolled_learning_rate = unrolled_learning_rate
        self.hessian_radius = validation.check_positive_float(
            "hessian_radius", hessian_radius
        )
        alpha_stddev = validation.check_non_negative_float("alpha_stddev", alpha_stddev)
        self.network = network
        self.spec = spec
        self.decisions = dict(spec.decisions)
        self.alpha_variables = [
            self.add_weight(
                name=f"alpha_{name}",
                shape=(len(operations),),
                initializer=keras.initializers.RandomNormal(
                    stddev=alpha_stddev,
                    seed=None if seed is None else seed + index,
                ),
                trainable=False,
            )
            for index, (name, operations) in enumerate(self.decisions.items())
        ]
        self.arch_optimizer = None
        self.task = task
        self._train_metrics = [keras.metrics.Mean(name="loss"), *task.make_metrics()]
        self._val_metrics = [
            keras.metrics.Mean(name="val_loss"), *task.make_metrics("val_")
        ]
        self.built = True

    @property
    def network_variables(self):
        """The network's trainable weights (everything but the logits)."""
        return self.network.trainable_variables

    @property
    def arch_variables(self):
        """The architecture logits, one variable per decision."""
        return list(self.alpha_variables)

    @property
    def metrics(self):
        return self._train_metrics + self._val_metrics

    def compile(self, optimizer, arch_optimizer, **kwargs):
        """Configures the two optimizers (no loss or metrics: they are fixed).

        Args:
            optimizer: The network weights' optimizer.
            arch_optimizer: The architecture logits' optimizer.
            **kwargs: Other `keras.Model.compile` arguments
                (`steps_per_execution`, `run_eagerly`); `jit_compile`
                defaults to False.
        """
        for name in ("loss", "metrics", "loss_weights", "weighted_metrics"):
            if name in kwargs:
                raise ValueError(
                    f"Received an invalid value for `{name}`, expected none: "
                    "the supernet's loss and metrics are its task's. "
                    f"Received: {name}={kwargs[name]!r}"
                )
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer, **kwargs)
        self.arch_optimizer = keras.optimizers.get(arch_optimizer)
        self.optimizer.build(self.network_variables)
        self.arch_optimizer.build(self.arch_variables)

    def call(self, inputs, training=None):
        return self.network(
            self._network_inputs(inputs, self.alpha_variables), training=training
        )

    def batch_loss(self, weights, alphas, x, y):
        """The mean loss on a batch, for given network weights and logits.

        A pure function (batch normalisation in training mode, its moving
        statistics left unchanged): the `loss_fn` of the architecture
        gradients.

        Args:
            weights: Tensors in the order of `network_variables`.
            alphas: Tensors in the order of `arch_variables`.
            x: Input batch.
            y: Integer labels.

        Returns:
            `(loss, y_pred)`.
        """
        non_trainable = [_read(v) for v in self.network.non_trainable_variables]
        y_pred, _ = self.network.stateless_call(
            list(weights),
            non_trainable,
            self._network_inputs(x, alphas),
            training=True,
        )
        return self._mean_loss(y, y_pred), y_pred

    def arch_gradients(self, train_batch, val_batch):
        """The architecture gradient of `order` at the current weights.

        Args:
            train_batch: `(x, y)` training batch (used when `order=2`).
            val_batch: `(x, y)` validation batch.

        Returns:
            `(gradients, val_loss, val_pred)`, one gradient per decision, in
            the order of `arch_variables`, without weight decay.
        """
        weights = [_read(v) for v in self.network_variables]
        alphas = [_read(a) for a in self.alpha_variables]
        if self.order == 1:
            return bilevel.first_order_gradient(
                self.batch_loss, weights, alphas, tuple(val_batch)
            )
        return bilevel.second_order_gradient(
            self.batch_loss,
            weights,
            alphas,
            tuple(train_batch),
            tuple(val_batch),
            xi=self._xi(alphas[0].dtype),
            reduce_fn=bilevel.replica_mean,
            radius=self.hessian_radius,
        )

    def train_step(self, data):
        train_batch, val_batch = data
        scale = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync

        alphas = [_read(a) for a in self.alpha_variables]
        arch_grads, val_loss, val_pred = self.arch_gradients(train_batch, val_batch)
        arch_grads = [
            (g + self.arch_weight_decay * a) * scale for g, a in zip(arch_grads, alphas)
        ]
        self.arch_optimizer.apply_gradients(zip(arch_grads, self.alpha_variables))

        x, y = train_batch
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self._mean_loss(y, y_pred)
            scaled_loss = loss * scale
        grads = tape.gradient(scaled_loss, self.network_variables)
        self.optimizer.apply_gradients(zip(grads, self.network_variables))

        _update(self._train_metrics, loss, y, y_pred)
        _update(self._val_metrics, val_loss, val_batch[1], val_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        _update(self._train_metrics, self._mean_loss(y, y_pred), y, y_pred)
        return {m.name: m.result() for m in self._train_metrics}

    def get_alphas(self):
        """The architecture logits, JSON-safe: `{decision: [logit, ...]}`."""
        return {
            name: [float(v) for v in ops.convert_to_numpy(variable)]
            for name, variable in zip(self.decisions, self.alpha_variables)
        }

    def set_alphas(self, alphas):
        """Assigns architecture logits, e.g. from `get_alphas()` on resume.

        Args:
            alphas: Dict from every decision to its logits, one per
                operation.

        Raises:
            ValueError: If a decision is missing or unknown, or its logits
                have the wrong length.
        """
        if not isinstance(alphas, dict) or set(alphas) != set(self.decisions):
            raise ValueError(
                "Received an invalid value for `alphas`, expected a dict with "
                f"the decisions {list(self.decisions)}. Received: alphas={alphas!r}"
            )
        for name, variable in zip(self.decisions, self.alpha_variables):
            values = np.asarray(alphas[name], dtype=variable.dtype)
            if values.shape != tuple(variable.shape):
                raise ValueError(
                    f"Received an invalid value for `alphas[{name!r}]`, expected "
                    f"{variable.shape[0]} logits, one per operation of "
                    f"{list(self.decisions[name])}. Received: "
                    f"alphas[{name!r}]={alphas[name]!r}"
                )
            variable.assign(values)

    def _network_inputs(self, x, alphas):
        batch = ops.shape(x)[0]
        weights = []
        for alpha in alphas:
            # softmax(alpha), written out: Keras warns on a one-operation axis.
            exp = ops.exp(alpha - ops.max(alpha))
            row = ops.expand_dims(exp / ops.sum(exp), 0)
            weights.append(ops.broadcast_to(row, (batch, row.shape[1])))
        return [x, *weights]

    def _mean_loss(self, y, y_pred):
        return ops.mean(self.task.loss_fn(y, y_pred))

    def _xi(self, dtype):
        if self.unrolled_learning_rate is not None:
            return tf.cast(self.unrolled_learning_rate, dtype)
        return tf.cast(self.optimizer.learning_rate, dtype)


def build_supernet(space, order=1, fixed=None, seed=None, affine=False, **kwargs):
    """Builds the uncompiled `DartsSupernet` of a `NB201Cell` or `ConvNet`.

    Args:
        space: The search space.
        order: 1 (first-order) or 2 (second-order) DARTS.
        fixed: `ConvNet` only: overrides of the decisions fixed during the
            search (see `keras_nas.darts.networks.supernet_spec`).
        seed: Optional seed of the logits' initializer.
        affine: Whether the candidate operations' batch norms learn a scale
            and an offset (DARTS: False).
        **kwargs: Other `DartsSupernet` arguments.

    Returns:
        A `DartsSupernet`; compile it with both optimizers before `fit`.
    """
    spec = supernet_spec(space, fixed)
    return DartsSupernet(
        build_network(space, spec, affine=affine),
        spec,
        space.task,
        order=order,
        seed=seed,
        **kwargs,
    )


def check_order(order):
    """Checks the DARTS `order` (1 or 2) and returns it."""
    if isinstance(order, bool) or order not in (1, 2):
        raise ValueError(
            "Received an invalid value for `order`, expected 1 or 2. "
            f"Received: order={order!r}"
        )
    return int(order)


def _read(variable):
    """The current value of a Keras variable, as a plain tensor."""
    return tf.identity(variable.value)


def _update(metrics, loss, y, y_pred):
    """Updates a loss tracker and the task's metrics of one batch."""
    metrics[0].update_state(loss)
    for metric in metrics[1:]:
        metric.update_state(y, y_pred)
