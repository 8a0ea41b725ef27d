"""`ConvNet`: a chain of convolutional blocks of searchable operations."""

import keras

from keras_nas import validation
from keras_nas.spaces.base import SearchSpace
from keras_nas.spaces.base import batch_norm_layer
from keras_nas.spaces.base import chain_structure
from keras_nas.spaces.base import chain_supernet_settings
from keras_nas.spaces.base import depth_scope
from keras_nas.spaces.supernet import SupernetSpec

OPERATIONS = ("conv3x3", "conv5x5", "sep_conv3x3", "dilated_conv3x3", "identity")
POOLING = ("none", "max", "avg")


def _conv_block(x, operation, filters, affine=True):
    """Applies one block's operation: convolution, batch norm, ReLU.

    `affine=False` drops the batch norm's scale and offset (DARTS supernets).
    """
    if operation == "identity":
        return x
    if operation == "sep_conv3x3":
        x = keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
    else:
        kernel = 5 if operation == "conv5x5" else 3
        dilation = 2 if operation == "dilated_conv3x3" else 1
        x = keras.layers.Conv2D(
            filters, kernel, padding="same", dilation_rate=dilation, use_bias=False
        )(x)
    x = batch_norm_layer(affine)(x)
    return keras.layers.Activation("relu")(x)


class ConvNet(SearchSpace):
    """Convolutional networks: a stem, a chain of searchable blocks, a head.

    The fixed stem is a 3x3 convolution with the smallest of `filters`, batch
    norm and ReLU; the head is global average pooling and a softmax
    classifier. Decisions: `num_blocks`, then for each block `i` (active when
    `num_blocks > i`): `op_i` (one of `operations`), `filters_i` (only when
    `op_i` is a convolution), `pool_i` (2x2 pooling after the block, skipped
    once the feature map is 1x1) and, with `skip_connections=True`, `skip_i`
    (add the block's input to its output, through a 1x1 convolution when the
    channels differ).

    Args:
        input_shape: `(height, width, channels)` of one image.
        num_classes: Number of classes of a multiclass task.
        min_blocks: Fewest blocks.
        max_blocks: Most blocks.
        operations: Operations a block may take, from `OPERATIONS`.
        filters: Channel counts a convolutional block may take.
        pooling: Pooling options after a block, from `POOLING`.
        skip_connections: Whether each block may have a residual skip.
        learning_rate: Adam learning rate.
        **options: `task`, `normalize` (default: off) and
            `normalization`, as in `SearchSpace`.

    Example:

    ```python
    space = ConvNet(input_shape=(8, 8, 1), num_classes=10, max_blocks=4)
    ```
    """

    space_name = "convnet"
    image_like = True
    modalities = ("image", "audio")

    def __init__(
        self,
        input_shape,
        num_classes=None,
        min_blocks=1,
        max_blocks=4,
        operations=OPERATIONS,
        filters=(16, 32, 64),
        pooling=("none", "max"),
        skip_connections=True,
        learning_rate=1e-3,
        **options,
    ):
        super().__init__(input_shape, num_classes, learning_rate, **options)
        self.min_blocks, self.max_blocks = validation.check_depth_limits(
            "blocks", min_blocks, max_blocks
        )
        self.operations = validation.check_choices(
            "operations", operations, OPERATIONS
        )
        self.filters = validation.check_positive_ints("filters", filters)
        self.pooling = validation.check_choices("pooling", pooling, POOLING)
        if not isinstance(skip_connections, bool):
            raise ValueError(
                "Received an invalid value for `skip_connections`, expected a "
                f"bool. Received: skip_connections={skip_connections!r}"
            )
        self.skip_connections = skip_connections
        self._conv_operations = [op for op in self.operations if op != "identity"]

    def _decide(self, hp):
        num_blocks = hp.Int("num_blocks", self.min_blocks, self.max_blocks)
        blocks = []
        for i in range(self.max_blocks):
            with depth_scope(hp, "num_blocks", i, self.max_blocks):
                block = {"operation": hp.Choice(f"op_{i}", list(self.operations))}
                block["filters"] = None
                if self._conv_operations:
                    with hp.conditional_scope(f"op_{i}", self._conv_operations):
                        block["filters"] = hp.Choice(
                            f"filters_{i}", list(self.filters)
                        )
                block["pool"] = hp.Choice(f"pool_{i}", list(self.pooling))
                if self.skip_connections:
                    block["skip"] = hp.Boolean(f"skip_{i}")
            blocks.append(block)
        return {"num_blocks": num_blocks, "blocks": blocks[:num_blocks]}

    def _build_network(self, decisions):
        inputs = self._inputs()
        outputs = self._network_outputs(
            inputs,
            decisions["blocks"],
            lambda x, index, block: _conv_block(
                x, block["operation"], block["filters"]
            ),
        )
        return keras.Model(inputs, outputs, name="convnet")

    def supernet(self, fixed=None):
        """The one-shot supernet: every block's operation `op_i` is mixed.

        The other decisions are fixed during the search: `num_blocks =
        max_blocks`; `pool_i = "none"` when the space offers it, else its
        first pooling option; `skip_i = False`; and `filters_i =
        min(filters)`, the stem's width, so that `identity` and the
        convolutions of a block have the same shape and can be mixed (this
        one is not overridable). The derived architecture keeps these
        values.

        Args:
            fixed: Optional dict overriding the fixed values, with keys among
                `"num_blocks"`, `"pool"` (one of `pooling`, used after every
                block) and `"skip"` (a bool, used for every block).

        Returns:
            A `keras_nas.spaces.SupernetSpec`.

        Raises:
            ValueError: If `fixed` has an unknown key or an invalid value.
        """
        settings = chain_supernet_settings(self, fixed or {})
        num_blocks = settings["num_blocks"]
        values = {"num_blocks": num_blocks}
        for i in range(num_blocks):
            values[f"pool_{i}"] = settings["pool"]
            if self.skip_connections:
                values[f"skip_{i}"] = settings["skip"]
        width = min(self.filters)
        blocks = [
            {"pool": settings["pool"], "skip": settings["skip"]}
            for _ in range(num_blocks)
        ]

        def build(mixed, affine):
            inputs = self._inputs()
            outputs = self._network_outputs(
                inputs,
                blocks,
                lambda x, index, block: mixed(
                    f"op_{index}",
                    x,
                    lambda h, operation: _conv_block(h, operation, width, affine),
                    name=f"mixed_op_{index}",
                ),
            )
            return inputs, outputs

        return SupernetSpec(
            decisions={f"op_{i}": tuple(self.operations) for i in range(num_blocks)},
            build=build,
            fixed=values,
            fixed_when_active=(
                {f"filters_{i}": width for i in range(num_blocks)}
                if self._conv_operations
                else {}
            ),
            parameter_free=("identity",) if "identity" in self.operations else (),
        )

    def _network_outputs(self, inputs, blocks, operation):
        """The network around its blocks' operations, for this space and its
        supernet.

        A stem, then per block its operation, the optional skip connection
        and the optional pooling, and the head.

        Args:
            inputs: The image input.
            blocks: One dict per block with its `pool` and, optionally,
                `skip`.
            operation: `operation(x, index, block)` applies block `index`'s
                operation.

        Returns:
            The class probabilities.
        """
        x = keras.layers.Conv2D(
            min(self.filters), 3, padding="same", use_bias=False, name="stem"
        )(self._features(inputs))
        x = batch_norm_layer()(x)
        x = keras.layers.Activation("relu")(x)
        for index, block in enumerate(blocks):
            h = operation(x, index, block)
            if block.get("skip"):
                shortcut = x
                if x.shape[-1] != h.shape[-1]:
                    shortcut = keras.layers.Conv2D(h.shape[-1], 1, use_bias=False)(x)
                h = keras.layers.Add()([h, shortcut])
            if block["pool"] != "none" and max(h.shape[1], h.shape[2]) >= 2:
                pool = (
                    keras.layers.MaxPooling2D
                    if block["pool"] == "max"
                    else keras.layers.AveragePooling2D
                )
                # Halves each axis of at least 2 (time alone, for spectrograms).
                h = pool(tuple(min(2, d) for d in h.shape[1:3]))(h)
            x = h
        x = keras.layers.GlobalAveragePooling2D()(x)
        return self._classifier(x)

    def structure(self):
        roles = {"operation": "op", "filters": "filters", "pool": "pool"}
        if self.skip_connections:
            roles["skip"] = "skip"
        if not self._conv_operations:
            del roles["filters"]
        return chain_structure(roles, "num_blocks", self.max_blocks)

    def get_config(self):
        return {
            **super().get_config(),
            "min_blocks": self.min_blocks,
            "max_blocks": self.max_blocks,
            "operations": list(self.operations),
            "filters": list(self.filters),
            "pooling": list(self.pooling),
            "skip_connections": self.skip_connections,
        }
