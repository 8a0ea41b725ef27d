"""Shared pytest fixtures: fixed seeds, quiet TensorFlow, tiny data."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Data decoded beyond a memory budget goes to a cache folder: never the
# user's own in tests.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="keras_nas_test_cache_")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist each worker gets one TensorFlow thread per pool, so
    # the workers do not fight over the CPUs (set before TensorFlow loads).
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from cli_helpers import write_toy_npz  # noqa: E402


@pytest.fixture(autouse=True)
def fixed_seeds():
    """Seeds Python, NumPy and TensorFlow before every test."""
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def tiny_images():
    """A handful of 8x8x1 images with 3 classes, learnable from their mean."""
    rng = np.random.default_rng(0)
    y = np.arange(36) % 3
    x = rng.normal(size=(36, 8, 8, 1)).astype("float32") * 0.1
    x += y[:, None, None, None].astype("float32")
    return x, y


@pytest.fixture
def npz_dataset(tmp_path):
    """A 40-sample, 6-feature, 2-class `.npz` dataset; returns its path."""
    return write_toy_npz(tmp_path)


@pytest.fixture
def npz_images(tmp_path):
    """A 60-sample `.npz` of 8x8 images in 3 classes; returns its path."""
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    x = rng.normal(size=(60, 8, 8)).astype("float32") * 0.1 + y[:, None, None]
    path = tmp_path / "images.npz"
    np.savez(path, x=x, y=y)
    return str(path)
