"""Data beyond the memory budget: written once to `.npy` files, read by rows."""

import os
import wave

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import keras_nas as kn
from keras_nas.data import batches
from keras_nas import disk_arrays
from keras_nas.split_indices import DatasetError

RNG = np.random.default_rng(0)


def _npy_files(folder):
    return sorted(p for p in os.listdir(folder) if p.endswith(".npy"))


def test_new_array_stays_in_memory_within_the_budget_else_goes_to_a_file(tmp_path):
    path = str(tmp_path / "a.npy")
    small = disk_arrays.new_array((4, 3), np.float32, 48, path)
    assert not isinstance(small, np.memmap) and not os.listdir(tmp_path)
    big = disk_arrays.new_array((5, 3), np.float32, 48, path)
    assert os.listdir(tmp_path) == ["a.npy.partial"]  # Not complete yet.
    values = RNG.normal(size=(5, 3)).astype("float32")
    big[:] = values
    done = disk_arrays.finish_array(big, 4, path)  # A skipped file: one row fewer.
    assert disk_arrays.on_disk(done) and not done.flags.writeable
    assert os.listdir(tmp_path) == ["a.npy"]
    np.testing.assert_array_equal(np.load(path), values[:4])  # Header rewritten.
    assert not disk_arrays.on_disk(done[1:])  # A view: its offset is the file's.


def test_growing_array_spills_to_its_file_beyond_the_budget(tmp_path):
    chunks = [RNG.integers(0, 255, (n, 2, 3)).astype("uint8") for n in (3, 4, 5)]
    kept = disk_arrays.GrowingArray(1000, str(tmp_path / "kept.npy"))
    spilled = disk_arrays.GrowingArray(10, str(tmp_path / "spilled.npy"))
    for chunk in chunks:
        kept.append(chunk)
        spilled.append(chunk.astype("float32"))  # Cast to the first chunk's dtype.
    spilled.append(chunks[0])
    expected = np.concatenate(chunks)
    in_memory, on_disk = kept.finish(), spilled.finish()
    assert not disk_arrays.on_disk(in_memory) and disk_arrays.on_disk(on_disk)
    np.testing.assert_array_equal(in_memory, expected)
    assert on_disk.dtype == np.float32 and on_disk.shape == (15, 2, 3)
    np.testing.assert_array_equal(np.load(tmp_path / "spilled.npy"),
                                  np.concatenate([expected, chunks[0]]))
    assert _npy_files(tmp_path) == ["spilled.npy"]
    other = disk_arrays.GrowingArray(10, str(tmp_path / "other.npy"))
    other.append(chunks[0])
    with pytest.raises(ValueError, match=r"rows of shape \(3, 2\) after rows of shape "
                                         r"\(2, 3\)"):
        other.append(chunks[0].reshape(3, 3, 2))
    other.discard()
    assert _npy_files(tmp_path) == ["spilled.npy"] and len(os.listdir(tmp_path)) == 1
    assert disk_arrays.GrowingArray(10, str(tmp_path / "none.npy")).finish() is None


def test_rows_and_chunks_read_from_the_file_equal_the_array(tmp_path):
    x = RNG.normal(size=(50, 3, 2)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    indices = [7, 3, 4, 5, 49, 0, 3]  # Unsorted, runs, repeats, both ends.
    rows = disk_arrays.read_rows(mapped, indices)
    assert not isinstance(rows, np.memmap)
    np.testing.assert_array_equal(rows, x[indices])
    parts = list(disk_arrays.chunks(mapped, max_bytes=24 * 7))
    assert [len(p) for p in parts] == [7] * 7 + [1]
    np.testing.assert_array_equal(np.concatenate(parts), x)
    taken = disk_arrays.take_rows(mapped, [9, 1, 2], str(tmp_path / "t.npy"))
    assert disk_arrays.on_disk(taken)
    np.testing.assert_array_equal(taken, x[[9, 1, 2]])


def test_row_batches_visit_every_row_once_an_epoch_across_parts(tmp_path):
    x = np.arange(20, dtype="float32").reshape(10, 2)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    y = np.arange(10)
    extra = np.arange(100, 106, dtype="float32").reshape(3, 2)
    rows = batches.RowBatches([(mapped, y), (extra, np.arange(10, 13))], 4,
                              shuffle=True, seed=1)
    assert len(rows) == 4
    epochs = []
    for _ in range(2):
        pairs = [rows[i] for i in range(len(rows))]
        seen = np.concatenate([b[1] for b in pairs])
        assert sorted(seen.tolist()) == list(range(13))
        for bx, by in pairs:  # Each row keeps its label.
            expected = np.where(by[:, None] < 10, 2 * by[:, None] + [0, 1], 0)
            assert np.array_equal(bx[by < 10], expected[by < 10])
        epochs.append(seen.tolist())
        rows.on_epoch_end()
    assert epochs[0] != epochs[1]  # Reshuffled.
    args, kwargs = batches.fit_arguments(
        (mapped, y), {"batch_size": 4, "validation_data": (x, y), "shuffle": True}
    )
    assert isinstance(args[0], batches.RowBatches) and len(args) == 1
    assert "batch_size" not in kwargs and "shuffle" not in kwargs
    assert kwargs["validation_data"] == (x, y)  # In memory: as it was.
    same = batches.fit_arguments((x, y), {"batch_size": 4})
    assert same[0][0] is x and same[1] == {"batch_size": 4}


def _image_folder(root, count=12, size=(9, 7)):
    for label, level in ((0, 40), (1, 210)):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True)
        for i in range(count):
            image = np.clip(RNG.normal(level, 30, (*size, 3)), 0, 255).astype("uint8")
            (folder / f"{i:02d}.png").write_bytes(tf.io.encode_png(image).numpy())
    return root


def _wav_folder(root, count=10):
    for label, frequency in ((0, 300), (1, 2000)):
        folder = root / f"tone_{label}"
        folder.mkdir(parents=True)
        for i in range(count):
            t = np.arange(int(RNG.integers(1500, 2000))) / 8000
            samples = 0.5 * np.sin(2 * np.pi * frequency * t)
            with wave.open(str(folder / f"{i:02d}.wav"), "wb") as f:
                f.setnchannels(1)
                f.setsampwidth(2)
                f.setframerate(8000)
                f.writeframes((samples * 32767).astype("<i2").tobytes())
    return root


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_a_folder_beyond_the_budget_matches_the_one_in_memory(tmp_path, kind):
    root = (_image_folder if kind == "image" else _wav_folder)(tmp_path / "data")
    cache = tmp_path / "cache"
    in_memory = kn.data.load_dataset(root, seed=2)
    on_disk = kn.data.load_dataset(root, seed=2, memory_budget=100, cache_dir=cache)
    files = _npy_files(cache)
    assert len(files) == 3  # One file a split.
    stamps = [os.stat(cache / f).st_mtime_ns for f in files]
    for split in ("train", "val", "test"):
        x = getattr(on_disk, f"x_{split}")
        assert disk_arrays.on_disk(x)
        np.testing.assert_array_equal(x, getattr(in_memory, f"x_{split}"))
        np.testing.assert_array_equal(getattr(on_disk, f"y_{split}"),
                                      getattr(in_memory, f"y_{split}"))
    # The model inputs of the front: computed into files as well, alike.
    data = kn.data.SearchData.from_splits(on_disk)
    reference = kn.data.SearchData.from_splits(in_memory)
    if kind == "audio":
        assert disk_arrays.on_disk(data.x_train)
    np.testing.assert_allclose(data.x_val, reference.x_val, rtol=1e-6)
    # A later read of the same files reuses the decoded files.
    again = kn.data.load_dataset(root, seed=2, memory_budget=100, cache_dir=cache)
    assert again.x_train.filename == on_disk.x_train.filename
    assert [os.stat(cache / f).st_mtime_ns for f in files] == stamps


def test_a_bad_file_beyond_the_budget_leaves_no_partial_file(tmp_path):
    root = _image_folder(tmp_path / "data")
    (root / "class_1" / "05.png").write_bytes(b"\x89PNG broken")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match="class_1/05.png"):
        kn.data.load_dataset(root, memory_budget=100, cache_dir=cache)
    assert not cache.exists() or not os.listdir(cache)
    skipped = kn.data.load_dataset(root, memory_budget=100, cache_dir=cache,
                                   skip_bad_files=True)
    assert sum(map(len, (skipped.y_train, skipped.y_val, skipped.y_test))) == 23


def test_tfds_split_is_streamed_to_files_beyond_the_budget(tmp_path):
    with tfds.testing.mock_data(num_examples=100):
        in_memory = kn.data.load_dataset("tfds:mnist", seed=1)
        on_disk = kn.data.load_dataset("tfds:mnist", seed=1, memory_budget=2000,
                                       cache_dir=tmp_path)
    assert disk_arrays.on_disk(on_disk.x_train) and disk_arrays.on_disk(on_disk.x_test)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(on_disk, f"x_{split}"),
                                      getattr(in_memory, f"x_{split}"))
    # The images of the whole split, then one file a split cut from it; the
    # labels (800 bytes) stay in memory.
    assert len(_npy_files(tmp_path)) == 1 + 3
    assert not disk_arrays.on_disk(on_disk.y_train)


def test_tuner_searches_datasets_beyond_the_budget_from_files(tmp_path):
    root = _image_folder(tmp_path / "images", count=16, size=(8, 8))
    options = dict(image_size=(8, 8), batch_size=8, seed=1, validation_split=0.25)
    train = keras.utils.image_dataset_from_directory(root, subset="training", **options)
    val = keras.utils.image_dataset_from_directory(root, subset="validation", **options)
    space = kn.spaces.ConvNet((8, 8, 3), task="binary", max_blocks=1, filters=(4,))
    tuner = kn.NASTuner(space, max_trials=1, seed=0, directory=tmp_path,
                        project_name="p", memory_budget=1000, verbose=0)
    tuner.search(train, validation_data=val, epochs=2)
    trial = next(iter(tuner.oracle.trials.values()))
    assert trial.status == "COMPLETED", trial.message
    cached = tmp_path / "p" / "data_cache" / tuner.tuner_id
    assert _npy_files(cached) == ["validation_data-x.npy", "validation_data-y.npy",
                                  "x-x.npy", "x-y.npy"]
    assert np.load(cached / "x-x.npy").shape == (24, 8, 8, 3)
    path = tuner.export(tmp_path / "export", final_fit=True)
    assert kn.load_exported(path).metrics["final_fit"][0]["samples"] == 32


def test_images_beyond_the_budget_without_a_disk_cache_are_read_from_their_files(
    tmp_path
):
    root = _image_folder(tmp_path / "data", count=16, size=(8, 8))
    cache = tmp_path / "cache"
    in_memory = kn.data.load_dataset(root, seed=2)
    streamed = kn.data.load_dataset(root, seed=2, memory_budget=100, cache_dir=cache,
                                    disk_cache=False)
    assert not cache.exists()  # Nothing written.
    x = streamed.x_train
    assert isinstance(x, kn.data.folders.ImageFiles) and disk_arrays.on_disk(x)
    assert x.shape == in_memory.x_train.shape
    np.testing.assert_array_equal(x[[3, 0]], in_memory.x_train[[3, 0]])
    np.testing.assert_array_equal(np.concatenate(list(disk_arrays.chunks(x, 500))),
                                  in_memory.x_train)
    data = kn.data.SearchData.from_splits(streamed)
    space = kn.spaces.ConvNet(data.input_shape, task=data.task, max_blocks=1,
                              filters=(4,))
    tuner = kn.NASTuner(space, max_trials=1, seed=0, directory=tmp_path,
                        project_name="p", verbose=0)
    tuner.search(data, epochs=2)
    trial = next(iter(tuner.oracle.trials.values()))
    assert trial.status == "COMPLETED", trial.message
    path = tuner.export(tmp_path / "export", data.x_test, data.y_test, final_fit=True)
    metrics = kn.load_exported(path).metrics
    assert metrics["final_fit"][0]["samples"] == len(data.y_train) + len(data.y_val)
    # Scored on the 8 test images, read from their files: dark and bright
    # ones, after a few steps.
    assert metrics["test_accuracy"] in {k / 8 for k in range(9)}
