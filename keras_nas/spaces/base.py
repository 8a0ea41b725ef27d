"""The base class of keras-nas search spaces."""

import keras
import keras_tuner as kt

from keras_nas import validation
from keras_nas.encoding import RepeatedStructure


class SearchSpace(kt.HyperModel):
    """A search space that compiles architectures into Keras models.

    A subclass declares every decision, conditions included, in
    `_decide(hp)`, which returns the chosen values (`None` for inactive
    decisions), and turns those into a functional model in
    `_build_network(decisions)`. The same `_decide` serves KerasTuner's
    `declare_hyperparameters` hook, so an oracle knows the whole space before
    the first trial, and `build(hp)`, so the two cannot drift apart.

    Args:
        input_shape: Shape of one input sample, without the batch axis.
        num_classes: Number of classes of the softmax classifier.
        learning_rate: Adam learning rate of the compiled models.
        name: Optional name of the space.
    """

    space_name = "space"
    needs_images = False
    """Whether inputs must be `(height, width, channels)` images."""

    def __init__(self, input_shape, num_classes, learning_rate=1e-3, name=None):
        super().__init__(name=name or self.space_name)
        if (
            not isinstance(input_shape, (tuple, list))
            or not input_shape
            or any(
                isinstance(d, bool) or not isinstance(d, int) or d < 1
                for d in input_shape
            )
        ):
            raise ValueError(
                "Received an invalid value for `input_shape`, expected a "
                "non-empty tuple of positive integers. Received: "
                f"input_shape={input_shape!r}"
            )
        self.input_shape = tuple(int(d) for d in input_shape)
        if self.needs_images and len(self.input_shape) != 3:
            raise ValueError(
                "Received an invalid value for `input_shape`, expected "
                f"(height, width, channels) for {type(self).__name__}. "
                f"Received: input_shape={tuple(input_shape)!r}"
            )
        self.num_classes = validation.check_positive_int(
            "num_classes", num_classes
        )
        if self.num_classes < 2:
            raise ValueError(
                "Received an invalid value for `num_classes`, expected at "
                f"least 2. Received: num_classes={num_classes!r}"
            )
        if (
            isinstance(learning_rate, bool)
            or not isinstance(learning_rate, (int, float))
            or learning_rate <= 0
        ):
            raise ValueError(
                "Received an invalid value for `learning_rate`, expected a "
                f"positive float. Received: learning_rate={learning_rate!r}"
            )
        self.learning_rate = float(learning_rate)

    def declare_hyperparameters(self, hp):
        """Registers every decision of the space on `hp`."""
        self._decide(hp)

    def build(self, hp):
        """Builds and compiles the functional model chosen by `hp`.

        Args:
            hp: A `keras_tuner.HyperParameters` with the trial's values.

        Returns:
            A compiled `keras.Model`.
        """
        model = self._build_network(self._decide(hp))
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def build_architecture(self, values):
        """Builds and compiles the model of one architecture's decisions.

        Args:
            values: Dict from decision name to value, such as a trial's
                `hyperparameters.values` or a DARTS search's `derive()`.

        Returns:
            A compiled `keras.Model`, as `build(hp)` makes it.
        """
        hp = kt.HyperParameters()
        self.declare_hyperparameters(hp)
        hp.values = dict(values)
        return self.build(hp)

    def structure(self):
        """Returns the space's `RepeatedStructure`, or `None` if it has none."""
        return None

    def has_supernet(self):
        """Whether the space has a one-shot supernet (overrides `supernet`)."""
        return type(self).supernet is not SearchSpace.supernet

    def supernet(self, fixed=None):
        """Describes the space's one-shot supernet, for DARTS.

        The one method a space implements to be searched by
        `keras_nas.darts`: it names the decisions the supernet mixes, with
        their candidate values, and those it holds fixed, and builds the
        network with the space's own skeleton, each searched decision built
        by the search's `mixed` (see `keras_nas.spaces.SupernetSpec`).

        Args:
            fixed: Optional dict overriding values the space holds fixed
                during the search; the keys it accepts are the space's own.

        Returns:
            A `keras_nas.spaces.SupernetSpec`.

        Raises:
            NotImplementedError: If the space has no supernet (see
                `has_supernet`).

        Example:

        ```python
        def supernet(self, fixed=None):
            def build(mixed, affine):
                inputs = self._inputs()
                x = mixed("activation", inputs,
                          lambda h, op: keras.layers.Activation(op)(h))
                return inputs, self._classifier(x)

            return SupernetSpec({"activation": ("relu", "tanh")}, build)
        ```
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no supernet: a space searched by DARTS "
            "implements `SearchSpace.supernet`."
        )

    def describe(self, values):
        """Describes one architecture for users and `architecture.json`.

        Args:
            values: The trial's active hyperparameter values.

        Returns:
            A dict with the space name and its active decisions, in the order
            the space declares them.
        """
        hp = kt.HyperParameters()
        self._decide(hp)
        hp.values = dict(values)
        decisions = {
            p.name: values[p.name]
            for p in hp.space
            if hp.is_active(p) and p.name in values
        }
        return {"space": self.space_name, "decisions": decisions}

    def get_config(self):
        """Returns the constructor arguments, JSON-safe."""
        return {
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "learning_rate": self.learning_rate,
        }

    def _decide(self, hp):
        """Registers the space's decisions on `hp` and returns their values."""
        raise NotImplementedError

    def _build_network(self, decisions):
        """Builds the uncompiled functional model for `decisions`."""
        raise NotImplementedError

    def _inputs(self):
        return keras.Input(shape=self.input_shape, name="inputs")

    def _classifier(self, features):
        return keras.layers.Dense(
            self.num_classes, activation="softmax", name="classifier"
        )(features)


def chain_structure(roles, count_name, num_units):
    """The `RepeatedStructure` of a chain whose unit `i` names are `NAME_i`.

    Args:
        roles: Dict from role to hyperparameter name prefix.
        count_name: Name of the hyperparameter counting active units.
        num_units: Number of units (the maximum depth).
    """
    return RepeatedStructure(
        kind="chain",
        units=tuple(
            {role: f"{prefix}_{i}" for role, prefix in roles.items()}
            for i in range(num_units)
        ),
        count=count_name,
    )


def depth_scope(hp, count_name, index, max_count):
    """Opens the conditional scope of unit `index` of a chain.

    Unit `index` (0-based) is active when the count is above `index`.
    """
    return hp.conditional_scope(count_name, list(range(index + 1, max_count + 1)))


def batch_norm_layer(affine=True):
    """Batch normalisation whose moving statistics settle within a few epochs.

    Keras's default momentum (0.99) needs hundreds of steps before its
    moving averages serve inference, which short NAS trials never reach.

    Args:
        affine: Whether it learns a scale and an offset (`False` in the
            candidate operations of a DARTS supernet, as in DARTS).
    """
    return keras.layers.BatchNormalization(momentum=0.9, center=affine, scale=affine)
