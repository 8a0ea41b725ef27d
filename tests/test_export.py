"""Tests for keras_nas.runs.export: SavedModel folders and their metadata."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nas.runs.export import export_saved_model
from keras_nas.runs.export import load_exported
from keras_nas.write_errors import WriteError

ARCHITECTURE = {
    "space": "convnet",
    "space_config": {"num_classes": 3},
    "decisions": {"filters": 4, "kernel_size": 3},
    "arch_str": "conv4x3-gap-dense3",
}


@pytest.fixture
def trained(tiny_images):
    """A tiny functional convnet fitted for one epoch, and its inputs."""
    x, y = tiny_images
    inputs = keras.Input(shape=(8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(3, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=12, verbose=0)
    return model, x


@pytest.fixture
def exported(trained, tmp_path):
    """The trained model exported to tmp_path / "export"."""
    model, x = trained
    metrics = {"val_accuracy": np.float32(0.75), "epochs": np.int64(1),
               "history": np.array([0.5, 0.75])}
    path = export_saved_model(model, tmp_path / "export",
                              architecture=ARCHITECTURE, metrics=metrics)
    return model, x, path


def test_export_writes_all_files(exported):
    model, _, path = exported
    for name in ["saved_model.pb", "model.keras", "architecture.json",
                 "metrics.json"]:
        assert (path / name).is_file(), name
    assert json.loads((path / "architecture.json").read_text()) == ARCHITECTURE
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["params"] == model.count_params()
    assert metrics["val_accuracy"] == pytest.approx(0.75)
    assert metrics["epochs"] == 1
    assert metrics["history"] == [0.5, 0.75]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_saved_model_serves_in_fresh_process_without_keras_nas(
        exported, tmp_path):
    model, x, path = exported
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        m = tf.saved_model.load({str(path)!r})
        assert "serving_default" in m.signatures
        out = m.serve(np.load({str(tmp_path / "x.npy")!r}))
        np.save({str(tmp_path / "out.npy")!r}, out.numpy())
        assert "keras_nas" not in sys.modules
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                            env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"),
                               model(x).numpy(), atol=1e-5)


def test_keras_file_reloads_with_same_predictions(exported):
    model, x, path = exported
    reloaded = keras.saving.load_model(path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-5)


def test_load_exported_round_trip(exported):
    model, x, path = exported
    loaded = load_exported(path)
    assert loaded.architecture == ARCHITECTURE
    assert loaded.metrics["params"] == model.count_params()
    np.testing.assert_allclose(loaded.predict(x, batch_size=10),
                               model.predict(x, verbose=0), atol=1e-5)


def test_overwrite_replaces_previous_export(exported):
    model, _, path = exported
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_saved_model(model, path)
    export_saved_model(model, path, metrics={"val_accuracy": 0.5},
                       overwrite=True)
    assert load_exported(path).metrics == {
        "val_accuracy": 0.5, "params": model.count_params()}
    assert load_exported(path).architecture == {}


def test_overwrite_refuses_unrelated_folder(trained, tmp_path):
    model, _ = trained
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a previous export"):
        export_saved_model(model, folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_export_into_empty_existing_folder(trained, tmp_path):
    model, _ = trained
    path = export_saved_model(model, tmp_path)
    assert (path / "saved_model.pb").is_file()


def test_rejects_non_json_metrics(trained, tmp_path):
    model, _ = trained
    with pytest.raises(ValueError, match="`metrics`"):
        export_saved_model(model, tmp_path / "e", metrics={"m": object()})
    assert not (tmp_path / "e").exists()


def test_load_exported_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_exported(tmp_path / "nowhere")


def test_failed_export_leaves_no_folder(trained, tmp_path, monkeypatch):
    model, _ = trained

    def broken_save(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(model, tmp_path / "e")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_during_export_names_the_folder(trained, tmp_path, monkeypatch):
    model, _ = trained

    def full_disk(*args, **kwargs):
        # What TensorFlow raises when the disk fills while it saves.
        raise tf.errors.ResourceExhaustedError(
            None, None, "variables/part-00000; No space left on device"
        )

    monkeypatch.setattr(model, "export", full_disk)
    with pytest.raises(WriteError) as caught:
        export_saved_model(model, tmp_path / "e")
    assert str(caught.value) == (
        f"cannot write {tmp_path / 'e'}: No space left on device; free space there."
    )
    assert list(tmp_path.iterdir()) == []


def test_export_removes_staging_folders_of_killed_exports(trained, tmp_path):
    model, _ = trained
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    stale = tmp_path / f".e.tmp-{child.pid}-k1ll3d"
    (stale / "variables").mkdir(parents=True)
    running = tmp_path / f".e.tmp-{os.getpid()}-runn1n"  # a live export's
    running.mkdir()
    other = tmp_path / f".other.tmp-{child.pid}-k1ll3d"  # another export's
    other.mkdir()
    export_saved_model(model, tmp_path / "e")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["e", running.name, other.name]
    )
