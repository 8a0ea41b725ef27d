"""`DartsSearch`: search, derive, retrain and export in a few calls."""

import math

import keras
import tensorflow as tf

from keras_nas import validation
from keras_nas.darts.bilevel import paired_dataset
from keras_nas.darts.collapse import CollapseGuard
from keras_nas.darts.derive import alpha_weights
from keras_nas.darts.derive import derive
from keras_nas.darts.supernet import build_supernet
from keras_nas.darts.supernet import check_order
from keras_nas.runs.export import export_saved_model


class DartsSearch:
    """A DARTS search on a space with a supernet (`NB201Cell`, `ConvNet`).

    Builds the space's supernet (see the space's `supernet` for what it
    mixes and what it holds fixed) under `distribution_strategy`'s scope and
    compiles it with DARTS's optimizers (Liu et al., 2019, and the
    NAS-Bench-201 DARTS baseline):

    - network weights: SGD, momentum 0.9, learning rate `learning_rate`
      annealed per epoch by a cosine to `min_learning_rate`, weight decay
      `weight_decay` (Keras's decoupled form), global gradient norm clipped
      at `clipnorm`;
    - architecture logits: Adam with `arch_learning_rate`, betas
      `(arch_beta_1, arch_beta_2)`, and `arch_weight_decay` as an L2 term of
      the gradient (as DARTS's PyTorch Adam).

    The collapse guard (`guard=True`, the default) is DARTS+ early stopping
    (Liang et al., 2019), see `keras_nas.darts.collapse.CollapseGuard`: the
    search stops when parameter-free operations lead more than
    `max_parameter_free` of the decisions by `guard_margin` logits, keeping
    the logits of the epoch before.

    Args:
        space: The space to search; `space.has_supernet()` must be true.
        order: 1 for first-order DARTS, 2 for the unrolled second order.
        guard: Whether to stop the search when parameter-free operations
            lead more than `max_parameter_free` of the decisions.
        fixed: Overrides of the decisions the space fixes during the
            search (`ConvNet`: `num_blocks`, `pool`, `skip`).
        affine: Whether the candidate operations' batch norms learn a scale
            and an offset during the search (DARTS: False; see
            `keras_nas.darts.networks`).
        learning_rate: Initial network learning rate.
        min_learning_rate: Final network learning rate of the cosine.
        momentum: Network SGD momentum.
        weight_decay: Network weight decay.
        clipnorm: Global gradient norm clip of the network, or None.
        arch_learning_rate: Architecture Adam learning rate.
        arch_beta_1: Architecture Adam beta 1.
        arch_beta_2: Architecture Adam beta 2.
        arch_weight_decay: Architecture L2 coefficient.
        unrolled_learning_rate: `xi` of the unrolled step (`order=2`); None
            uses the network's current learning rate.
        hessian_radius: Weight-space radius of the unrolled step's
            finite-difference Hessian-vector product (DARTS: 0.01).
        max_parameter_free: The guard's threshold, a fraction in [0, 1).
        guard_margin: The guard's logit margin (see `CollapseGuard`).
        seed: Optional seed of the logits and the data shuffles.
        distribution_strategy: A `tf.distribute.Strategy`; the current one
            when None.

    Example:

    ```python
    search = DartsSearch(NB201Cell(input_shape=(8, 8, 1), num_classes=10))
    search.fit(x_train, y_train, x_val, y_val, epochs=20, batch_size=64)
    search.describe()["arch_str"]
    model = search.retrain(x_train, y_train, epochs=20)
    search.export(model, "saved_models/darts")
    ```
    """

    def __init__(
        self,
        space,
        order=1,
        guard=True,
        *,
        fixed=None,
        affine=False,
        learning_rate=0.025,
        min_learning_rate=0.001,
        momentum=0.9,
        weight_decay=3e-4,
        clipnorm=5.0,
        arch_learning_rate=3e-4,
        arch_beta_1=0.5,
        arch_beta_2=0.999,
        arch_weight_decay=1e-3,
        unrolled_learning_rate=None,
        hessian_radius=0.01,
        max_parameter_free=0.5,
        guard_margin=0.1,
        seed=None,
        distribution_strategy=None,
    ):
        self.space = space
        self.order = check_order(order)
        validation.check_bool("guard", guard)
        self.fixed = fixed
        self.affine = validation.check_bool("affine", affine)
        self.learning_rate = validation.check_positive_float(
            "learning_rate", learning_rate
        )
        self.min_learning_rate = validation.check_non_negative_float(
            "min_learning_rate", min_learning_rate
        )
        self.seed = seed
        self.guard = (
            CollapseGuard(max_parameter_free, margin=guard_margin) if guard else None
        )
        self.distribution_strategy = (
            distribution_strategy or tf.distribute.get_strategy()
        )
        with self.distribution_strategy.scope():
            self.supernet = build_supernet(
                space,
                order=order,
                fixed=fixed,
                seed=seed,
                affine=affine,
                arch_weight_decay=arch_weight_decay,
                unrolled_learning_rate=unrolled_learning_rate,
                hessian_radius=hessian_radius,
            )
            self.supernet.compile(
                optimizer=keras.optimizers.SGD(
                    learning_rate,
                    momentum=momentum,
                    weight_decay=weight_decay or None,
                    global_clipnorm=clipnorm,
                ),
                arch_optimizer=keras.optimizers.Adam(
                    arch_learning_rate, beta_1=arch_beta_1, beta_2=arch_beta_2
                ),
            )

    def fit(
        self,
        x_train,
        y_train,
        x_val,
        y_val,
        epochs=1,
        batch_size=64,
        callbacks=None,
        verbose=0,
        initial_epoch=0,
    ):
        """Runs the bilevel search through `supernet.fit`.

        Network weights learn on the training split, architecture logits on
        the validation split, one step of each per training batch. An epoch
        is `ceil(len(x_train) / batch_size)` steps of full batches (see
        `keras_nas.darts.paired_dataset`).

        Args:
            x_train: Training inputs.
            y_train: Training labels.
            x_val: Validation inputs.
            y_val: Validation labels.
            epochs: Index of the last epoch (as in `keras.Model.fit`); the
                cosine schedule spans `epochs`.
            batch_size: Batch size of both splits.
            callbacks: Optional list of Keras callbacks, run after the
                schedule and the guard.
            verbose: `fit`'s verbosity.
            initial_epoch: Epoch to start from, to resume a search.

        Returns:
            The `keras.callbacks.History`; its logs hold `loss`, `accuracy`,
            `val_loss`, `val_accuracy`, `learning_rate` and, with the guard,
            `parameter_free_fraction`.
        """
        validation.check_positive_int("epochs", epochs)
        dataset = paired_dataset(
            x_train, y_train, x_val, y_val, batch_size=batch_size, seed=self.seed
        )
        schedule = keras.callbacks.LearningRateScheduler(
            lambda epoch: cosine_learning_rate(
                epoch, epochs, self.learning_rate, self.min_learning_rate
            )
        )
        all_callbacks = [schedule]
        if self.guard is not None:
            all_callbacks.append(self.guard)
        all_callbacks.extend(callbacks or [])
        return self.supernet.fit(
            dataset,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=all_callbacks,
            verbose=verbose,
            shuffle=False,  # the paired dataset shuffles itself
        )

    def alphas(self):
        """`{decision: {operation: softmax weight}}`, JSON-safe."""
        return alpha_weights(self.supernet)

    def get_alphas(self):
        """The raw logits `{decision: [logit, ...]}`, JSON-safe."""
        return self.supernet.get_alphas()

    def set_alphas(self, alphas):
        """Assigns logits from `get_alphas()` (e.g. on resume)."""
        self.supernet.set_alphas(alphas)

    def derive(self):
        """The derived architecture: the space's active hyperparameter values."""
        return derive(self.supernet, self.space)

    def describe(self):
        """`space.describe` of the derived architecture (with `arch_str` on NB201)."""
        return self.space.describe(self.derive())

    def build_model(self):
        """Builds the derived architecture, from scratch, by `space.build(hp)`."""
        with self.distribution_strategy.scope():
            return self.space.build_architecture(self.derive())

    def retrain(
        self,
        x,
        y,
        validation_data=None,
        epochs=1,
        batch_size=32,
        callbacks=None,
        verbose=0,
    ):
        """Trains the derived architecture from scratch, like any trial.

        Returns:
            The trained model (its `history` attribute holds the logs).
        """
        model = self.build_model()
        model.fit(
            x,
            y,
            validation_data=validation_data,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            verbose=verbose,
        )
        return model

    def architecture(self):
        """The `architecture.json` content of the derived architecture."""
        return {
            **self.describe(),
            "space_config": self.space.get_config(),
            "strategy": "darts",
            "darts": {
                "order": self.order,
                "guard": self.guard is not None,
                "affine": self.affine,
                "fixed": dict(self.supernet.spec.fixed),
                "alphas": self.alphas(),
            },
        }

    def export(
        self, model, path, metrics=None, x_test=None, y_test=None, overwrite=False
    ):
        """Exports a retrained model with `architecture.json` and `metrics.json`.

        Args:
            model: The retrained model (from `retrain`).
            path: The export folder.
            metrics: Optional JSON-safe dict of metrics.
            x_test: Optional held-out inputs for `test_*` metrics.
            y_test: Labels of `x_test`.
            overwrite: Whether to replace a previous export.

        Returns:
            The export folder, a `pathlib.Path`.
        """
        metrics = dict(metrics or {})
        if x_test is not None:
            evaluated = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
            metrics.update({f"test_{k}": float(v) for k, v in evaluated.items()})
        return export_saved_model(
            model,
            path,
            architecture=self.architecture(),
            metrics=metrics,
            overwrite=overwrite,
        )

    def save_weights(self, path):
        """Saves network weights, logits and both optimizers' states (`.weights.h5`)."""
        self.supernet.save_weights(path)

    def load_weights(self, path):
        """Restores a `save_weights` file into this (identically built) search."""
        self.supernet.load_weights(path)


def cosine_learning_rate(epoch, epochs, maximum, minimum):
    """DARTS's per-epoch cosine annealing from `maximum` to `minimum`."""
    progress = math.pi * epoch / epochs
    return minimum + 0.5 * (maximum - minimum) * (1 + math.cos(progress))
