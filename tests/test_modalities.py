"""Every modality through `keras-nas run` with its defaults, served raw by TensorFlow alone.

Each data set is small and separable: an image folder (dark and bright
pictures), a `.wav` folder (a low and a high tone), a CSV with a text
column (praise and complaint words) and a time-series `.npz` (a slow and a
fast wave). The export of each is loaded in a fresh process that imports
TensorFlow only, and served inputs as a user holds them: decoded uint8
images of another size, waveforms of other lengths, strings and series.
"""

import json
import os
import subprocess
import sys
import wave

import numpy as np
import pytest
import tensorflow as tf

from cli_helpers import invoke

PER_CLASS = 24
RATE = 8000
GOOD = ["good", "great", "fine", "lovely", "superb", "nice"]
BAD = ["bad", "awful", "poor", "dreadful", "broken", "ugly"]

# Served in a process that imports TensorFlow and NumPy only.
_SERVE = """
import sys
import numpy as np
import tensorflow as tf

raw = np.load(sys.argv[2], allow_pickle=False)
m = tf.saved_model.load(sys.argv[1])  # Kept: TF 2.21 needs the reference.
outputs = []
for key in sorted(raw.files):
    x = raw[key]
    x = tf.constant(x.astype(object) if x.dtype.kind == "U" else x)
    outputs.append(m.serve(x).numpy())
np.save(sys.argv[3], np.concatenate(outputs))
print(m.serve.input_signature[0].dtype.name)
"""


def _write_wav(path, samples):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes((samples * 32767).astype("<i2").tobytes())


def _tone(rng, frequency, length):
    t = np.arange(length) / RATE
    return 0.5 * np.sin(2 * np.pi * frequency * t) + 0.05 * rng.normal(size=length)


def _images(rng, label, count, size):
    level = 50 if label == 0 else 200
    return np.clip(rng.normal(level, 25, (count, *size, 3)), 0, 255).astype("uint8")


def _series(rng, label, count, length):
    t = np.linspace(0, 1, length)
    cycles = 1 if label == 0 else 5
    phase = rng.uniform(0, 2 * np.pi, (count, 1))
    return (np.sin(2 * np.pi * cycles * t + phase)
            + 0.1 * rng.normal(size=(count, length))).astype("float32")


def _sentences(rng, label, count):
    words = GOOD if label == 0 else BAD
    return [" ".join(rng.choice(words, 5)) for _ in range(count)]


def _dataset(folder, modality):
    """Writes the training data of `modality`; returns its path and raw test inputs.

    The test inputs are as a user holds them: `{name: array}` for the
    server (arrays of one shape each) and the true labels.
    """
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 8)
    if modality == "image":
        root = folder / "pictures"
        for label, name in enumerate(("a_dark", "b_bright")):
            (root / name).mkdir(parents=True)
            for i, image in enumerate(_images(rng, label, PER_CLASS, (10, 12))):
                png = tf.io.encode_png(image).numpy()
                (root / name / f"{i:03d}.png").write_bytes(png)
        # Served at another size than the folder's: resized inside.
        test = {"a": np.concatenate([_images(rng, c, 8, (17, 23)) for c in (0, 1)])}
        return str(root), test, labels
    if modality == "audio":
        root = folder / "tones"
        for label, name in enumerate(("a_low", "b_high")):
            (root / name).mkdir(parents=True)
            for i in range(PER_CLASS):
                length = int(rng.integers(1800, 2200))
                tone = _tone(rng, 300 if label == 0 else 2000, length)
                _write_wav(root / name / f"{i:03d}.wav", tone)
        # Waveforms of other lengths: padded or cropped inside.
        test = {
            "a": np.stack([_tone(rng, f, 1900) for f in [300] * 4 + [2000] * 4]),
            "b": np.stack([_tone(rng, f, 2600) for f in [300] * 4 + [2000] * 4]),
        }
        test = {k: v.astype("float32") for k, v in test.items()}
        labels = np.array([0] * 4 + [1] * 4 + [0] * 4 + [1] * 4)
        return str(root), test, labels
    if modality == "text":
        path = folder / "reviews.csv"
        rows = [(s, "a_praise" if label == 0 else "b_complaint")
                for label in (0, 1) for s in _sentences(rng, label, PER_CLASS)]
        text = "text,label\n" + "".join(f'"{s}",{c}\n' for s, c in rows)
        path.write_text(text, encoding="utf-8")
        test = {"a": np.array(_sentences(rng, 0, 8) + _sentences(rng, 1, 8))}
        return str(path), test, labels
    path = folder / "waves.npz"
    x = np.concatenate([_series(rng, c, PER_CLASS, 64) for c in (0, 1)])
    np.savez(path, x=x, y=np.repeat(["a_slow", "b_fast"], PER_CLASS))
    test = {"a": np.concatenate([_series(rng, c, 8, 64) for c in (0, 1)])}
    return str(path), test, labels


def _serve_in_tensorflow_only(export_dir, test, folder):
    """The export's outputs on the raw test inputs, from a TensorFlow-only process."""
    inputs, outputs = folder / "raw.npz", folder / "served.npy"
    np.savez(inputs, **test)
    script = folder / "serve.py"
    script.write_text(_SERVE)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, str(script), str(export_dir), str(inputs), str(outputs)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return np.load(outputs), done.stdout.split()[-1]


def _run(tmp_path, dataset, *options, max_trials=1):
    """`keras-nas run` with the default space unless `options` say; its output."""
    result = invoke(
        "run", "--dataset", dataset, "--max-trials", max_trials, "--epochs", 6,
        "--batch-size", 8, "--no-final-fit", "--ensemble", 1,
        "--directory", tmp_path / "runs", "--name", "m",
        "--export-dir", tmp_path / "models", *options,
    )
    assert result.exit_code == 0, result.output
    return result.output


def _check_export(tmp_path, export_dir, modality, served_dtype, test, labels):
    """The export records its modality and serves raw inputs, TensorFlow alone."""
    architecture = json.loads((export_dir / "architecture.json").read_text())
    assert architecture["modality"] == modality
    metrics = json.loads((export_dir / "metrics.json").read_text())
    assert metrics["modality"] == modality
    assert architecture["preprocessing"]["layers"]  # Each of these has a front.
    outputs, dtype = _serve_in_tensorflow_only(export_dir, test, tmp_path)
    assert dtype == served_dtype
    # Two classes, one sigmoid: the share of (second class, first class)
    # pairs ranked right (the AUC; chance is 0.5). A model of a few steps
    # ranks separable classes apart before it is calibrated.
    scores = outputs[:, 0]
    auc = np.mean(scores[labels == 1][:, None] > scores[labels == 0][None, :])
    assert auc >= 0.9, (export_dir.name, modality, auc, scores)


@pytest.mark.parametrize("modality, served_dtype", [
    ("image", "uint8"), ("audio", "float32"), ("series", "float32"),
])  # Text: in the test of exporting again and fine-tuning below.
def test_run_with_defaults_and_serve_raw_inputs(tmp_path, modality, served_dtype):
    dataset, test, labels = _dataset(tmp_path, modality)
    output = _run(tmp_path, dataset)
    assert output.startswith("Modality: ")
    assert output.splitlines()[0].endswith(modality)
    record = json.loads((tmp_path / "runs" / "m" / "dataset.json").read_text())
    assert record["modality"] == modality
    _check_export(tmp_path, tmp_path / "models" / "m", modality, served_dtype,
                  test, labels)


@pytest.mark.parametrize("modality, served_dtype, strategy", [
    ("text", "string", "random"), ("audio", "float32", "random"),
    ("series", "float32", "darts"),
])
def test_the_sequence_space_serves_raw_inputs(tmp_path, modality, served_dtype,
                                              strategy):
    dataset, test, labels = _dataset(tmp_path, modality)
    # DARTS trains a supernet of every operation: one block of them here.
    config = tmp_path / "space.yaml"
    config.write_text("space: {name: sequence, max_blocks: %d}\n"
                      % (1 if strategy == "darts" else 3))
    _run(tmp_path, dataset, "--config", config, "--strategy", strategy)
    export_dir = tmp_path / "models" / "m"
    architecture = json.loads((export_dir / "architecture.json").read_text())
    assert architecture["space"] == "sequence"
    assert "op_0" in architecture["decisions"]
    _check_export(tmp_path, export_dir, modality, served_dtype, test, labels)


def test_folder_splits_are_recorded_and_disjoint(tmp_path):
    dataset, _, _ = _dataset(tmp_path, "image")
    import keras_nas as kn

    splits = kn.data.load_dataset(dataset, seed=3)
    files = splits.details["files"]
    everything = sorted(sum(files.values(), []))
    assert len(everything) == len(set(everything)) == 2 * PER_CLASS
    assert [len(files[s]) for s in ("train", "val", "test")] == [
        len(splits.y_train), len(splits.y_val), len(splits.y_test)
    ]
    assert splits.x_train.dtype == np.uint8 and splits.x_train.shape[1:] == (10, 12, 3)
    again = kn.data.load_dataset(dataset, seed=3)
    assert again.details["files"] == files
    other = kn.data.load_dataset(dataset, seed=4)
    assert other.details["files"]["test"] != files["test"]


def test_corrupt_image_exits_2_naming_it_and_writes_nothing(tmp_path):
    dataset, _, _ = _dataset(tmp_path, "image")
    (tmp_path / "pictures" / "a_dark" / "005.png").write_bytes(b"\x89PNG broken")
    args = ("run", "--dataset", dataset, "--max-trials", 1, "--epochs", 1,
            "--directory", tmp_path / "runs", "--export-dir", tmp_path / "models")
    result = invoke(*args)
    assert result.exit_code == 2
    assert "a_dark/005.png" in result.output
    assert len(result.output.strip().splitlines()[-1]) > 40
    assert not (tmp_path / "runs").exists() and not (tmp_path / "models").exists()
    skipped = invoke(*args, "--skip-bad-files", "--no-final-fit", "--ensemble", 1)
    assert skipped.exit_code == 0, skipped.output
    assert "Skipped 1 unreadable file(s), e.g. a_dark/005.png" in skipped.output
    # The run read a recorded split: a folder changed since is refused.
    extra = tmp_path / "pictures" / "b_bright" / "999.png"
    extra.write_bytes((tmp_path / "pictures" / "b_bright" / "000.png").read_bytes())
    resumed = invoke(*args, "--skip-bad-files", "--resume")
    assert resumed.exit_code == 2
    assert "was started on other files: " in resumed.output and "added to" in resumed.output


def test_a_space_that_does_not_fit_the_data_exits_2_naming_both(tmp_path):
    dataset, _, _ = _dataset(tmp_path, "text")
    result = invoke("run", "--dataset", dataset, "--space", "convnet",
                    "--directory", tmp_path / "runs",
                    "--export-dir", tmp_path / "models")
    assert result.exit_code == 2
    assert "text inputs" in result.output and "'convnet' space" in result.output
    assert not (tmp_path / "runs").exists()


def test_text_run_exported_again_and_fine_tuned_keep_the_front(tmp_path):
    dataset, test, labels = _dataset(tmp_path, "text")
    output = _run(tmp_path, dataset, max_trials=2)
    assert output.splitlines()[0] == "Modality: strings: text"
    again = tmp_path / "again"
    result = invoke("export", tmp_path / "runs" / "m", "--out", again,
                    "--final-fit", "--ensemble", 2)
    assert result.exit_code == 0, result.output
    tuned = tmp_path / "tuned"
    result = invoke("finetune", tmp_path / "models" / "m", "--dataset", dataset,
                    "--mode", "full", "--steps", 40, "--batch-size", 8,
                    "--out", tuned)
    assert result.exit_code == 0, result.output
    for export_dir in (tmp_path / "models" / "m", again, tuned):
        assert (export_dir / "preprocessing.keras").is_file()
        _check_export(tmp_path, export_dir, "text", "string", test, labels)


def test_a_folder_beyond_the_memory_budget_is_searched_from_the_disk_cache(tmp_path):
    dataset, test, labels = _dataset(tmp_path, "image")
    result = invoke(
        "run", "--dataset", dataset, "--memory-budget", 0.000001,
        "--cache-dir", tmp_path / "cache", "--max-trials", 2, "--epochs", 6,
        "--batch-size", 8, "--trial-process", "subprocess", "--ensemble", 2,
        "--directory", tmp_path / "runs", "--name", "m",
        "--export-dir", tmp_path / "models",
    )
    assert result.exit_code == 0, result.output
    assert "Final fit: trial" in result.output
    # Decoded once into the cache, one file a split; children read those.
    assert len(list((tmp_path / "cache").glob("images-*.npy"))) == 3
    assert not (tmp_path / "runs" / "m" / "trial_data").exists()
    _check_export(tmp_path, tmp_path / "models" / "m", "image", "uint8", test, labels)
