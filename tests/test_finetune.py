"""Tests for keras_nas.runs.finetune and `keras-nas finetune`."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from keras_nas.data.splits import split_dataset
from keras_nas.runs.ensembles import ensemble_model
from keras_nas.runs.export import export_saved_model
from keras_nas.runs.finetune import LEARNING_RATES
from keras_nas.runs.finetune import StepEarlyStopping
from keras_nas.runs.finetune import finetune
from keras_nas.spaces import MLP
from keras_nas_cli.main import app

DECISIONS = {
    "num_layers": 2,
    **{f"{name}_{i}": value for i in range(2) for name, value in (
        ("units", 32), ("activation", "relu"), ("dropout", 0.0),
        ("batch_norm", False))},
}


def _data(classes, n=30, features=6, seed=0):
    """`n` samples per class of `classes`, separable, split 60/20/20."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.asarray(classes), n)
    x = rng.normal(size=(len(y), features)).astype("float32")
    x[:, 0] += y
    return split_dataset("toy", x, y, seed=0, validation_fraction=0.2,
                         test_fraction=0.2)


@pytest.fixture
def source(tmp_path):
    """An MLP trained one epoch on classes 0-2, exported; its path."""
    data = _data([0, 1, 2])
    space = MLP(input_shape=(6,), min_layers=2, max_layers=2, widths=(32,),
                skip_connections=False, task=data.task, normalize=True)
    space.adapt(data.x_train, data.y_train)
    model = space.build_architecture(DECISIONS)
    model.fit(data.x_train, data.y_train, epochs=1, verbose=0)
    path = export_saved_model(model, tmp_path / "source", architecture={
        **space.describe(DECISIONS), "task": data.task.get_config(),
    })
    return path


def _served(path, x):
    loaded = tf.saved_model.load(str(path))
    return loaded.serve(tf.constant(x)).numpy()


@pytest.mark.parametrize("mode", ["full", "features", "lora"])
def test_each_mode_exports_a_served_model_with_a_new_head(source, tmp_path, mode):
    new = _data([0, 1, 2, 3], seed=1)
    result = finetune(source, new, tmp_path / mode, mode=mode, rank=2, epochs=1)
    probs = _served(result.path, new.x_test)
    assert probs.shape == (len(new.x_test), 4)
    model = keras.saving.load_model(result.path / "model.keras", compile=False)
    np.testing.assert_allclose(probs, model(new.x_test).numpy(), atol=1e-5)
    metrics = json.loads((result.path / "metrics.json").read_text())
    assert metrics["class_names"] == [0, 1, 2, 3]
    assert metrics["finetune"]["new_head"] is True
    assert 0 <= metrics["test_accuracy"] <= 1
    assert metrics["trainable_params"] == result.trainable_params


def test_trainable_parameters_follow_the_mode(source, tmp_path):
    new = _data([0, 1, 2], seed=1)
    counts = {
        mode: finetune(source, new, tmp_path / mode, mode=mode, rank=1,
                       epochs=1).trainable_params
        for mode in ("full", "features", "lora")
    }
    # Kept head (same classes): features trains the head, 32 * 3 + 3.
    assert counts["features"] == 32 * 3 + 3
    assert counts["lora"] < counts["full"] / 3
    full_model = json.loads((tmp_path / "full" / "metrics.json").read_text())
    assert counts["full"] == full_model["params"] == 6 * 32 + 32 + 32 * 32 + 32 + 99


def test_lora_is_merged_into_plain_layers(source, tmp_path):
    new = _data([0, 1, 2], seed=1)
    result = finetune(source, new, tmp_path / "lora", mode="lora", rank=2,
                      epochs=3)
    tuned = keras.saving.load_model(result.path / "model.keras", compile=False)
    original = keras.saving.load_model(source / "model.keras", compile=False)
    assert not any(getattr(layer, "lora_enabled", False) for layer in tuned.layers)
    assert tuned.count_params() == original.count_params()
    changed = [
        not np.allclose(a, b)
        for a, b in zip(tuned.get_weights(), original.get_weights())
    ]
    assert any(changed)


def test_features_with_unfreeze_top_trains_more(source, tmp_path):
    new = _data([0, 1, 2], seed=1)
    frozen = finetune(source, new, tmp_path / "a", mode="features", epochs=1)
    top = finetune(source, new, tmp_path / "b", mode="features", epochs=1,
                   unfreeze_top=True)
    assert top.trainable_params == frozen.trainable_params + 32 * 32 + 32
    assert len(top.metrics["epochs_trained"]) == 2


def test_step_budget_is_honoured_and_recorded(source, tmp_path):
    new = _data([0, 1, 2], seed=1)  # 54 training samples: 2 steps an epoch
    result = finetune(source, new, tmp_path / "a", mode="features", steps=5,
                      unfreeze_top=True)
    metrics = json.loads((result.path / "metrics.json").read_text())
    assert metrics["steps_trained"] == [5, 5]
    assert metrics["epochs_trained"] == [2.5, 2.5]
    assert all(1 <= best <= 5 for best in metrics["best_step"])
    assert metrics["finetune"]["steps"] == 5
    assert metrics["finetune"]["learning_rates"] == [
        LEARNING_RATES["features"], LEARNING_RATES["top"]]


def test_step_early_stopping_waits_for_min_steps_then_patience():
    stop = StepEarlyStopping(steps_per_epoch=3, patience=3, min_steps=12)
    seen = []
    for loss in (1.0, 0.5, 0.6, 0.7, 0.8):
        stop.update(loss)
        seen.append(stop.should_stop())
    # Patience is met at step 9, but stopping waits for step 12.
    assert seen == [False, False, False, True, True]
    assert (stop.steps, stop.best_step, stop.best) == (15, 6, 0.5)


def test_an_ensemble_export_is_refused(tmp_path):
    def member():
        inputs = keras.Input((6,))
        return keras.Model(inputs, keras.layers.Dense(3, name="classifier")(inputs))

    members = [member(), member()]
    ensemble = tmp_path / "ensemble"
    ensemble.mkdir()
    ensemble_model(members, [0.5, 0.5]).save(ensemble / "model.keras")
    (ensemble / "architecture.json").write_text("{}")
    with pytest.raises(ValueError, match="ensemble"):
        finetune(ensemble, _data([0, 1, 2]), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_unknown_mode_and_bad_shape_raise(source, tmp_path):
    with pytest.raises(ValueError, match="mode='adapter'"):
        finetune(source, _data([0, 1]), tmp_path / "x", mode="adapter")
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        finetune(source, _data([0, 1], features=5), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_finetunes_and_refuses_bad_input_in_one_line(source, tmp_path):
    new = _data([0, 1, 2], seed=1)
    npz = tmp_path / "new.npz"
    np.savez(npz, x=np.concatenate([new.x_train, new.x_val, new.x_test]),
             y=np.concatenate([new.y_train, new.y_val, new.y_test]))
    runner = CliRunner()
    ok = runner.invoke(app, ["finetune", str(source), "--dataset", str(npz),
                             "--mode", "lora", "--rank", "2", "--steps", "5",
                             "--epochs", "1", "--learning-rate", "0.01",
                             "--out", str(tmp_path / "out")])
    assert ok.exit_code == 0, ok.output
    assert "trainable" in ok.output and "test_accuracy" in ok.output
    assert "2 steps" in ok.output  # --epochs 1 caps --steps 5: 54 samples, batch 32
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["finetune"]["learning_rates"] == [0.01]
    assert (tmp_path / "out" / "saved_model.pb").is_file()
    np.savez(tmp_path / "wide.npz", x=np.zeros((30, 5)), y=np.arange(30) % 3)
    for args, words in (
        (["--dataset", str(npz), "--mode", "adapter"], "adapter"),
        (["--dataset", str(tmp_path / "wide.npz")], "(5,)"),
        (["--dataset", str(npz), "--validation-fraction", "0.9"],
         "--validation-fraction"),
    ):
        bad = runner.invoke(app, ["finetune", str(source), *args,
                                  "--out", str(tmp_path / "bad")])
        assert bad.exit_code == 2, bad.output
        assert words in bad.output
        assert len(bad.output.strip().splitlines()) == 1, bad.output
        assert not (tmp_path / "bad").exists()


def test_cli_help_states_the_defaults():
    from keras_nas.runs import finetune as ft

    text = " ".join(CliRunner().invoke(app, ["finetune", "--help"]).output.split())
    assert f"[default: {ft.STEPS}]" in text
    assert f"stops once {ft.MIN_STEPS} steps are done and {ft.PATIENCE_STEPS}" in text
    assert f"every {ft.VALIDATION_STEPS} steps" in text
    rate = {key: f"{value:.0e}".replace("e-0", "e-")
            for key, value in ft.LEARNING_RATES.items()}
    assert (f"{rate['full']} full, {rate['features']} features, then "
            f"{rate['top']} its top block, {rate['lora']} lora") in text


def test_merged_weights_compute_what_the_lora_model_computes():
    from keras_nas.runs.finetune import _merged

    def build():
        inputs = keras.Input((6,))
        h = keras.layers.Dense(8, name="dense_0")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3, name="classifier")(h))

    lora, plain = build(), build()
    lora.get_layer("dense_0").enable_lora(2)
    lora.get_layer("dense_0").lora_kernel_b.assign(np.ones((2, 8)) * 0.3)
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    merged = _merged(lora, plain)
    np.testing.assert_allclose(merged(x).numpy(), lora(x).numpy(), atol=1e-5)
    assert not merged.get_layer("dense_0").lora_enabled
