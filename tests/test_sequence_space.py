"""`SequenceNet`: its decisions compile, train, mask padding, count and serialise."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

import keras_nas as kn
from keras_nas.data.input_spec import InputSpec
from keras_nas.objectives.flops import count_flops
from keras_nas.spaces.sequence import CONVOLUTIONS
from keras_nas.spaces.sequence import OPERATIONS
from keras_nas.spaces.sequence import RECURRENT
from keras_nas.spaces.sequence_layers import REDUCTIONS

SHAPES = {"text": (12,), "audio": (10, 1, 6), "series": (16,),
          "series_channels": (16, 3)}


def _space(kind, **kwargs):
    modality = "series" if kind == "series_channels" else kind
    options = {"vocabulary_size": 40} if kind == "text" else {}
    options.update(kwargs)
    options.setdefault("max_blocks", 4)
    options.setdefault("operations", OPERATIONS)
    return kn.spaces.SequenceNet(SHAPES[kind], 3, modality=modality, **options)


def _data(kind, n=24, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "text":
        x = rng.integers(1, 40, (n, *SHAPES[kind]))
        x[:, 7:] = 0  # Padding at the end, as TextVectorization gives it.
    else:
        x = rng.standard_normal((n, *SHAPES[kind])).astype("float32")
    return x, rng.integers(0, 3, n)


def _architecture(operations, **overrides):
    """Decision values of blocks of `operations`, attention pre-norm."""
    values = {"num_blocks": len(operations), "embedding_dim": 16,
              "positions": "sinusoidal", "dropout": 0.1, "reduction": "avg"}
    for i, operation in enumerate(operations):
        values.update({f"op_{i}": operation, f"width_{i}": 32, f"heads_{i}": 2,
                       f"ff_{i}": 2, f"norm_{i}": "pre", f"pool_{i}": "none",
                       f"skip_{i}": True})
    values.update(overrides)
    return values


_CHAINS = [
    ["sep_conv5", "bigru", "attention", "identity"],
    ["dilated_conv3", "lstm", "attention", "bilstm"],
    ["conv9", "gru", "conv3", "sep_conv9"],
]


def test_the_chains_cover_every_kind_of_operation():
    assert {op for chain in _CHAINS for op in chain} == set(OPERATIONS) - {
        "conv5", "conv7", "dilated_conv5"}  # Same layers, other kernels.


@pytest.mark.parametrize("kind, chain", [
    ("text", 0), ("audio", 1), ("series", 2), ("series_channels", 1),
])  # Each front end, and each chain of operations, once.
def test_operations_train_on_each_modality(kind, chain):
    space = _space(kind)
    x, y = _data(kind)
    space.adapt(x, y)
    values = _architecture(_CHAINS[chain], **{"norm_2": "post", "pool_1": "max"}
                           if chain == 1 else {})
    model = space.build_architecture(values)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x, verbose=0).shape == (len(x), 3)
    # Every layer of the space is counted (an unknown one gives None).
    flops = count_flops(model)
    assert isinstance(flops, int) and flops > 0, (_CHAINS[chain], flops)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_padding_does_not_change_a_text_model_without_convolutions(reduction):
    """The same words padded to 12 or to 20 ids give the same outputs:
    recurrence, attention and the reduction skip the padding."""
    words = np.random.default_rng(1).integers(1, 40, (4, 7))
    outputs = []
    weights = None
    for length in (12, 20):
        space = kn.spaces.SequenceNet((length,), 3, modality="text",
                                      vocabulary_size=40, max_blocks=3)
        values = _architecture(["bigru", "attention", "gru"], reduction=reduction,
                               dropout=0.0, pool_1="max")
        model = space.build_architecture(values)
        if weights is None:
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        ids = np.zeros((4, length), "int64")
        ids[:, :7] = words
        outputs.append(model.predict(ids, verbose=0))
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)


def test_a_model_saves_and_loads_with_its_layers(tmp_path):
    space = _space("text")
    model = space.build_architecture(
        _architecture(["attention", "gru"], reduction="attention",
                      positions="learned"))
    x, _ = _data("text", n=4)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-5)


def test_adapt_sets_the_vocabulary_and_per_channel_statistics():
    text = kn.spaces.SequenceNet((12,), 3, modality="text")
    x, y = _data("text")
    text.adapt(x, y)
    assert text.vocabulary_size == int(x.max()) + 1 and text.input_dtype == "int64"
    series = _space("series_channels")
    x, y = _data("series_channels")
    x = x * np.array([1.0, 10.0, 100.0], "float32") + 5.0
    series.adapt(x, y)
    np.testing.assert_allclose(series.normalization["mean"],
                               x.reshape(-1, 3).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(series.normalization["variance"],
                               x.reshape(-1, 3).var(axis=0), rtol=1e-4)


@pytest.mark.parametrize("spec, words", [
    (InputSpec((100,), "float32", "text"), "integer word ids"),
    (InputSpec((10, 4, 6), "float32", "audio"), "(frames, 1, mels)"),
    (InputSpec((8, 8, 3), "float32", "series"), "(steps, channels)"),
    (InputSpec((8, 8, 1), "uint8", "image", -1), "series or text or audio"),
])
def test_data_it_cannot_take_is_refused_in_one_line(spec, words):
    with pytest.raises(ValueError, match="'sequence' space") as error:
        kn.spaces.SequenceNet.check_accepts(spec)
    assert words in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("argument, value", [
    ("widths", (32, 33)), ("operations", ("gru", "transformer")),
    ("reductions", ("mean",)), ("dropout_rates", (0.1, 1.5)),
    ("max_blocks", 0), ("positions", ("rotary",)),
])
def test_bad_arguments_are_named(argument, value):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        _space("series", **{argument: value})


def test_the_supernet_mixes_every_operation_of_every_block():
    space = _space("text", max_blocks=2)
    spec = space.supernet()
    assert spec.decisions == {f"op_{i}": OPERATIONS for i in range(2)}
    mixed = []

    def mix(decision, x, build_candidate, name=None):
        candidates = [build_candidate(x, value) for value in spec.decisions[decision]]
        shapes = {tuple(c.shape) for c in candidates}
        assert shapes == {tuple(x.shape)}, (decision, shapes)
        mixed.append(decision)
        return keras.layers.Average()(candidates)

    inputs, outputs = spec.build(mix, affine=False)
    assert mixed == list(spec.decisions)
    assert keras.Model(inputs, outputs).predict(_data("text", n=2)[0],
                                                verbose=0).shape == (2, 3)
    derived = {**spec.fixed, **{f"op_{i}": "attention" for i in range(2)},
               **spec.fixed_when_active}
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    hp.values.update(derived)
    assert count_flops(space.build(hp)) > 0


def test_the_structure_exposes_whole_blocks():
    structure = _space("series").structure()
    assert structure.count == "num_blocks" and len(structure.units) == 4
    assert structure.units[2] == {
        "operation": "op_2", "pool": "pool_2", "width": "width_2",
        "heads": "heads_2", "feed_forward": "ff_2", "norm": "norm_2",
        "skip": "skip_2",
    }
    assert set(RECURRENT) | set(CONVOLUTIONS) < set(OPERATIONS)
