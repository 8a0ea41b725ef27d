"""The data's front in a run or export folder: `preprocessing.keras`."""

import pathlib
import shutil
import tempfile

import keras

from keras_nas.files import save_atomically

FRONT_FILE = "preprocessing.keras"


def save_front(front, folder):
    """Writes `front` as `preprocessing.keras` in `folder`, atomically."""
    with tempfile.TemporaryDirectory() as staging:
        file = pathlib.Path(staging) / FRONT_FILE
        front.save(file)  # Keras insists on the .keras suffix.
        save_atomically(pathlib.Path(folder) / FRONT_FILE,
                        lambda temporary: shutil.copyfile(file, temporary))


def load_front(folder):
    """The front saved in `folder`, or `None` if it has none."""
    file = pathlib.Path(folder) / FRONT_FILE
    if not file.is_file():
        return None
    return keras.saving.load_model(file, compile=False)
