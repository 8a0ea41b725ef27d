"""The private KerasTuner and TensorFlow names keras-nas uses are in place."""

import keras_tuner as kt
import pytest

from keras_nas import compat


def test_every_private_name_is_where_keras_nas_expects_it():
    compat.check()


def test_a_moved_name_is_reported_with_the_installed_version(monkeypatch):
    monkeypatch.delattr(kt.Tuner, "_get_checkpoint_fname")
    with pytest.raises(compat.CompatibilityError) as raised:
        compat.check()
    message = str(raised.value)
    assert "keras_tuner.Tuner._get_checkpoint_fname" in message
    assert f"KerasTuner {kt.__version__}" in message
    assert compat.TESTED_KERAS_TUNER in message


def test_the_installed_keras_tuner_is_in_the_tested_range():
    major, minor, patch = (int(p) for p in kt.__version__.split(".")[:3])
    assert (1, 4, 7) <= (major, minor, patch) < (1, 5, 0)


def test_setup_cfg_pins_the_tested_range():
    import pathlib

    setup = (pathlib.Path(__file__).parents[1] / "setup.cfg").read_text()
    assert f"keras-tuner{compat.TESTED_KERAS_TUNER}" in setup
