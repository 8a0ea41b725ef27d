"""Tests for keras_nas.encoding: hyperparameters <-> integer vectors."""

import itertools

import keras_tuner as kt
import numpy as np
import pytest

from keras_nas.encoding import INACTIVE
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.encoding import RepeatedStructure
from keras_nas.spaces import MLP
from keras_nas.spaces import ConvNet
from keras_nas.spaces import NB201Cell


def small_mlp(**kwargs):
    args = dict(
        input_shape=(4,),
        num_classes=3,
        min_layers=1,
        max_layers=3,
        widths=(4, 8),
        activations=("relu", "tanh"),
        dropout_rates=(0.0, 0.5),
        batch_norm=(False, True),
        skip_connections=True,
    )
    args.update(kwargs)
    return MLP(**args)


def small_convnet(**kwargs):
    args = dict(
        input_shape=(8, 8, 1),
        num_classes=3,
        min_blocks=1,
        max_blocks=3,
        filters=(4, 8),
        pooling=("none", "max"),
    )
    args.update(kwargs)
    return ConvNet(**args)


def small_nb201(**kwargs):
    return NB201Cell(input_shape=(8, 8, 1), num_classes=3, channels=4, **kwargs)


SPACES = {
    "mlp": small_mlp,
    "convnet": small_convnet,
    "nb201": small_nb201,
}


def encoding_of(space, **kwargs):
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    return ArchitectureEncoding(hp, space.structure(), **kwargs)


@pytest.fixture(params=sorted(SPACES))
def space_encoding(request):
    space = SPACES[request.param]()
    return space, encoding_of(space)


def plain_space():
    """A plain KerasTuner space: every hp type, nested conditional scopes."""
    hp = kt.HyperParameters()
    hp.Int("depth", 1, 3)  # no step: linear Int, step 1, listed exactly
    hp.Int("width", 8, 64, step=8)
    hp.Int("wide", 1, 1000)  # too many values: binned
    hp.Float("lr", 1e-4, 1e-2, sampling="log")  # continuous: binned
    hp.Float("rate", 0.0, 0.4, step=0.1)
    hp.Boolean("bn")
    hp.Fixed("act", "relu")
    hp.Choice("kind", ["a", "b", "c"])
    with hp.conditional_scope("kind", ["b", "c"]):
        hp.Choice("size", [1, 2, 3])
        with hp.conditional_scope("size", [2, 3]):
            hp.Boolean("extra")
            with hp.conditional_scope("extra", [True]):
                hp.Float("extra_rate", 0.0, 1.0)
    with hp.conditional_scope("depth", [3]):
        hp.Choice("last", ["x", "y"])
    return hp


# --------------------------------------------------------------- round trips


def test_random_vectors_round_trip(space_encoding):
    space, enc = space_encoding
    rng = np.random.default_rng(0)
    for _ in range(300):
        vec = enc.random_vector(rng)
        assert vec.dtype == np.int64 and vec.shape == (len(enc),)
        values = enc.decode(vec)
        np.testing.assert_array_equal(enc.encode(values), vec)
        assert enc.decode(enc.encode(values)) == values


def test_decoded_values_are_plain_python(space_encoding):
    _, enc = space_encoding
    rng = np.random.default_rng(1)
    for _ in range(50):
        for value in enc.decode(enc.random_vector(rng)).values():
            assert type(value) in (bool, int, float, str), type(value)


def test_canonical_vectors_round_trip(space_encoding):
    _, enc = space_encoding
    for vec in itertools.islice(enc.enumerate(), 0, None, 7):
        np.testing.assert_array_equal(enc.encode(enc.decode(vec)), vec)
        np.testing.assert_array_equal(
            enc.repair(vec, np.random.default_rng(0)), vec
        )


def test_values_accepted_by_keras_tuner(space_encoding):
    space, enc = space_encoding
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    rng = np.random.default_rng(2)
    for _ in range(30):
        values = enc.decode(enc.random_vector(rng))
        hp.values = dict(values)
        active = {p.name for p in hp.space if hp.is_active(p)}
        assert set(values) == active


def test_encode_ignores_extra_and_inactive_keys():
    enc = encoding_of(small_mlp())
    values = {"num_layers": 1, "units_0": 8, "units_2": 4, "unrelated": 3}
    vec = enc.encode(values)
    assert vec[enc.slot_of("units_2")] == INACTIVE
    assert "unrelated" not in enc.decode(vec)
    assert enc.decode(vec)["units_0"] == 8


def test_encode_fills_missing_active_values_with_defaults():
    enc = encoding_of(small_mlp())
    vec = enc.encode({"num_layers": 2})
    values = enc.decode(vec)
    assert values["units_0"] == 4 and values["units_1"] == 4
    assert values["activation_1"] == "relu"
    assert values["skip_0"] is False


def test_encode_rejects_unknown_categorical_value():
    enc = encoding_of(small_mlp())
    with pytest.raises(ValueError, match="activation_0"):
        enc.encode({"num_layers": 1, "activation_0": "softplus"})


# ---------------------------------------------------------- inactive slots


def test_inactive_slots_hold_inactive_token():
    enc = encoding_of(small_mlp())
    vec = enc.encode({"num_layers": 1, "units_0": 8})
    for name in enc.names:
        if name.endswith("_1") or name.endswith("_2"):
            assert vec[enc.slot_of(name)] == INACTIVE, name
        else:
            assert vec[enc.slot_of(name)] != INACTIVE, name
    assert vec[enc.slot_of("units_1")] == INACTIVE
    assert set(enc.decode(vec)) == {
        "num_layers", "units_0", "activation_0", "dropout_0",
        "batch_norm_0", "skip_0",
    }
    np.testing.assert_array_equal(
        enc.active_mask(vec), vec != INACTIVE
    )


def test_convnet_identity_block_has_inactive_filters():
    enc = encoding_of(small_convnet())
    vec = enc.encode({"num_blocks": 2, "op_0": "identity", "op_1": "conv3x3"})
    assert vec[enc.slot_of("filters_0")] == INACTIVE
    assert vec[enc.slot_of("filters_1")] != INACTIVE
    assert vec[enc.slot_of("op_2")] == INACTIVE
    assert "filters_0" not in enc.decode(vec)


def test_decode_ignores_junk_in_inactive_slots(space_encoding):
    _, enc = space_encoding
    rng = np.random.default_rng(3)
    for _ in range(100):
        vec = enc.random_vector(rng)
        junk = vec.copy()
        inactive = vec == INACTIVE
        junk[inactive] = rng.integers(-5, 100, size=int(inactive.sum()))
        assert enc.decode(junk) == enc.decode(vec)
        np.testing.assert_array_equal(enc.repair(junk, rng), vec)


def test_repair_makes_any_vector_canonical(space_encoding):
    _, enc = space_encoding
    rng = np.random.default_rng(4)
    for _ in range(200):
        raw = rng.integers(-3, 12, size=len(enc))
        fixed = enc.repair(raw, rng)
        assert fixed is not raw
        np.testing.assert_array_equal(enc.encode(enc.decode(fixed)), fixed)
        # Valid active entries survive repair.
        keep = (raw >= 0) & (raw < enc.cardinalities) & enc.active_mask(fixed)
        np.testing.assert_array_equal(fixed[keep], raw[keep])


def test_repair_does_not_modify_its_input():
    enc = encoding_of(small_mlp())
    raw = np.full(len(enc), 99)
    copy = raw.copy()
    enc.repair(raw, np.random.default_rng(0))
    np.testing.assert_array_equal(raw, copy)


def test_decode_rejects_inactive_token_in_active_slot(space_encoding):
    _, enc = space_encoding
    vec = enc.random_vector(np.random.default_rng(5))
    bad = vec.copy()
    bad[0] = INACTIVE  # the first slot is always active
    with pytest.raises(ValueError, match="active"):
        enc.decode(bad)


def test_decode_rejects_out_of_range_index():
    enc = encoding_of(small_mlp())
    vec = enc.encode({"num_layers": 1})
    vec[enc.slot_of("units_0")] = 2  # only 2 widths
    with pytest.raises(ValueError, match="units_0"):
        enc.decode(vec)


@pytest.mark.parametrize("delta", [-1, 1])
def test_decode_rejects_wrong_length(space_encoding, delta):
    _, enc = space_encoding
    with pytest.raises(ValueError, match="shape"):
        enc.decode(np.zeros(len(enc) + delta, dtype=np.int64))
    with pytest.raises(ValueError, match="shape"):
        enc.repair(np.zeros(len(enc) + delta), np.random.default_rng(0))


def test_invalid_float_bins():
    hp = kt.HyperParameters()
    hp.Float("lr", 0.0, 1.0)
    for bins in (1, 0, 2.5, "10"):
        with pytest.raises(ValueError, match="float_bins"):
            ArchitectureEncoding(hp, float_bins=bins)


def test_unknown_name():
    enc = encoding_of(small_mlp())
    with pytest.raises(KeyError, match="nope"):
        enc.slot_of("nope")


# ------------------------------------------------------------------- count


def brute_force_count(enc):
    """Counts canonical vectors among all of {INACTIVE, 0..card-1}^n."""
    ranges = [range(INACTIVE, int(c)) for c in enc.cardinalities]
    total = 0
    for vec in itertools.product(*ranges):
        vec = np.array(vec)
        try:
            values = enc.decode(vec)
        except ValueError:
            continue
        if np.array_equal(enc.encode(values), vec):
            total += 1
    return total


def test_count_matches_product_brute_force_mlp():
    space = small_mlp(
        max_layers=2, activations=("relu",), dropout_rates=(0.0,),
        skip_connections=False,
    )
    enc = encoding_of(space)
    # Per layer: 2 widths x 2 batch norms.
    assert enc.count() == 4 + 4**2
    assert brute_force_count(enc) == enc.count()


def test_count_matches_product_brute_force_convnet():
    space = small_convnet(
        max_blocks=2, operations=("conv3x3", "identity"), filters=(4, 8),
        pooling=("none",), skip_connections=False,
    )
    enc = encoding_of(space)
    # Per block: conv3x3 with 2 filters, or identity.
    assert enc.count() == 3 + 3**2
    assert brute_force_count(enc) == enc.count()


@pytest.mark.parametrize("name", ["mlp", "convnet"])  # nb201: test_count_nb201
def test_count_matches_enumerate(name):
    enc = encoding_of(SPACES[name]())
    vectors = list(enc.enumerate())
    assert len(vectors) == enc.count()
    assert len({enc.key(v) for v in vectors}) == len(vectors)


def test_count_hand_formulas():
    # MLP: per layer 2 widths x 2 acts x 2 dropouts x 2 bn x 2 skip = 32.
    assert encoding_of(small_mlp()).count() == 32 + 32**2 + 32**3
    # ConvNet: per block (4 convs x 2 filters + identity) x 2 pools x 2 skips.
    assert encoding_of(small_convnet()).count() == 36 + 36**2 + 36**3
    tiny = small_mlp(
        min_layers=1, max_layers=2, widths=(4, 8), activations=("relu",),
        dropout_rates=(0.0,), batch_norm=(False,), skip_connections=False,
    )
    assert encoding_of(tiny).count() == 2 + 4
    assert encoding_of(small_mlp(min_layers=2, max_layers=2)).count() == 32**2


def test_count_nb201():
    enc = encoding_of(small_nb201())
    assert enc.count() == 5**6 == 15625
    vectors = list(enc.enumerate())
    assert len(vectors) == 15625
    assert len({enc.key(v) for v in vectors}) == 15625
    three = encoding_of(
        small_nb201(operations=("none", "skip_connect", "nor_conv_3x3"))
    )
    assert three.count() == 3**6


def test_enumerate_is_canonical_and_lexicographic():
    enc = encoding_of(small_convnet(max_blocks=2))
    vectors = list(enc.enumerate())
    assert len(vectors) == enc.count()
    keys = [enc.key(v) for v in vectors]
    assert keys == sorted(keys), "enumerate() is not in lexicographic order"
    assert len(set(keys)) == len(keys)
    rng = np.random.default_rng(0)
    for vec in vectors:
        np.testing.assert_array_equal(enc.repair(vec, rng), vec)


# ----------------------------------------------------- plain KerasTuner space


def test_plain_space_slots():
    enc = ArchitectureEncoding(plain_space())
    slots = {slot.name: slot for slot in enc.slots}
    assert slots["depth"].choices == (1, 2, 3) and slots["depth"].exact
    assert slots["width"].choices == tuple(range(8, 65, 8))
    assert slots["width"].exact
    assert not slots["wide"].exact and len(slots["wide"].choices) == 10
    assert not slots["lr"].exact and len(slots["lr"].choices) == 10
    assert all(1e-4 <= v <= 1e-2 for v in slots["lr"].choices)
    assert slots["rate"].exact and len(slots["rate"].choices) == 5
    assert slots["bn"].choices == (False, True)
    assert slots["act"].choices == ("relu",)
    assert slots["extra_rate"].exact is False
    assert not enc.exact
    assert len(ArchitectureEncoding(plain_space(), float_bins=4).slots[3].choices) == 4


def test_plain_space_round_trips():
    enc = ArchitectureEncoding(plain_space())
    rng = np.random.default_rng(6)
    seen_kinds = set()
    for _ in range(300):
        vec = enc.random_vector(rng)
        values = enc.decode(vec)
        np.testing.assert_array_equal(enc.encode(values), vec)
        seen_kinds.add((values["kind"], values.get("size"), values.get("extra")))
        assert ("size" in values) == (values["kind"] != "a")
        assert ("extra" in values) == (values.get("size") in (2, 3))
        assert ("extra_rate" in values) == (values.get("extra") is True)
        assert ("last" in values) == (values["depth"] == 3)
        assert values["act"] == "relu"
    assert ("c", 3, True) in seen_kinds and ("a", None, None) in seen_kinds


def test_plain_space_count():
    enc = ArchitectureEncoding(plain_space(), float_bins=3)
    # depth (1,2 + 3 with 2 'last') = 4; width 8; wide 3; lr 3; rate 5; bn 2;
    # kind: a -> 1, b/c -> size 1 (1) or size 2/3 x (extra False 1 + True 3).
    kind = 1 + 2 * (1 + 2 * (1 + 3))
    assert enc.count() == 4 * 8 * 3 * 3 * 5 * 2 * kind
    assert enc.count() == sum(1 for _ in enc.enumerate())


def test_continuous_values_encode_to_nearest_bin():
    hp = kt.HyperParameters()
    hp.Float("lr", 1e-4, 1e-2, sampling="log")
    enc = ArchitectureEncoding(hp, float_bins=10)
    choices = enc.slots[0].choices
    for k, choice in enumerate(choices):
        assert enc.encode({"lr": choice})[0] == k
        # Slightly off the bin centre (in log space) still lands in it.
        assert enc.encode({"lr": choice * 1.05})[0] == k
    assert enc.encode({"lr": 1e-4})[0] == 0
    assert enc.encode({"lr": 1e-2})[0] == 9
    assert enc.decode(enc.encode({"lr": 0.00123}))["lr"] == pytest.approx(
        choices[5]
    )


def test_stepped_numeric_values_encode_to_nearest_choice():
    """Off-grid values of stepped `Int`/`Float` should map to the nearest.

    The declared default 0.3 of `Float(0, 0.4, step=0.1)` is stored by
    KerasTuner's grid as 0.30000000000000004, so encoding the default goes
    through the numeric fallback of `_choice_index`, which ranks choices by
    `value_to_prob`: for stepped ranges that floors to the step below.
    """
    hp = kt.HyperParameters()
    hp.Float("rate", 0.0, 0.4, step=0.1, default=0.3)
    hp.Int("width", 8, 64, step=8)
    enc = ArchitectureEncoding(hp)
    rate = enc.decode(enc.encode({}))["rate"]
    assert rate == pytest.approx(0.3), (
        "BUG keras_nas/encoding.py _choice_index: the declared default "
        f"rate=0.3 of Float(0, 0.4, step=0.1) encodes as {rate}, not the "
        "nearest choice 0.30000000000000004 (value_to_prob floors stepped "
        "values)"
    )
    width = enc.decode(enc.encode({"width": 15}))["width"]
    assert width == 16, (
        "BUG keras_nas/encoding.py _choice_index: width=15 of "
        f"Int(8, 64, step=8) encodes as {width}, not the nearest choice 16"
    )


def test_log_stepped_int_choices_are_ints():
    """An `Int` decodes to Python ints, whatever its sampling.

    KerasTuner's `Int(..., step=2, sampling="log").values` yields floats
    (8.0, 16.0, ...) while its `prob_to_value` returns ints; the encoding
    lists `hp.values` as they come.
    """
    hp = kt.HyperParameters()
    hp.Int("units", 8, 32, step=2, sampling="log")
    enc = ArchitectureEncoding(hp)
    assert enc.slots[0].exact
    assert enc.slots[0].choices == (8, 16, 32)
    decoded = [enc.decode(v)["units"] for v in enc.enumerate()]
    assert all(type(v) is int for v in decoded), (
        "BUG keras_nas/encoding.py _make_slot: Int(8, 32, step=2, "
        f"sampling='log') decodes to {decoded}, floats for an Int decision "
        "(keras.layers.Dense rejects units=16.0)"
    )


def test_plain_kerastuner_space_from_build_function():
    """The space KerasTuner discovers from a plain `build(hp)` encodes too."""

    def build(hp):
        layers = hp.Int("layers", 1, 2)
        for i in range(layers):
            with hp.conditional_scope("layers", list(range(i + 1, 3))):
                hp.Choice(f"units_{i}", [4, 8])
        hp.Boolean("flag")

    hp = kt.HyperParameters()
    hp.values["layers"] = 2
    build(hp)
    enc = ArchitectureEncoding(hp)
    assert enc.names == ("layers", "units_0", "units_1", "flag")
    assert enc.count() == 2 * (2 + 4)
    assert enc.decode(enc.encode({"layers": 1, "units_0": 8, "units_1": 8})) == {
        "layers": 1, "units_0": 8, "flag": False,
    }


# --------------------------------------------------------------- structure


def test_mlp_structure():
    space = small_mlp()
    enc = encoding_of(space)
    st = enc.structure
    assert st.kind == "chain"
    assert len(st.units) == 3
    assert st.count_slot == enc.slot_of("num_layers") == 0
    assert st.count_values == (1, 2, 3)
    for i, unit in enumerate(st.units):
        assert set(unit) == {"operation", "units", "dropout", "batch_norm", "skip"}
        assert enc.names[unit["operation"]] == f"activation_{i}"
        assert enc.names[unit["units"]] == f"units_{i}"
        assert enc.names[unit["skip"]] == f"skip_{i}"
    no_skip = encoding_of(small_mlp(skip_connections=False)).structure
    assert "skip" not in no_skip.units[0]


def test_convnet_structure():
    enc = encoding_of(small_convnet())
    st = enc.structure
    assert st.kind == "chain"
    assert st.count_slot == enc.slot_of("num_blocks")
    assert enc.names[st.count_slot] == "num_blocks"
    assert enc.names[st.units[1]["operation"]] == "op_1"
    assert enc.names[st.units[1]["filters"]] == "filters_1"
    assert enc.names[st.units[2]["pool"]] == "pool_2"
    assert enc.names[st.units[0]["skip"]] == "skip_0"
    identity_only = encoding_of(small_convnet(operations=("identity",)))
    assert set(identity_only.structure.units[0]) == {"operation", "pool", "skip"}


def test_nb201_structure():
    enc = encoding_of(small_nb201())
    st = enc.structure
    assert st.kind == "cell"
    assert len(st.units) == 6
    assert st.count_slot is None and st.count_values == ()
    assert [enc.names[u["operation"]] for u in st.units] == [
        "edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2",
    ]


def test_structure_with_mismatched_roles_raises():
    hp = kt.HyperParameters()
    hp.Choice("a", [1, 2])
    hp.Choice("b", [1, 2])
    hp.Choice("c", [1, 2])
    bad = RepeatedStructure(
        kind="cell", units=({"operation": "a"}, {"operation": "b", "skip": "c"})
    )
    with pytest.raises(ValueError, match="roles"):
        ArchitectureEncoding(hp, bad)
    with pytest.raises(ValueError, match="kind"):
        ArchitectureEncoding(
            hp, RepeatedStructure(kind="tree", units=({"operation": "a"},))
        )
    with pytest.raises(KeyError, match="missing"):
        ArchitectureEncoding(
            hp, RepeatedStructure(kind="cell", units=({"operation": "missing"},))
        )
