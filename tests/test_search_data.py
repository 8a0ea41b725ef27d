"""The data boundary: modality detection, loaders of each form, `SearchData`, tf.data."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_nas as kn
from keras_nas.data.modality import detect_modality

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("x, expected", [
    (np.array(["a b", "c"]), "text"),
    (np.zeros((4, 8, 8, 3), "uint8"), "image"),
    (np.zeros((4, 28, 28), "float32"), "image"),
    (np.zeros((4, 100, 3), "float32"), "series"),
    (np.cumsum(RNG.normal(size=(6, 80)), axis=1), "series"),
    (RNG.normal(size=(6, 80)), "tabular"),
    (np.cumsum(RNG.normal(size=(6, 20)), axis=1), "tabular"),
])
def test_detect_modality_says_why(x, expected):
    modality, reason = detect_modality(x)
    assert modality == expected
    assert reason.endswith(expected) or expected in reason


def test_detect_modality_takes_a_given_one_and_refuses_a_misfit():
    assert detect_modality(np.zeros((3, 9)), "series") == (
        "series", "modality='series' as given"
    )
    assert detect_modality(np.zeros((3, 9)), sample_rate=8000)[0] == "audio"
    with pytest.raises(kn.data.DatasetError, match="modality='text' does not fit"):
        detect_modality(np.zeros((3, 9)), "text")
    with pytest.raises(ValueError, match="modality='video'"):
        detect_modality(np.zeros((3, 9)), "video")


def test_csv_with_a_text_column_and_a_named_one(tmp_path):
    rows = "".join(f'{i},"word{i % 2} and more",{"ab"[i % 2]}\n' for i in range(40))
    path = tmp_path / "t.csv"
    path.write_text("id,text,label\n" + rows)
    splits = kn.data.load_dataset(str(path))
    assert splits.modality == "text" and splits.x_train.dtype.kind == "U"
    path.write_text("id,review,label\n" + rows)
    with pytest.raises(kn.data.DatasetError, match="feature cells must be numbers"):
        kn.data.load_dataset(str(path))
    named = kn.data.load_dataset(str(path), text_column="review")
    assert named.modality == "text"
    with pytest.raises(kn.data.DatasetError, match="no text column 'body'"):
        kn.data.load_dataset(str(path), text_column="body")


def test_npz_of_strings_series_and_audio(tmp_path):
    y = np.arange(40) % 2
    np.savez(tmp_path / "s.npz", x=np.array([f"w{i}" for i in y]), y=y)
    assert kn.data.load_dataset(str(tmp_path / "s.npz")).modality == "text"
    waves = np.sin(np.linspace(0, 6, 64))[None] * (1 + y[:, None])
    np.savez(tmp_path / "w.npz", x=waves.astype("float32"), y=y)
    series = kn.data.load_dataset(str(tmp_path / "w.npz"))
    assert series.modality == "series" and series.input_shape == (64,)
    np.savez(tmp_path / "a.npz", x=waves.astype("float32"), y=y, sample_rate=8000)
    audio = kn.data.load_dataset(str(tmp_path / "a.npz"))
    assert audio.modality == "audio" and audio.details["sample_rate"] == 8000
    with pytest.raises(kn.data.DatasetError, match="needs one"):
        kn.data.load_dataset(str(tmp_path / "w.npz"), modality="audio")


def test_search_data_of_text_fits_the_front_on_training_text_only():
    y = np.arange(60) % 2
    texts = np.array([("fine good" if c else "bad poor") + f" x{i}" for i, c in enumerate(y)])
    splits = kn.data.splits.split_dataset("t", texts, y, seed=0, modality="text")
    data = kn.data.SearchData.from_splits(splits)
    assert len(data.x_test) == len(splits.x_test)  # Test rows made model inputs too.
    assert data.x_train.dtype == np.float32 and data.x_train.shape[0] == len(splits.y_train)
    vocabulary = data.front.get_layer("tf_idf").get_vocabulary()
    test_only = {t.split()[-1] for t in splits.x_test}
    assert not test_only & set(vocabulary)  # Tokens x<i> of test rows are unseen.
    assert data.spec.modality == "text" and data.spec.shape == data.input_shape


def _image_folder(root):
    for label, level in enumerate((40, 210)):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True)
        for i in range(20):
            image = np.clip(RNG.normal(level, 30, (12, 12, 3)), 0, 255).astype("uint8")
            (folder / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    return root


def test_from_datasets_reads_keras_folder_datasets(tmp_path):
    root = _image_folder(tmp_path / "images")
    options = dict(image_size=(12, 12), batch_size=8, seed=1, validation_split=0.25)
    train = keras.utils.image_dataset_from_directory(root, subset="training", **options)
    val = keras.utils.image_dataset_from_directory(root, subset="validation", **options)
    data = kn.data.SearchData.from_datasets(train, val)
    assert data.x_train.dtype == np.uint8 and data.x_train.shape == (30, 12, 12, 3)
    assert set(data.y_train) == {"class_0", "class_1"}  # Names, from class_names.
    assert data.modality == "image"


def test_tuner_searches_keras_datasets_in_child_processes_and_exports(
    tmp_path, monkeypatch
):
    # Every array crosses to the children as a file, however small.
    monkeypatch.setattr(kn.engine.trial_process, "ARRAY_FILE_BYTES", 0)
    root = _image_folder(tmp_path / "images")
    options = dict(image_size=(12, 12), batch_size=8, seed=1, validation_split=0.25)
    train = keras.utils.image_dataset_from_directory(root, subset="training", **options)
    val = keras.utils.image_dataset_from_directory(root, subset="validation", **options)
    space = kn.spaces.ConvNet((12, 12, 3), task="binary", max_blocks=1, filters=(4,))
    tuner = kn.NASTuner(space, max_trials=2, seed=0, directory=tmp_path,
                        project_name="p", trial_process="subprocess", verbose=0)
    tuner.search(train, validation_data=val, epochs=6)
    assert tuner.hypermodel.input_dtype == "uint8"
    trials = tuner.oracle.trials.values()
    assert all(t.status == "COMPLETED" for t in trials), [t.message for t in trials]
    stored = sorted(np.load(f).shape for f in (tmp_path / "p" / "trial_data").glob("*.npy"))
    assert stored == [(10, 1), (10, 12, 12, 3), (30, 1), (30, 12, 12, 3)]  # Once each.
    path = tuner.export(tmp_path / "export", final_fit=True, ensemble=2)
    metrics = kn.load_exported(path).metrics
    assert metrics["class_names"] == ["class_0", "class_1"]
    assert all(fit["samples"] == 40 for fit in metrics["final_fit"])  # Train + val.
    m = tf.saved_model.load(str(path))  # Kept: TF 2.21 needs the reference.
    # Decoded images of another size: resized inside.
    images = np.clip(
        [RNG.normal(v, 30, (20, 16, 3)) for v in [40] * 5 + [210] * 5], 0, 255
    ).astype("uint8")
    outputs = m.serve(tf.constant(images)).numpy()[:, 0]
    # A tiny model trained for a few steps: ranked apart, if not calibrated.
    assert outputs[5:].min() > outputs[:5].max(), outputs


def test_spaces_take_their_modality_and_normalisation_from_the_data():
    spec = kn.data.InputSpec
    assert kn.spaces.data_options("mlp", spec((100,), "float32", "text")) == {
        "modality": "text", "normalize": False}
    assert kn.spaces.data_options("convnet", spec((63, 1, 64), "float32", "audio", -1)) == {
        "modality": "audio", "normalize": True}
    assert kn.spaces.data_options("convnet", spec((100,), "float32", "text")) == {}
    assert kn.spaces.default_space(spec((63, 1, 64), "float32", "audio", -1)) == "convnet"
    assert kn.spaces.default_space(spec((235,), "float32", "series")) == "sequence"
    assert kn.spaces.default_space("text") == "mlp"
    with pytest.raises(ValueError, match="series inputs of shape \\(235,\\).*'nb201' space"):
        kn.spaces.NB201Cell.check_accepts(spec((235,), "float32", "series"))
