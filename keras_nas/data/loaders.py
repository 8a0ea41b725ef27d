"""Loaders: the bundled digits, TensorFlow Datasets, `.npz` and `.csv` files."""

import contextlib
import csv
import hashlib
import importlib.resources
import logging
import os
import socket
import threading
import urllib.parse
import urllib.request
import zipfile

import numpy as np

from keras_nas import tasks
from keras_nas.disk_arrays import GrowingArray
from keras_nas.disk_arrays import chunks
from keras_nas.disk_arrays import default_cache_dir
from keras_nas.disk_arrays import on_disk
from keras_nas.split_indices import DatasetError
from keras_nas.split_indices import check_fractions
from keras_nas.data.file_table import file_listing
from keras_nas.data.folder_splits import load_folder
from keras_nas.data.folder_splits import load_listing
from keras_nas.data.memory import default_memory_budget
from keras_nas.data.modality import check_modality
from keras_nas.data.modality import detect_modality
from keras_nas.data.splits import split_dataset
from keras_nas.validation import MAX_FEATURE_MAGNITUDE

_ACCEPTED_FORMS = (
    "'digits', 'tfds:NAME', 'tfds:NAME:SPLIT', a path to a .npz file "
    "holding arrays `x` and `y`, a path to a .csv file with a header row, "
    "or a folder of class folders of images, .wav or .txt files"
)
# Not tfds' `batch_size=-1`: it batches by `info.splits.total_num_examples`,
# which is 0 without metadata (as under `tfds.testing.mock_data`), and then
# `padded_batch(sys.maxsize)` aborts the whole process on TensorFlow 2.21.
_TFDS_BATCH = 4096
# Where tfds downloads most data (and its prepared copies) from: when it
# cannot be reached, a dataset that is not prepared locally is refused at
# once instead of tfds retrying every file for minutes.
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)
_DOWNLOAD_PROBE_SECONDS = 5.0


def load_dataset(
    spec="digits", *, seed=0, validation_fraction=0.2, test_fraction=0.2, task=None,
    modality=None, text_column=None, image_size=None, skip_bad_files=False,
    memory_budget=None, cache_dir=None, disk_cache=True,
):
    """Loads a dataset, chooses its task and splits it.

    Accepted `spec` forms:

    - `"digits"`: the bundled UCI handwritten digits, 1,797 images of 8x8
      pixels in 10 classes, scaled from 0..16 to [0, 1].
    - `"tfds:NAME"` or `"tfds:NAME:SPLIT"`: a TensorFlow Datasets dataset
      read with `as_supervised=True`; `SPLIT` is any tfds split string, such
      as `"train[:10%]"`, and defaults to `"train"`. It is streamed in
      batches, kept in memory within `memory_budget` and written to a file
      of `cache_dir` beyond it, as are the splits cut from it. A dataset that is not
      prepared in the local TFDS data folder (`TFDS_DATA_DIR`, else
      `~/tensorflow_datasets`) is downloaded, or refused at once when there
      is no network.
    - A path ending in `.npz` holding arrays `x` and `y` (other keys are
      ignored, but for an optional `sample_rate`, which makes 2-D `x`
      waveforms); `x` may hold numbers or strings (text); `y` may hold
      integers, floats, strings, Booleans, one-hot rows or several target
      columns.
    - A path ending in `.csv`: a header row, then a label column (`label`
      if present, else the last), which may hold numbers or text (class
      names), and either numeric feature columns (tabular rows, or one
      series a row), one text column (`text`, `text_column`, or the only
      other column), or a column of image, `.wav` or `.txt` file paths
      (relative to the CSV's folder), whose files are read as a folder's
      are, with their labels or regression targets
      (`keras_nas.data.file_table`).
    - A folder of class folders, `DIR/<class>/<file>`, as Keras's
      `image_dataset_from_directory`, `audio_dataset_from_directory` and
      `text_dataset_from_directory` read them: images (`.png`, `.jpg`,
      `.jpeg`, `.bmp`, `.gif`), `.wav` recordings (PCM, one sampling rate)
      or `.txt` files; class names are the folder names. The file list is
      split (stratified, seeded) before any file is decoded, and each
      split's files are recorded in `details["files"]`.

    The modality (`keras_nas.data.MODALITIES`) is detected from the data
    (`keras_nas.data.modality.detect_modality`, folders by their files'
    extensions) unless `modality` is given; `modality_reason` says why.
    Images stay uint8 when they are (the models scale them by 1/255), the
    digits are scaled from 0..16 to [0, 1], other numeric features are cast
    to float32 unchanged; NaN or infinite features, and features of a
    magnitude above about 1.8e19 (whose variance overflows float32), are
    refused. Images of shape `(N, H, W)` get a channel axis; tabular
    features `(N, F)` stay 2-D; text is a 1-D array of strings.

    The task comes from `task`, or is detected from the labels
    (`keras_nas.tasks.detect_task`). A classification task is fitted on all
    labels and the split stratified by class; regression targets are split
    at random and the task fitted on the training targets. The splits hold
    the encoded labels (see `DatasetSplits`).

    Args:
        spec: Which dataset to load, in one of the forms above.
        seed: Seed of the split, so the same seed gives the same split.
        validation_fraction: Fraction held out for validation (of each class
            for classification).
        test_fraction: Fraction held out for test (of each class for
            classification).
        task: `None` to detect the task from the labels, `"multiclass"`,
            `"binary"`, `"regression"`, or a `keras_nas.tasks.Task`.
        modality: `None` to detect it, or one of
            `keras_nas.data.MODALITIES`.
        text_column: The CSV column holding the text, if not `text`.
        image_size: `(height, width)` that folder images are resized to;
            `None` for their median size, at most 64 pixels a side.
        skip_bad_files: Whether files of a folder that cannot be read are
            left out (and counted in `details["skipped"]`) rather than
            refused.
        memory_budget: The most bytes a folder's decoded images or clips,
            or a tfds split, may take in memory; `None` for a quarter of the
            RAM (`keras_nas.data.default_memory_budget`). Beyond it they are
            written once to `.npy` files of `cache_dir` and read from there
            a batch at a time (`keras_nas.disk_arrays`).
        cache_dir: The folder of those files; `None` for
            `~/.cache/keras_nas/data` (`$XDG_CACHE_HOME` if set).
        disk_cache: `False` to read a folder's (or a file CSV's) images
            beyond the budget from their files each time they are read,
            writing no cache (each is decoded once first, to refuse or skip
            bad files before training).

    Returns:
        A `DatasetSplits`.

    Raises:
        ValueError: If a fraction is not in (0, 1), they sum to 1 or more,
            or `task` is not a task.
        DatasetError: If the spec is not understood, the file is missing or
            malformed, features are not finite numbers, the labels do not
            fit the task (given or detected), a class is too small to split,
            or tfds cannot provide the dataset.

    Example:

    ```python
    data = load_dataset("digits", seed=1)
    print(data.summary())
    # digits: 1,078 train / 360 val / 359 test, input (8, 8, 1), 10 classes
    data = load_dataset("targets.npz", task="regression")
    print(data.task_reason)  # task='regression' as given
    ```
    """
    check_fractions(validation_fraction, test_fraction)
    task = tasks.get_task(task)
    check_modality(modality)
    text = os.fspath(spec) if isinstance(spec, (str, os.PathLike)) else ""
    if text not in ("", "digits") and os.path.isdir(text):
        return load_folder(
            text, task=task, seed=seed, validation_fraction=validation_fraction,
            test_fraction=test_fraction, modality=modality, image_size=image_size,
            skip_bad_files=skip_bad_files, memory_budget=memory_budget,
            cache_dir=cache_dir, disk_cache=disk_cache,
        )
    budget = default_memory_budget() if memory_budget is None else memory_budget
    name, source, x, y, details = _load_arrays(
        spec, text_column, budget, cache_dir or default_cache_dir(), modality
    )
    if y is None:  # A CSV of files and labels: split and read as a folder.
        return load_listing(
            x, name, task=task, seed=seed, validation_fraction=validation_fraction,
            test_fraction=test_fraction, image_size=image_size,
            skip_bad_files=skip_bad_files, memory_budget=memory_budget,
            cache_dir=cache_dir, disk_cache=disk_cache, source=source,
        )
    modality, reason = detect_modality(x, modality, details.get("sample_rate"))
    if modality == "image" and x.ndim == 3:
        x = x[..., np.newaxis]
    if modality == "audio" and "sample_rate" not in details:
        raise DatasetError(
            f"{source} holds no `sample_rate`: audio in an .npz file needs one "
            "(an integer array `sample_rate` beside `x` and `y`), or read the "
            "recordings from a folder of .wav files."
        )
    return split_dataset(
        name,
        x,
        y,
        task=task,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        source=source,
        modality=modality,
        modality_reason=reason,
        details=details,
    )


def _load_arrays(spec, text_column, memory_budget, cache_dir, modality=None):
    """`(name, source, x, y, details)` for a spec, features and labels checked;
    for a CSV of files, `x` is their `FolderListing` and `y` is `None`."""
    text = os.fspath(spec) if isinstance(spec, (str, os.PathLike)) else ""
    if text == "digits":
        return ("digits", "digits", *_load_digits(), {})
    form, _, rest = text.partition(":")
    tfds_name, _, split = rest.partition(":")
    if form == "tfds" and tfds_name:
        return (text, *_load_tfds(tfds_name, split or "train", memory_budget,
                                  cache_dir), {})
    suffix = os.path.splitext(text)[1].lower()
    if suffix in (".npz", ".csv"):
        if not os.path.isfile(text):
            raise DatasetError(f"Dataset file not found: {text}")
        name = os.path.splitext(os.path.basename(text))[0]
        if suffix == ".npz":
            x, y, details = _load_npz(text)
        else:
            (x, y), details = _load_csv(text, text_column, modality), {}
            if y is None:
                return name, text, x, None, details
        return (name, text, *_checked(x, y, source=text), details)
    raise DatasetError(
        f"Unknown dataset spec {spec!r}. Expected one of: {_ACCEPTED_FORMS}."
    )


def _load_digits():
    """Returns the bundled digits as float32 `(1797, 8, 8, 1)` and int32."""
    resource = importlib.resources.files(__package__).joinpath("digits.npz")
    with resource.open("rb") as f, np.load(f) as data:
        x, y = data["x"], data["y"]
    return x.astype("float32")[..., np.newaxis] / 16.0, y.astype("int32")


def _load_tfds(name, split, memory_budget, cache_dir):
    """The source, features and labels of one tfds split, checked.

    The split is streamed in batches into `GrowingArray`s: in memory within
    `memory_budget`, else in `.npy` files of `cache_dir` named by the
    dataset and split. Numbers other than uint8 become float32 batch by
    batch.
    """
    import tensorflow_datasets as tfds  # Slow to import: only when asked for.

    source = f"tfds dataset {name!r} (split {split!r})"
    stem = os.path.join(cache_dir, "tfds-" + hashlib.sha256(
        f"{name}\0{split}\0{os.environ.get('TFDS_DATA_DIR', '')}".encode()
    ).hexdigest()[:24])
    xs = GrowingArray(memory_budget, stem + "-x.npy")
    ys = GrowingArray(memory_budget, stem + "-y.npy")
    try:
        for x, y in tfds.as_numpy(_tfds_split(tfds, name, split).batch(_TFDS_BATCH)):
            if x.dtype.kind in "biuf" and x.dtype != np.uint8:
                x = x.astype("float32")
            xs.append(x)
            ys.append(y)
        x, y = xs.finish(), ys.finish()
    except DatasetError:
        xs.discard()
        ys.discard()
        raise
    except Exception as err:  # tfds raises many types; report them all alike.
        xs.discard()
        ys.discard()
        raise DatasetError(f"Could not load {source}: {_first_line(err)}") from err
    if x is None:
        raise DatasetError(f"{source} holds no samples.")
    return (source, *_checked(x, y, source=source))


def _tfds_split(tfds, name, split):
    """The `tf.data.Dataset` of a split: read locally, else downloaded.

    tfds is asked first with `download=False`, which reads only the local
    data folder. A dataset missing there is downloaded only when the
    download host answers; otherwise it is refused in one line, since tfds
    would retry every file for minutes.
    """
    # tfds reads TFDS_DATA_DIR once, when imported; honour it as it is now.
    options = {"split": split, "as_supervised": True}
    if os.environ.get("TFDS_DATA_DIR"):
        options["data_dir"] = os.environ["TFDS_DATA_DIR"]
    try:
        with _absl_warnings_muted():
            return tfds.load(name, download=False, **options)
    except tfds.core.DatasetNotFoundError:
        raise  # An unknown name: nothing to download either.
    except Exception:  # noqa: BLE001 - decided by what is on disk below.
        with _absl_warnings_muted():
            builder = tfds.builder(name, data_dir=options.get("data_dir"))
            prepared = builder.is_prepared()
        if prepared:
            raise
    host, port = _download_address()
    if not _can_reach((host, port)):
        root = os.fspath(builder.data_dir_root)
        variant = os.path.relpath(builder.data_dir, root)
        folder = variant.split(os.sep)[0]
        raise DatasetError(
            f"tfds dataset {name!r} is neither in the local TFDS data folder "
            f"{root} (no {variant} there) nor downloadable ({host}:{port} "
            "cannot be reached). Prepare it on a machine with network access "
            f"(`tfds build {name}`) and copy its folder {folder}/ into {root}, "
            "or set TFDS_DATA_DIR to a folder that holds it."
        )
    return tfds.load(name, **options)


@contextlib.contextmanager
def _absl_warnings_muted():
    """Hides tfds' warnings while it looks for a data set on disk.

    A missing data set is reported by the caller in one line; tfds' own
    warnings about the folders it looked in would come before it.
    """
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _download_address():
    """The `(host, port)` a download connects to first: the proxy, if any."""
    proxy = urllib.request.getproxies().get("https")
    if proxy:
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"//{proxy}")
        if parsed.hostname:
            return parsed.hostname, parsed.port or 80
    return _DOWNLOAD_HOST


def _can_reach(address, timeout=_DOWNLOAD_PROBE_SECONDS):
    """Whether a TCP connection to `address` opens within `timeout` seconds.

    Name resolution has no timeout of its own, so the probe runs in a
    daemon thread that is given up on after `timeout`.
    """
    reached = []

    def probe():
        try:
            socket.create_connection(address, timeout=timeout).close()
        except OSError:
            return
        reached.append(True)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(reached)


def _load_npz(path):
    """Arrays `x` and `y` of an `.npz` file, and its `sample_rate` if any."""
    if not zipfile.is_zipfile(path):
        raise DatasetError(f"Dataset file {path} is not an .npz archive.")
    try:
        with np.load(path) as data:
            keys = list(data.files)
            arrays = [data[key] for key in ("x", "y") if key in keys]
            rate = data["sample_rate"] if "sample_rate" in keys else None
    except (OSError, ValueError, zipfile.BadZipFile) as err:  # E.g. pickled data.
        raise DatasetError(
            f"Could not read dataset file {path}: {_first_line(err)}"
        ) from err
    if len(arrays) != 2:
        raise DatasetError(
            f"Dataset file {path} must hold arrays `x` and `y`. Found keys: {keys}"
        )
    if rate is None:
        return (*arrays, {})
    if rate.size != 1 or rate.dtype.kind not in "iu" or int(rate) < 1:
        raise DatasetError(
            f"Dataset file {path} holds `sample_rate` {rate!r}: expected one "
            "positive integer (samples per second)."
        )
    return (*arrays, {"sample_rate": int(rate)})


def _load_csv(path, text_column=None, modality=None):
    """Returns the features and the label column of a `.csv` file.

    Feature cells must be numbers, unless the features are one text column
    (`text`, `text_column`, or the only column beside the label); label
    cells may be numbers or text. A CSV naming files gives their
    `FolderListing` and `None` (`keras_nas.data.file_table`).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, skipinitialspace=True)
            rows = [(reader.line_num, row) for row in reader if row]
    except (OSError, ValueError, csv.Error) as err:  # Also undecodable bytes.
        raise DatasetError(
            f"Could not read dataset file {path}: {_first_line(err)}"
        ) from err
    header = [column.strip() for column in rows[0][1]] if rows else []
    if len(header) < 2 or len(rows) < 2:
        raise DatasetError(
            f"Dataset file {path} must hold a header row naming at least two "
            f"columns and rows of data. Found header: {header}, "
            f"{max(len(rows) - 1, 0)} rows."
        )
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DatasetError(
                f"Dataset file {path} has {len(header)} header columns but "
                f"{len(row)} data columns on line {line}."
            )
    label = header.index("label") if "label" in header else len(header) - 1
    cells = np.array([row for _, row in rows[1:]], dtype=str)
    cells = np.char.strip(cells)
    labels = _csv_labels(cells[:, label], path, header[label], rows)
    listing = file_listing(path, header, label, cells, labels, modality)
    if listing is not None:
        return listing, None
    text = _text_column(header, label, cells, text_column, path)
    if text is not None:
        return cells[:, text], labels
    names = [column for i, column in enumerate(header) if i != label]
    x = _csv_features(np.delete(cells, label, axis=1), names, rows, path)
    return x, labels


def _text_column(header, label, cells, text_column, path):
    """The index of the CSV's text column, or `None` for numeric features."""
    if text_column is not None:
        if text_column not in header or header.index(text_column) == label:
            raise DatasetError(
                f"Dataset file {path} has no text column {text_column!r} "
                f"(--text-column); its columns: {header}."
            )
        return header.index(text_column)
    if "text" in header and header.index("text") != label:
        return header.index("text")
    if len(header) == 2:
        column = 1 - label
        try:
            cells[:, column].astype("float64")
        except ValueError:
            return column
    return None


def _csv_features(cells, names, rows, path):
    """Feature cells as float64; the first one that is not a number is refused."""
    try:
        return cells.astype("float64")
    except ValueError:
        pass
    for number, ((line, _), row) in enumerate(zip(rows[1:], cells), start=1):
        for column, cell in zip(names, row):
            try:
                float(cell)
            except ValueError:
                raise DatasetError(
                    f"Dataset file {path} holds {str(cell)!r} in feature column "
                    f"{column!r}, data row {number} (line {line}): feature "
                    "cells must be numbers; only the label column may hold text."
                ) from None
    return np.array([[float(cell) for cell in row] for row in cells])


def _csv_labels(cells, path, column, rows):
    """A label column as integers, floats, or text when not all are numbers."""
    empty = np.flatnonzero(cells == "")
    if len(empty):
        raise DatasetError(
            f"Dataset file {path} has no label in column {column!r}, data row "
            f"{empty[0] + 1} (line {rows[empty[0] + 1][0]})."
        )
    for dtype in ("int64", "float64"):
        try:
            return cells.astype(dtype)
        except (ValueError, OverflowError):
            continue
    return cells


def _checked(x, y, source):
    """Returns float32 features and the labels as given; else `DatasetError`."""
    x, y = _as_features(x, source), _as_labels(y, source)
    if len(x) != len(y):
        raise DatasetError(f"{source} holds {len(x)} samples but {len(y)} labels.")
    return x, y


def _as_features(x, source):
    """Checks numbers and casts them to float32 (uint8 stays), or strings.

    NaN or infinite values are refused, and so are values of a magnitude
    above `keras_nas.validation.MAX_FEATURE_MAGNITUDE` (about 1.8e19, the
    square root of the largest float32): the variance of such a feature
    overflows float32 when the model scales its inputs.
    """
    if x.dtype.kind in "USO":
        return _as_texts(x, source)
    if x.dtype.kind not in "biuf":
        raise DatasetError(
            f"Features in {source} must be numbers or strings. Received "
            f"dtype: {x.dtype}"
        )
    if x.ndim not in (2, 3, 4):
        raise DatasetError(
            f"Features in {source} must have shape (N, F), (N, H, W) or "
            f"(N, H, W, C). Received shape: {x.shape}"
        )
    if on_disk(x):
        return _checked_on_disk(x, source)
    bad = ~np.isfinite(x)
    if bad.any():
        raise DatasetError(
            f"Features in {source} hold {int(bad.sum()):,} NaN or infinite "
            f"values, first at {_positions(bad)}; fill or drop them before "
            "loading."
        )
    if x.dtype == np.uint8:
        return x  # Images of 0..255: the models scale them.
    with np.errstate(over="ignore"):  # Too large for float32: refused below.
        x = x.astype("float32")
    large = np.abs(x) > MAX_FEATURE_MAGNITUDE  # Overflowed ones are inf.
    if large.any():
        raise DatasetError(
            f"Features in {source} hold {int(large.sum()):,} values of "
            f"magnitude above {MAX_FEATURE_MAGNITUDE:.3g} (the square root of "
            f"the largest float32), first at {_positions(large)}: their "
            "variance overflows float32 when the model scales its inputs; "
            "rescale them (other units, a logarithm) before loading."
        )
    return x


def _checked_on_disk(x, source):
    """`_as_features`' checks of a file-backed uint8 or float32 `x`, a chunk
    at a time."""
    if x.dtype == np.uint8:
        return x
    start = 0
    for chunk in chunks(x):
        bad = ~np.isfinite(chunk) | (np.abs(chunk) > MAX_FEATURE_MAGNITUDE)
        if bad.any():
            first = start + int(np.argwhere(bad)[0, 0])
            raise DatasetError(
                f"Features in {source} hold NaN, infinite or values of "
                f"magnitude above {MAX_FEATURE_MAGNITUDE:.3g}, first in row "
                f"{first:,}; fill, drop or rescale them before loading."
            )
        start += len(chunk)
    return x


def _as_texts(x, source):
    """One string per sample, bytes decoded as UTF-8; else `DatasetError`."""
    if x.ndim != 1:
        raise DatasetError(
            f"Text in {source} must be one string per sample, shape (N,). "
            f"Received shape: {x.shape}"
        )
    texts = []
    for row, value in enumerate(x):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DatasetError(
                    f"Text in {source}, row {row}, is not UTF-8 (byte "
                    f"{err.start}); re-encode it as UTF-8."
                ) from None
        if not isinstance(value, str):
            raise DatasetError(
                f"Features in {source} mix strings with {type(value).__name__} "
                f"values (row {row}): text must be one string per sample."
            )
        texts.append(value)
    return np.array(texts, dtype=str)


def _positions(mask):
    """Where the first few `True` values of a feature mask are, in words."""
    first = np.argwhere(mask)[:5]
    rows = first[:, 0].tolist()
    if mask.ndim == 2:
        where = f"columns {first[:, 1].tolist()}"
    else:
        where = f"positions {[tuple(p) for p in first[:, 1:].tolist()]}"
    return f"rows {rows} {where} (0-based sample and feature indices)"


def _as_labels(y, source):
    """Checks the labels' shape; decodes bytes to text. Tasks check the rest."""
    if y.ndim not in (1, 2):
        raise DatasetError(
            f"Labels in {source} must have shape (N,) or (N, K). Received "
            f"shape: {y.shape}"
        )
    if len(y) == 0:
        raise DatasetError(f"{source} holds no samples.")
    if y.dtype.kind in "SO" and all(isinstance(v, bytes) for v in y.flat):
        text = [v.decode("utf-8", "replace") for v in y.flat]
        y = np.array(text).reshape(y.shape)
    return y


def _first_line(err):
    """Returns an exception's type and the first line of its message."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
