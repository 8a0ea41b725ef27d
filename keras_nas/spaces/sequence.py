"""`SequenceNet`: text, audio and series through convolution, recurrence and attention."""

import re
import warnings

import keras
import numpy as np

from keras_nas import validation
from keras_nas.data.input_spec import InputSpec
from keras_nas.disk_arrays import chunks
from keras_nas.disk_arrays import is_array
from keras_nas.spaces.base import CHUNK_BYTES
from keras_nas.spaces.base import SearchSpace
from keras_nas.spaces.base import batch_norm_layer
from keras_nas.spaces.base import chain_structure
from keras_nas.spaces.base import chain_supernet_settings
from keras_nas.spaces.base import depth_scope
from keras_nas.spaces.sequence_layers import POSITIONS
from keras_nas.spaces.sequence_layers import REDUCTIONS
from keras_nas.spaces.sequence_layers import AttentionMask
from keras_nas.spaces.sequence_layers import Keep
from keras_nas.spaces.sequence_layers import MaskedMaxPooling
from keras_nas.spaces.sequence_layers import PoolKeep
from keras_nas.spaces.sequence_layers import Positions
from keras_nas.spaces.sequence_layers import Reduce
from keras_nas.spaces.supernet import SupernetSpec

CONVOLUTIONS = ("conv3", "conv5", "conv7", "conv9", "sep_conv5", "sep_conv9",
                "dilated_conv3", "dilated_conv5")
"""1-D convolutions, batch norm and ReLU: `conv<k>` of kernel k,
`sep_conv<k>` depthwise-separable, `dilated_conv<k>` of dilation 2."""
RECURRENT = ("gru", "lstm", "bigru", "bilstm")
"""Recurrent layers over every step; `bi...` runs one of half the width
each way."""
OPERATIONS = (*CONVOLUTIONS, *RECURRENT, "attention", "identity")
"""A block's operations; `attention` is a Transformer encoder block."""
DEFAULT_OPERATIONS = {
    "text": OPERATIONS,
    "audio": (*CONVOLUTIONS, "gru", "bigru", "attention", "identity"),
    "series": (*CONVOLUTIONS, "attention", "identity"),
}
"""The operations searched unless `operations` says, by modality: no
recurrence over series (hundreds of steps: slow, and convolutional
networks lead on the UCR archive, Ismail Fawaz et al., 2019), GRUs only
over spectrogram frames."""
NORMS = ("pre", "post")
"""Where a Transformer block's layer normalisations go (Xiong et al., 2020)."""
POOLING = ("none", "max")
_TOKEN_DTYPES = ("int32", "int64")


def _convolution(name):
    """`(kernel, dilation, separable)` of a convolution's name."""
    kind, kernel = re.fullmatch(r"(conv|sep_conv|dilated_conv)(\d+)", name).groups()
    return int(kernel), 2 if kind == "dilated_conv" else 1, kind == "sep_conv"


def _block(x, keep, block, affine=True):
    """Applies one block's operation to `(batch, steps, features)` inputs.

    Args:
        x: The block's input.
        keep: Which steps hold data (text), or `None`.
        block: Dict with the block's `operation`, `width` and, for
            `attention`, `heads`, `feed_forward` and `norm`.
        affine: Whether batch norms learn a scale and an offset (`False` in a
            DARTS supernet).

    Returns:
        `(batch, steps, width)` outputs (the input itself for `identity`).
    """
    operation, width = block["operation"], block.get("width")
    if operation == "identity":
        return x
    if operation in CONVOLUTIONS:
        kernel, dilation, separable = _convolution(operation)
        layer = keras.layers.SeparableConv1D if separable else keras.layers.Conv1D
        x = layer(width, kernel, padding="same", dilation_rate=dilation,
                  use_bias=False)(x)
        x = batch_norm_layer(affine)(x)
        return keras.layers.Activation("relu")(x)
    if operation in RECURRENT:
        cell = keras.layers.GRU if operation.endswith("gru") else keras.layers.LSTM
        if operation.startswith("bi"):
            layer = keras.layers.Bidirectional(
                cell(width // 2, return_sequences=True)
            )
        else:
            layer = cell(width, return_sequences=True)
        return layer(x, mask=keep)
    return _transformer_block(x, keep, width, block["heads"],
                              block["feed_forward"], block["norm"])


def _transformer_block(x, keep, width, heads, feed_forward, norm):
    """A Transformer encoder block (Vaswani et al., 2017) of `width` features.

    Self-attention of `heads` heads of `width // heads` features each, then
    a ReLU feed-forward layer of `feed_forward * width` units, each with a
    residual connection and a layer normalisation before it (`pre`) or after
    the sum (`post`). Inputs of another width are projected first.
    """
    if x.shape[-1] != width:
        x = keras.layers.Dense(width)(x)
    mask = None if keep is None else AttentionMask()(keep)
    attention = keras.layers.MultiHeadAttention(heads, max(1, width // heads))

    def feed(h):
        h = keras.layers.Dense(feed_forward * width, activation="relu")(h)
        return keras.layers.Dense(width)(h)

    if norm == "pre":
        h = keras.layers.LayerNormalization()(x)
        x = keras.layers.Add()([x, attention(h, h, attention_mask=mask)])
        h = keras.layers.LayerNormalization()(x)
        return keras.layers.Add()([x, feed(h)])
    x = keras.layers.Add()([x, attention(x, x, attention_mask=mask)])
    x = keras.layers.LayerNormalization()(x)
    return keras.layers.LayerNormalization()(keras.layers.Add()([x, feed(x)]))


class SequenceNet(SearchSpace):
    """Sequence networks: a front end, a chain of searchable blocks, a reduction.

    The front end follows the modality: word ids (text, padded with 0 at
    the end, as Keras's `TextVectorization` gives them) go through an
    `Embedding` of `embedding_dim` features, and the padding is masked in
    every recurrent layer, attention and reduction; audio spectrograms
    (`(frames, 1, mels)` from the data pipeline, or `(frames, mels)`) and
    series (`(steps,)` or `(steps, channels)`) are normalised per channel
    (per mel band) and go through a stem 1-D convolution of the smallest
    width. Then `positions` (none, sinusoidal or learned) are added.

    Decisions: `num_blocks`, `embedding_dim` (text), `positions`, then for
    each block `i` (active when `num_blocks > i`): `op_i` (one of
    `operations`: 1-D convolutions, GRU/LSTM, bidirectional or not, a
    Transformer encoder block, identity), `width_i` (its output features,
    when not identity), for attention blocks `heads_i`, `ff_i` (the
    feed-forward width as a multiple of `width_i`) and `norm_i` (pre- or
    post-norm), `pool_i` (max pooling halving the steps after the block)
    and, with `skip_connections=True`, `skip_i` (add the block's input to
    its output, projected when the widths differ); then `dropout` (after
    every block) and `reduction` (global average, global max, attention
    pooling or the last step), and the task's head.

    Args:
        input_shape: Shape of one sample: `(length,)` word ids, `(frames,
            1, mels)` or `(frames, mels)` spectrograms, `(steps,)` or
            `(steps, channels)` series.
        num_classes: Number of classes of a multiclass task.
        min_blocks: Fewest blocks.
        max_blocks: Most blocks.
        operations: Operations a block may take, from `OPERATIONS`;
            `None` for the modality's `DEFAULT_OPERATIONS`.
        widths: Output features a block may take (even numbers).
        embedding_dims: Embedding sizes for text.
        heads: Attention head counts.
        feed_forward: Feed-forward widths of attention blocks, as multiples
            of the block's width.
        norms: Where attention blocks normalise, from `NORMS`.
        pooling: Pooling options after a block, from `POOLING`.
        positions: Position encodings, from `POSITIONS`.
        reductions: Reductions, from `keras_nas.spaces.sequence_layers.REDUCTIONS`.
        dropout_rates: Dropout rates after the blocks.
        skip_connections: Whether each block may have a residual skip.
        vocabulary_size: The number of word ids of text (ids are below it);
            `adapt` sets it from the training inputs.
        learning_rate: Adam learning rate.
        **options: `task`, `normalize` (default: on; text is never
            normalised), `normalization`, `input_dtype`, `modality` (`series`,
            `text` or `audio`; default `series`), as in `SearchSpace`.

    Example:

    ```python
    space = SequenceNet(input_shape=(128,), num_classes=2, modality="text",
                        vocabulary_size=20_000, input_dtype="int64")
    ```
    """

    space_name = "sequence"
    modalities = ("series", "text", "audio")
    normalize_by_default = True
    input_dtypes = ("float32", "uint8", *_TOKEN_DTYPES)
    text_output = "int"

    def __init__(
        self,
        input_shape,
        num_classes=None,
        min_blocks=1,
        max_blocks=3,
        operations=None,
        widths=(32, 64, 128),
        embedding_dims=(32, 64, 128),
        heads=(2, 4),
        feed_forward=(2, 4),
        norms=NORMS,
        pooling=POOLING,
        positions=POSITIONS,
        reductions=REDUCTIONS,
        dropout_rates=(0.0, 0.1, 0.3),
        skip_connections=True,
        vocabulary_size=None,
        learning_rate=1e-3,
        **options,
    ):
        super().__init__(input_shape, num_classes, learning_rate, **options)
        if self._text and self.input_dtype not in _TOKEN_DTYPES:
            self.input_dtype = "int64"  # Word ids, whatever the default said.
        self.check_accepts(InputSpec(self.input_shape, self.input_dtype,
                                     self.modality))
        self.min_blocks, self.max_blocks = validation.check_depth_limits(
            "blocks", min_blocks, max_blocks
        )
        self.operations = validation.check_choices(
            "operations",
            DEFAULT_OPERATIONS[self.modality] if operations is None else operations,
            OPERATIONS,
        )
        self.widths = validation.check_positive_ints("widths", widths)
        if any(w % 2 for w in self.widths):
            raise ValueError(
                "Received an invalid value for `widths`, expected even numbers "
                f"(bidirectional layers run half each way). Received: widths={widths!r}"
            )
        self.embedding_dims = validation.check_positive_ints("embedding_dims",
                                                             embedding_dims)
        self.heads = validation.check_positive_ints("heads", heads)
        self.feed_forward = validation.check_positive_ints("feed_forward",
                                                           feed_forward)
        self.norms = validation.check_choices("norms", norms, NORMS)
        self.pooling = validation.check_choices("pooling", pooling, POOLING)
        self.positions = validation.check_choices("positions", positions, POSITIONS)
        self.reductions = validation.check_choices("reductions", reductions,
                                                   REDUCTIONS)
        self.dropout_rates = validation.check_dropout_rates("dropout_rates",
                                                            dropout_rates)
        self.skip_connections = validation.check_bool("skip_connections",
                                                      skip_connections)
        self.vocabulary_size = (
            None if vocabulary_size is None
            else validation.check_positive_int("vocabulary_size", vocabulary_size)
        )
        self._weighted = [op for op in self.operations if op != "identity"]

    @classmethod
    def check_accepts(cls, spec):
        """Raises unless data of `spec` is word ids, spectrograms or series.

        Text must arrive as integer word ids of shape `(length,)` (a
        `SearchData` built with `text_output="int"`; `keras-nas run
        --space sequence` builds it so), not as TF-IDF vectors.
        """
        super().check_accepts(spec)
        rank, dtype = spec.rank, str(spec.dtype)
        fits = {
            "text": rank == 1 and dtype in _TOKEN_DTYPES,
            "audio": rank == 2 or (rank == 3 and spec.shape[1] == 1),
            "series": rank in (1, 2),
        }[spec.modality]
        if not fits:
            wanted = {
                "text": "integer word ids of shape (length,) (text_output='int')",
                "audio": "spectrograms of shape (frames, 1, mels) or (frames, mels)",
                "series": "series of shape (steps,) or (steps, channels)",
            }[spec.modality]
            raise ValueError(
                f"The data's {spec.describe()} do not fit the 'sequence' space, "
                f"which takes {wanted}."
            )

    @property
    def input_spec(self):
        return InputSpec(self.input_shape, self.input_dtype, self.modality,
                         feature_axis=None if self._text else -1)

    @property
    def _text(self):
        return self.modality == "text"

    def adapt(self, x, y):
        """Fits the task, the per-channel statistics, or the vocabulary size.

        Word ids keep their integer dtype and set `vocabulary_size` to the
        largest id plus one (read in chunks); other inputs are handled as
        `SearchSpace.adapt` does.
        """
        if not self._text:
            super().adapt(x, y)
            return
        self.task = self.task.fit(y)
        if not is_array(x):
            x = np.asarray(x)
        self.input_dtype = "int64"
        largest = max(int(part.max()) for part in chunks(x, CHUNK_BYTES))
        self.vocabulary_size = max(largest + 1, self.vocabulary_size or 0, 2)

    def _statistics_axes(self):
        """The channel axis (mel bands), or none for one-channel series."""
        rank = len(self.input_shape)
        return (rank,) if rank > 1 else ()

    def _decide(self, hp):
        num_blocks = hp.Int("num_blocks", self.min_blocks, self.max_blocks)
        embedding = (hp.Choice("embedding_dim", list(self.embedding_dims))
                     if self._text else None)
        positions = hp.Choice("positions", list(self.positions))
        blocks = []
        for i in range(self.max_blocks):
            with depth_scope(hp, "num_blocks", i, self.max_blocks):
                blocks.append(self._decide_block(hp, i))
        return {
            "num_blocks": num_blocks,
            "embedding_dim": embedding,
            "positions": positions,
            "blocks": blocks[:num_blocks],
            "dropout": hp.Choice("dropout", list(self.dropout_rates)),
            "reduction": hp.Choice("reduction", list(self.reductions)),
        }

    def _decide_block(self, hp, i):
        block = {"operation": hp.Choice(f"op_{i}", list(self.operations))}
        if self._weighted:
            with hp.conditional_scope(f"op_{i}", self._weighted):
                block["width"] = hp.Choice(f"width_{i}", list(self.widths))
        if "attention" in self.operations:
            with hp.conditional_scope(f"op_{i}", ["attention"]):
                block["heads"] = hp.Choice(f"heads_{i}", list(self.heads))
                block["feed_forward"] = hp.Choice(f"ff_{i}", list(self.feed_forward))
                block["norm"] = hp.Choice(f"norm_{i}", list(self.norms))
        block["pool"] = hp.Choice(f"pool_{i}", list(self.pooling))
        if self.skip_connections:
            block["skip"] = hp.Boolean(f"skip_{i}")
        return block

    def _build_network(self, decisions):
        inputs = self._inputs()
        outputs = self._network_outputs(
            inputs, decisions, lambda x, keep, index, block: _block(x, keep, block)
        )
        return keras.Model(inputs, outputs, name="sequencenet")

    def _inputs(self):
        dtype = self.input_dtype if self._text else "float32"
        return keras.Input(shape=self.input_shape, dtype=dtype, name="inputs")

    def _front(self, inputs, embedding_dim, width):
        """The modality's front end: `(batch, steps, features)` and `keep`."""
        if self._text:
            if self.vocabulary_size is None:
                raise ValueError(
                    "SequenceNet on text needs `vocabulary_size` (set by `adapt` "
                    "on the training word ids, or given). Received: "
                    "vocabulary_size=None"
                )
            x = keras.layers.Embedding(self.vocabulary_size, embedding_dim,
                                       name="embedding")(inputs)
            return x, Keep(name="keep")(inputs)
        x = self._features(inputs)
        steps = self.input_shape[0]
        channels = int(np.prod(self.input_shape[1:], dtype=int))
        x = keras.layers.Reshape((steps, channels), name="steps")(x)
        x = keras.layers.Conv1D(width, 3, padding="same", use_bias=False,
                                name="stem")(x)
        x = batch_norm_layer()(x)
        return keras.layers.Activation("relu")(x), None

    def _features(self, inputs):
        """Normalised per channel (after the steps axis), when `normalize`."""
        if not self.normalize:
            return inputs
        statistics = self.normalization
        channels = self.input_shape[1:] or (1,)
        if statistics is None:
            statistics = {"mean": np.zeros(channels[-1]),
                          "variance": np.ones(channels[-1])}
        x = inputs if len(self.input_shape) > 1 else keras.layers.Reshape(
            (self.input_shape[0], 1))(inputs)
        return keras.layers.Normalization(
            axis=-1,
            mean=np.reshape(statistics["mean"], (-1,)),
            variance=np.reshape(statistics["variance"], (-1,)),
            name="normalization",
        )(x)

    def _network_outputs(self, inputs, decisions, operation):
        """The network around its blocks' operations (space and supernet).

        Args:
            inputs: The model input.
            decisions: `embedding_dim`, `positions`, `dropout`, `reduction`
                and `blocks`, one dict per block with its `pool`, optional
                `skip` and what `operation` reads.
            operation: `operation(x, keep, index, block)` applies block
                `index`'s operation.

        Returns:
            The task's outputs.
        """
        x, keep = self._front(inputs, decisions["embedding_dim"], min(self.widths))
        x = Positions(decisions["positions"], name="positions")(x)
        with warnings.catch_warnings():
            # Recurrent layers pass their `mask` on, which the next layers
            # drop (Keras says so); the padding is handled through `keep`.
            warnings.filterwarnings("ignore", "Layer .* was passed an input with "
                                    "a mask attached", UserWarning)
            x = self._blocks(x, keep, decisions, operation)
        return self._classifier(x)

    @staticmethod
    def _blocks(x, keep, decisions, operation):
        """The chain of blocks and the reduction (see `_network_outputs`)."""
        for index, block in enumerate(decisions["blocks"]):
            h = operation(x, keep, index, block)
            if block.get("skip") and h is not x:
                shortcut = x
                if x.shape[-1] != h.shape[-1]:
                    shortcut = keras.layers.Dense(h.shape[-1], use_bias=False)(x)
                h = keras.layers.Add()([h, shortcut])
            if decisions["dropout"] > 0 and h is not x:
                h = keras.layers.Dropout(decisions["dropout"])(h)
            if block["pool"] == "max" and h.shape[1] >= 2:
                if keep is None:
                    h = keras.layers.MaxPooling1D(2)(h)
                else:
                    h = MaskedMaxPooling()(h, keep)
                    keep = PoolKeep()(keep)
            x = h
        return Reduce(decisions["reduction"], name="reduce")(x, keep=keep)

    def supernet(self, fixed=None):
        """The one-shot supernet: every block's operation `op_i` is mixed.

        During the search every block has the smallest width (`width_i =
        min(widths)`, and attention blocks the fewest `heads_i`, the
        smallest `ff_i` and the first of `norms`), so that identity and
        the operations of a block have one shape and can be mixed; text
        embeds to that width too (a projection follows when it is not an
        embedding size). Other decisions are fixed: `num_blocks =
        max_blocks`, `pool_i = "none"` (when offered), `skip_i = False`,
        `positions` sinusoidal (when offered), no dropout (the smallest
        rate) and the global average (when offered). The derived
        architecture keeps these values.

        Args:
            fixed: Optional dict overriding the fixed values, with keys among
                `"num_blocks"`, `"pool"` and `"skip"`.

        Returns:
            A `keras_nas.spaces.SupernetSpec`.

        Raises:
            ValueError: If `fixed` has an unknown key or an invalid value.
        """
        settings = chain_supernet_settings(self, fixed or {})
        width = min(self.widths)
        embedding = (width if width in self.embedding_dims
                     else min(self.embedding_dims))
        shared = {
            "positions": "sinusoidal" if "sinusoidal" in self.positions
            else self.positions[0],
            "dropout": min(self.dropout_rates),
            "reduction": "avg" if "avg" in self.reductions else self.reductions[0],
        }
        values = {"num_blocks": settings["num_blocks"], **shared}
        if self._text:
            values["embedding_dim"] = embedding
        blocks = []
        for i in range(settings["num_blocks"]):
            values[f"pool_{i}"] = settings["pool"]
            if self.skip_connections:
                values[f"skip_{i}"] = settings["skip"]
            blocks.append({"pool": settings["pool"], "skip": settings["skip"]})
        when_active = {}
        for i in range(settings["num_blocks"]):
            if self._weighted:
                when_active[f"width_{i}"] = width
            if "attention" in self.operations:
                when_active.update({f"heads_{i}": min(self.heads),
                                    f"ff_{i}": min(self.feed_forward),
                                    f"norm_{i}": self.norms[0]})
        candidate = {"width": width, "heads": min(self.heads),
                     "feed_forward": min(self.feed_forward), "norm": self.norms[0]}

        def build(mixed, affine):
            inputs = self._inputs()
            decisions = {**shared, "embedding_dim": embedding, "blocks": blocks}

            def operation(x, keep, index, block):
                if x.shape[-1] != width:
                    x = keras.layers.Dense(width, name=f"project_{index}")(x)
                return mixed(
                    f"op_{index}", x,
                    lambda h, op: _block(h, keep, {**candidate, "operation": op},
                                         affine),
                    name=f"mixed_op_{index}",
                )

            return inputs, self._network_outputs(inputs, decisions, operation)

        return SupernetSpec(
            decisions={f"op_{i}": tuple(self.operations)
                       for i in range(settings["num_blocks"])},
            build=build,
            fixed=values,
            fixed_when_active=when_active,
            parameter_free=("identity",) if "identity" in self.operations else (),
        )

    def structure(self):
        roles = {"operation": "op", "pool": "pool"}
        if self._weighted:
            roles["width"] = "width"
        if "attention" in self.operations:
            roles.update(heads="heads", feed_forward="ff", norm="norm")
        if self.skip_connections:
            roles["skip"] = "skip"
        return chain_structure(roles, "num_blocks", self.max_blocks)

    def get_config(self):
        return {
            **super().get_config(),
            "min_blocks": self.min_blocks,
            "max_blocks": self.max_blocks,
            "operations": list(self.operations),
            "widths": list(self.widths),
            "embedding_dims": list(self.embedding_dims),
            "heads": list(self.heads),
            "feed_forward": list(self.feed_forward),
            "norms": list(self.norms),
            "pooling": list(self.pooling),
            "positions": list(self.positions),
            "reductions": list(self.reductions),
            "dropout_rates": list(self.dropout_rates),
            "skip_connections": self.skip_connections,
            "vocabulary_size": self.vocabulary_size,
        }
