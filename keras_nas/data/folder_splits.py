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

from keras_nas import disk_arrays
from keras_nas.data import folders
from keras_nas.split_indices import DatasetError
from keras_nas.data.memory import default_memory_budget
from keras_nas.data.splits import split_dataset

_SPLITS = ("train", "val", "test")


def load_folder(path, *, task, seed, validation_fraction, test_fraction,
                modality=None, image_size=None, skip_bad_files=False,
                memory_budget=None, cache_dir=None, disk_cache=True):
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
        memory_budget: The most bytes the decoded images or clips may take
            in memory; `None` for `keras_nas.data.default_memory_budget()`.
            Each split gets its share by its number of files; a split
            beyond its share is decoded once into a file of `cache_dir` and
            read from there (`keras_nas.disk_arrays`).
        cache_dir: The folder of those files; `None` for
            `keras_nas.disk_arrays.default_cache_dir()`.
        disk_cache: `False` to read images beyond the budget from their
            files each time instead (`keras_nas.data.folders.ImageFiles`);
            clips always go to the cache.

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
    return load_listing(
        listing, os.path.basename(os.path.normpath(path)), task=task, seed=seed,
        validation_fraction=validation_fraction, test_fraction=test_fraction,
        image_size=image_size, skip_bad_files=skip_bad_files,
        memory_budget=memory_budget, cache_dir=cache_dir, disk_cache=disk_cache,
    )


def load_listing(listing, name, *, task, seed, validation_fraction, test_fraction,
                 image_size=None, skip_bad_files=False, memory_budget=None,
                 cache_dir=None, disk_cache=True, source=None):
    """Splits a `FolderListing` by its file list, then decodes split by split.

    Args:
        listing: A `keras_nas.data.folders.FolderListing`: a folder's
            (`scan_folder`) or a CSV's of files and labels
            (`keras_nas.data.file_table`).
        name: Short name of the data set.
        task, seed, validation_fraction, test_fraction, image_size,
            skip_bad_files, memory_budget, cache_dir, disk_cache: As for
            `load_folder`.
        source: What the listing was read from, for messages; `None` for
            its root folder.

    Returns:
        A `DatasetSplits` of raw inputs, as `load_folder`'s.

    Raises:
        DatasetError: If a file or a class cannot be used, naming it.
    """
    path = listing.root
    names = np.array(listing.class_names)
    # The split of the file indices: the task is fitted on the class names.
    order = split_dataset(
        name, np.arange(len(listing.files)),
        names[listing.labels], task=task, seed=seed,
        validation_fraction=validation_fraction, test_fraction=test_fraction,
        source=source or path, modality=listing.modality,
        modality_reason=listing.reason,
    )
    budget = default_memory_budget() if memory_budget is None else memory_budget
    parts, details = {}, {"root": os.fspath(path), "files": {}, "skipped": []}
    shape = {"image_size": image_size, "channels": None, "length": None}
    cache_dir = cache_dir or disk_arrays.default_cache_dir()
    cached_before = set(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else set()
    try:
        for split in _SPLITS:
            indices = getattr(order, f"x_{split}")
            part = dataclasses.replace(
                listing,
                files=tuple(listing.files[i] for i in indices),
                labels=listing.labels[indices],
            )
            share = budget * len(part.files) // len(listing.files)
            arrays = _read(part, shape, skip_bad_files, share, cache_dir, disk_cache)
            # Val and test at the training images' size, or the training clips' length.
            shape = {"image_size": arrays.x.shape[1:3], "channels": arrays.x.shape[-1],
                     "length": arrays.x.shape[-1]}
            parts[split] = arrays
            details["files"][split] = list(arrays.files)
            details["skipped"] += [list(item) for item in arrays.skipped]
        if listing.modality == "audio":
            details["sample_rate"] = _one_rate(parts, path)
    except BaseException:
        # The files of the splits decoded by this call go with it.
        for arrays in parts.values():
            if disk_arrays.on_disk(arrays.x) and (
                os.path.basename(arrays.x.filename) not in cached_before
            ):
                os.remove(arrays.x.filename)
        raise
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


def _read(listing, shape, skip_bad_files, max_bytes, cache_dir, disk_cache):
    """The arrays of one split's files; images of `shape`'s size and
    channels, clips of its length (`None` for each split's default)."""
    if listing.modality == "image":
        return folders.read_images(
            listing, shape["image_size"], shape["channels"],
            skip_bad=skip_bad_files, max_bytes=max_bytes, cache_dir=cache_dir,
            disk_cache=disk_cache,
        )
    if listing.modality == "audio":
        return folders.read_audio(
            listing, skip_bad=skip_bad_files, length=shape["length"],
            max_bytes=max_bytes, cache_dir=cache_dir,
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
