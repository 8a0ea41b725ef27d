"""The base class of keras-nas search spaces."""

import inspect

import keras
import keras_tuner as kt
import numpy as np

from keras_nas import tasks
from keras_nas import validation
from keras_nas.disk_arrays import chunks
from keras_nas.disk_arrays import is_array
from keras_nas.disk_arrays import on_disk
from keras_nas.data.input_spec import MODALITIES
from keras_nas.data.input_spec import InputSpec
from keras_nas.encoding import RepeatedStructure

CHUNK_BYTES = 8 << 20
"""Bytes of training inputs a space reads at a time in `adapt` (`_moments`
holds at most eight times that as float64)."""


class SearchSpace(kt.HyperModel):
    """A search space that compiles architectures into Keras models.

    A subclass declares every decision, conditions included, in
    `_decide(hp)`, which returns the chosen values (`None` for inactive
    decisions), and turns those into a functional model in
    `_build_network(decisions)`. The same `_decide` serves KerasTuner's
    `declare_hyperparameters` hook, so an oracle knows the whole space before
    the first trial, and `build(hp)`, so the two cannot drift apart.

    The space's `task` (see `keras_nas.tasks`) gives every model its head,
    loss and metrics. With `normalize=True`, every model starts with a
    `keras.layers.Normalization` whose statistics `adapt` computes once on
    the training split, so raw-scale features train well and the exported
    model takes raw inputs.

    Args:
        input_shape: Shape of one input sample, without the batch axis.
        num_classes: Number of classes of a multiclass task (the same as
            `task="multiclass"` with that many classes).
        learning_rate: Adam learning rate of the compiled models.
        name: Optional name of the space.
        task: `"multiclass"`, `"binary"`, `"regression"`, a
            `keras_nas.tasks.Task` or its `get_config()` dict; `None` with
            `num_classes` means multiclass.
        normalize: Whether models start with the feature normalisation.
        normalization: The statistics `adapt` computed (`{"mean": ...,
            "variance": ...}`), for rebuilding a searched space; `None`
            until `adapt` runs (the normalisation is then the identity).
        input_dtype: `"float32"`, or `"uint8"` for images of 0..255, which
            the models scale by 1/255 first; `adapt` sets it from the data.
        modality: What the inputs are, one of the space's `modalities`;
            `None` for the first of them.
    """

    space_name = "space"
    modalities = MODALITIES
    """The modalities of the inputs the space learns from (after the data's
    preprocessing: audio arrives as spectrograms, text as token vectors)."""
    image_like = False
    """Whether inputs are `(height, width, channels)`, normalised per channel."""
    normalize_by_default = False
    """Whether `normalize` is on unless told otherwise."""
    input_dtypes = ("float32", "uint8")
    """The dtypes of `input_dtype` the space's models may take."""
    text_output = "tf_idf"
    """What text becomes for the space's models (`SearchData.from_splits`)."""

    def __init__(
        self,
        input_shape,
        num_classes=None,
        learning_rate=1e-3,
        name=None,
        *,
        task=None,
        normalize=None,
        normalization=None,
        input_dtype="float32",
        modality=None,
    ):
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
        if self.image_like and len(self.input_shape) != 3:
            raise ValueError(
                "Received an invalid value for `input_shape`, expected "
                f"(height, width, channels) for {type(self).__name__}. "
                f"Received: input_shape={tuple(input_shape)!r}"
            )
        self.input_dtype = validation.check_one_of(
            "input_dtype", input_dtype, self.input_dtypes
        )
        self.modality = validation.check_one_of(
            "modality", modality or self.modalities[0], self.modalities
        )
        self.task = tasks.get_task(task, num_classes)
        if self.task is None:
            raise ValueError(
                "Received no `task` and no `num_classes`: a space needs one "
                "(task='multiclass', 'binary' or 'regression', or "
                "num_classes=N for N classes). Received: task=None, "
                "num_classes=None"
            )
        if (
            num_classes is not None
            and self.task.is_classification
            and self.task.num_classes not in (None, num_classes)
        ):
            raise ValueError(
                f"Received an invalid value for `num_classes`: the task has "
                f"{self.task.num_classes} classes. Received: "
                f"num_classes={num_classes!r}"
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
        self.normalize = validation.check_bool(
            "normalize",
            self.normalize_by_default if normalize is None else normalize,
        )
        self.normalization = _checked_normalization(normalization)

    def __copy__(self):
        """A shallow copy whose `build` builds with the copy's own settings.

        KerasTuner's `HyperModel` keeps `build` as a method bound to the
        instance, which a plain shallow copy would share with the original.
        """
        clone = object.__new__(type(self))
        clone.__dict__.update(
            (key, value) for key, value in self.__dict__.items()
            if not (inspect.ismethod(value) and value.__self__ is self)
        )
        kt.HyperModel.__init__(clone, name=self.name, tunable=self.tunable)
        return clone

    @property
    def input_spec(self):
        """The `keras_nas.data.InputSpec` of the inputs the space's models take."""
        return InputSpec(self.input_shape, self.input_dtype, self.modality,
                         feature_axis=-1 if self.image_like else None)

    @classmethod
    def check_accepts(cls, spec):
        """Raises unless the space's kind of inputs covers data of `spec`.

        Checked before a space is built for the data: the modality, and
        three axes for image-like spaces.

        Args:
            spec: The data's `keras_nas.data.InputSpec`.

        Raises:
            ValueError: Naming the data's inputs and what the space takes.
        """
        if spec.modality not in cls.modalities or (cls.image_like and spec.rank != 3):
            shape = " of shape (height, width, channels)" if cls.image_like else ""
            raise ValueError(
                f"The data's {spec.describe()} do not fit the "
                f"{cls.space_name!r} space, which takes "
                f"{' or '.join(cls.modalities)} inputs{shape}."
            )

    def check_data(self, spec):
        """Raises unless data of `spec` (a `keras_nas.data.InputSpec`) fits the space.

        Raises:
            ValueError: Naming the data's inputs and the space's.
        """
        self.check_accepts(spec)
        spec.check(self.input_spec, f"the {self.space_name!r} space")

    @property
    def num_classes(self):
        """The task's class count (`None` for regression)."""
        return self.task.num_classes if self.task.is_classification else None

    def adapt(self, x, y):
        """Fits the task and the feature normalisation on the training split.

        Classes (or regression targets' mean and deviation) are recorded
        unless the task already has them; uint8 inputs make `input_dtype`
        uint8 (scaled by 1/255 in the models); with `normalize=True`, the
        features' mean and variance (per feature for tabular inputs, per
        channel for images) are computed from `x` in chunks, without a
        copy of it. `NASTuner.search` calls it on its own copy of the space
        before the first trial.

        Args:
            x: Training inputs, a NumPy array or one kept out of memory
                (`keras_nas.disk_arrays`).
            y: Training labels, in any form the task accepts.
        """
        self.task = self.task.fit(y)
        dtype = x.dtype if on_disk(x) else np.asarray(x).dtype
        self.input_dtype = "uint8" if dtype == np.uint8 else "float32"
        if self.normalize:
            mean, variance = _moments(x, self._statistics_axes(), self._scale())
            self.normalization = {
                "mean": mean.tolist(),
                "variance": np.where(variance > 0, variance, 1.0).tolist(),
            }

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
        self.task.compile(model, keras.optimizers.Adam(self.learning_rate))
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
            "task": self.task.get_config(),
            "learning_rate": self.learning_rate,
            "normalize": self.normalize,
            "normalization": self.normalization,
            "input_dtype": self.input_dtype,
            "modality": self.modality,
        }

    def _decide(self, hp):
        """Registers the space's decisions on `hp` and returns their values."""
        raise NotImplementedError

    def _build_network(self, decisions):
        """Builds the uncompiled functional model for `decisions`."""
        raise NotImplementedError

    def _inputs(self):
        return keras.Input(shape=self.input_shape, name="inputs")

    def _features(self, inputs):
        """The inputs, normalised with the `adapt` statistics when `normalize`.

        Until `adapt` runs, the normalisation is the identity (mean 0,
        variance 1), so a model built before it has the same layers.
        """
        if self.input_dtype == "uint8":
            inputs = keras.layers.Rescaling(self._scale(), name="scale")(inputs)
        if not self.normalize:
            return inputs
        statistics = self.normalization
        if statistics is None:
            shape = [self.input_shape[a - 1] for a in self._statistics_axes()]
            statistics = {"mean": np.zeros(shape), "variance": np.ones(shape)}
        axis = self._statistics_axes()
        return keras.layers.Normalization(
            axis=axis,
            mean=statistics["mean"],
            variance=statistics["variance"],
            name="normalization",
        )(inputs)

    def _statistics_axes(self):
        """The axes (1-based, after the batch) whose entries keep their own
        statistics: the channels of images (the mel bands of a spectrogram,
        as in cepstral mean and variance normalisation), every position of
        other inputs."""
        rank = len(self.input_shape)
        if self.image_like:
            return (rank,)
        return tuple(range(1, rank + 1))

    def _scale(self):
        """What inputs are multiplied by first: 1/255 for uint8 images."""
        return 1.0 / 255.0 if self.input_dtype == "uint8" else 1.0

    def _classifier(self, features):
        """The task's head on the network's last features."""
        return self.task.head(features)


def _moments(x, kept_axes, scale):
    """Mean and variance of `x * scale`, merged over float64 chunks of rows.

    One statistic per entry of `kept_axes` (1-based axes of a sample),
    reduced over the others. Each chunk's mean and squared deviations are
    merged as Chan et al. (1979) do, so large offsets lose no precision;
    `x` is read a chunk at a time (`keras_nas.disk_arrays.chunks`),
    never copied whole.
    """
    if not is_array(x):
        x = np.asarray(x)
    axes = tuple(a for a in range(len(x.shape)) if a not in kept_axes)
    count, mean, squares = 0, 0.0, 0.0
    for part in chunks(x, CHUNK_BYTES):
        part = part.astype("float64") * scale
        size = part.size // np.size(part.mean(axis=axes))
        part_mean = part.mean(axis=axes)
        part_squares = np.square(part - part_mean).sum(axis=axes)
        delta = part_mean - mean
        total = count + size
        mean = mean + delta * size / total
        squares = squares + part_squares + np.square(delta) * count * size / total
        count = total
    return mean, squares / count


def _checked_normalization(normalization):
    if normalization is None:
        return None
    if not isinstance(normalization, dict) or set(normalization) != {"mean", "variance"}:
        raise ValueError(
            "Received an invalid value for `normalization`, expected None or a "
            "dict with `mean` and `variance`. Received: "
            f"normalization={normalization!r}"
        )
    return {key: np.asarray(value, "float64").tolist() for key, value in normalization.items()}


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


SUPERNET_FIXED = ("num_blocks", "pool", "skip")
"""The keys of a chain space's `supernet(fixed)` overrides."""


def chain_supernet_settings(space, fixed):
    """The values a chain space's supernet fixes: `fixed` over the defaults.

    The defaults: `num_blocks = max_blocks`, `pool = "none"` when the space
    offers it (else its first pooling option) and `skip = False`.

    Args:
        space: A space with `min_blocks`, `max_blocks`, `pooling` and
            `skip_connections` (`ConvNet`, `SequenceNet`).
        fixed: The caller's overrides, keys among `SUPERNET_FIXED`.

    Returns:
        A dict with `num_blocks`, `pool` and `skip`.

    Raises:
        ValueError: If `fixed` has an unknown key or an invalid value.
    """
    unknown = sorted(set(fixed) - set(SUPERNET_FIXED))
    if unknown:
        raise ValueError(
            f"Received an invalid value for `fixed`, expected keys among "
            f"{list(SUPERNET_FIXED)}. Received: fixed={fixed!r}"
        )
    pool = "none" if "none" in space.pooling else space.pooling[0]
    settings = {"num_blocks": space.max_blocks, "pool": pool, "skip": False}
    settings.update(fixed)
    num_blocks = settings["num_blocks"]
    validation.check_positive_int("fixed['num_blocks']", num_blocks)
    if not space.min_blocks <= num_blocks <= space.max_blocks:
        raise ValueError(
            "Received an invalid value for `fixed['num_blocks']`, expected "
            f"an integer in [{space.min_blocks}, {space.max_blocks}]. "
            f"Received: fixed['num_blocks']={num_blocks!r}"
        )
    validation.check_one_of("fixed['pool']", settings["pool"], space.pooling)
    skip = settings["skip"]
    if not isinstance(skip, bool) or (skip and not space.skip_connections):
        raise ValueError(
            "Received an invalid value for `fixed['skip']`, expected a bool "
            "(False when the space has no skip connections). "
            f"Received: fixed['skip']={skip!r}"
        )
    return settings


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
