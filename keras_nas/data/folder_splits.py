"""A folder of class folders, split by its file list, then decoded split by split.

The file list (`keras_nas.data.folders.scan_folder`) is cut into train,
validation and test (stratified by class, seeded) before any file is read,
so a split is decoded straight into its own array and the same seed always
reads the same files; the files of each split are kept in
`DatasetSplits.details["files"]`, which `keras-nas run` records in its
`dataset.json`.
"""

import dataclasses
import os

import numpy as np

from keras_nas.data import folders
from keras_nas.data.indices import DatasetError
from keras_nas.data.memory import default_memory_budget
from keras_nas.data.splits import split_dataset

_SPLITS = ("train", "val", "test")


def load_folder(path, *, task, seed, validation_fraction, test_fraction,
                modality=None, image_size=None, skip_bad_files=False,
                memory_budget=None):
    """Loads and splits a folder of class folders of images, `.wav` or `.txt` files.

    Args:
        path: The folder, `DIR/<class>/<file>`.
        task: `None` to detect it (a folder's classes make it multiclass,
            or binary for two), or a `keras_nas.tasks.Task`.
        seed: Seed of the split.
        validation_fraction: Fraction of each class held out for validation.
        test_fraction: Fraction of each class held out for test.
        modality: `None` to detect it from the files' extensions, or
            `"image"`, `"audio"` or `"text"`.
        image_size: `(height, width)` of the images; `None` for the
            default of `keras_nas.data.folders.read_images`.
        skip_bad_files: Whether unreadable files are left out (counted in
            `details["skipped"]`) rather than refused.
        memory_budget: The most bytes the decoded images may take; `None`
            for `keras_nas.data.default_memory_budget()`. Each split gets its
            share by its number of files.

    Returns:
        A `DatasetSplits` of raw inputs: uint8 images, float32 waveforms
        (`details["sample_rate"]`) or strings.

    Raises:
        DatasetError: If the folder, one of its files or a class cannot be
            used, naming it.
    """
    if modality not in (None, "image", "audio", "text"):
        raise DatasetError(
            f"modality={modality!r} does not fit a folder of class folders, "
            "which holds images, audio (.wav) or text (.txt)."
        )
    listing = folders.scan_folder(path, modality)
    names = np.array(listing.class_names)
    # The split of the file indices: the task is fitted on the class names.
    order = split_dataset(
        os.path.basename(os.path.normpath(path)), np.arange(len(listing.files)),
        names[listing.labels], task=task, seed=seed,
        validation_fraction=validation_fraction, test_fraction=test_fraction,
        source=path, modality=listing.modality, modality_reason=listing.reason,
    )
    budget = default_memory_budget() if memory_budget is None else memory_budget
    parts, details = {}, {"root": os.fspath(path), "files": {}, "skipped": []}
    shape = {"image_size": image_size, "channels": None, "length": None}
    for split in _SPLITS:
        indices = getattr(order, f"x_{split}")
        part = dataclasses.replace(
            listing,
            files=tuple(listing.files[i] for i in indices),
            labels=listing.labels[indices],
        )
        share = budget * len(part.files) // len(listing.files)
        arrays = _read(part, shape, skip_bad_files, share)
        # Val and test at the training images' size, or the training clips' length.
        shape = {"image_size": arrays.x.shape[1:3], "channels": arrays.x.shape[-1],
                 "length": arrays.x.shape[-1]}
        parts[split] = arrays
        details["files"][split] = list(arrays.files)
        details["skipped"] += [list(item) for item in arrays.skipped]
    if listing.modality == "audio":
        details["sample_rate"] = _one_rate(parts, path)
    task = order.task
    labels = {
        split: task.encode(names[parts[split].labels], "y") for split in _SPLITS
    }
    return dataclasses.replace(
        order,
        x_train=parts["train"].x, y_train=labels["train"],
        x_val=parts["val"].x, y_val=labels["val"],
        x_test=parts["test"].x, y_test=labels["test"],
        input_shape=tuple(parts["train"].x.shape[1:]),
        details=details,
    )


def _read(listing, shape, skip_bad_files, max_bytes):
    """The arrays of one split's files; images of `shape`'s size and
    channels, clips of its length (`None` for each split's default)."""
    if listing.modality == "image":
        return folders.read_images(
            listing, shape["image_size"], shape["channels"],
            skip_bad=skip_bad_files, max_bytes=max_bytes,
        )
    if listing.modality == "audio":
        return folders.read_audio(
            listing, skip_bad=skip_bad_files, length=shape["length"]
        )
    return folders.read_texts(listing, skip_bad=skip_bad_files)


def _one_rate(parts, path):
    """The sampling rate all splits share; else `DatasetError`."""
    rates = {split: parts[split].sample_rate for split in _SPLITS}
    if len(set(rates.values())) > 1:
        raise DatasetError(
            f"The recordings of {path} differ in sampling rate between splits "
            f"({rates}); resample them to one rate."
        )
    return rates["train"]
