"""Class-folder data sets read into in-memory NumPy arrays.

Keras users often hold a data set as `DIR/<class>/<file>`, the layout that
`keras.utils.image_dataset_from_directory`, `audio_dataset_from_directory`
and `text_dataset_from_directory` read. It is read here the same way: the
class names are the sub-folder names sorted alphabetically, a file's label
is its class's index in that list, and the files of each class (nested
folders included) come in Keras's order, sorted by folder then by name.

`scan_folder` lists the files and detects the modality; `read_images`,
`read_audio` and `read_texts` read them into arrays. A file that cannot be
read raises a one-line `DatasetError` naming it (relative to the folder)
and saying what to do; with `skip_bad=True` it is left out instead and
listed, with the reason, in the result's `skipped`.

Example:

```python
listing = scan_folder("flowers/train")  # flowers/train/<class>/<file>.jpg
images = read_images(listing, image_size=(64, 64))
images.x.shape, images.labels, listing.class_names
```
"""

import collections
import dataclasses
import functools
import hashlib
import numbers
import os
import re
import wave

import numpy as np
import tensorflow as tf

from keras_nas import disk_arrays
from keras_nas.split_indices import DatasetError
from keras_nas.validation import check_bool, check_positive_float

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
"""The image files read, as Keras's `image_dataset_from_directory`."""

AUDIO_EXTENSIONS = (".wav",)
"""The audio files read: PCM WAV."""

TEXT_EXTENSIONS = (".txt",)
"""The text files read: UTF-8."""

EXTENSIONS = {
    "image": IMAGE_EXTENSIONS,
    "audio": AUDIO_EXTENSIONS,
    "text": TEXT_EXTENSIONS,
}
"""The files read of each modality, by extension."""
_SKIP_HINT = "or pass --skip-bad-files (skip_bad=True) to leave such files out"
_TO_PCM = "convert it to 16-bit PCM, e.g. `ffmpeg -i in.wav -c:a pcm_s16le out.wav`"
_MAX_DEFAULT_SIDE = 64
_SIZE_PROBES = 256
_CHANNEL_PROBES = 64


@dataclasses.dataclass(frozen=True, eq=False)
class FolderListing:
    """The files of a class-folder data set, in Keras's order.

    Attributes:
        root: The folder given.
        files: Paths relative to `root`, class by class.
        labels: int32 index into `class_names`, one per file.
        class_names: The sorted class sub-folder names.
        modality: `"image"`, `"audio"` or `"text"`.
        reason: One line saying why this modality, e.g. `"a folder of 10
            class folders holding 5,000 .png files: image"`.
        class_folders: Whether the labels are class folders, each of which
            must keep a file; `False` for labels given beside the files (a
            CSV of files and targets).
    """

    root: str
    files: tuple = dataclasses.field(repr=False)
    labels: np.ndarray = dataclasses.field(repr=False)
    class_names: tuple
    modality: str
    reason: str
    class_folders: bool = True


@dataclasses.dataclass(frozen=True, eq=False)
class FolderArrays:
    """Files read by `read_images` or `read_texts`.

    Attributes:
        x: uint8 images of shape `(N, height, width, channels)`, or a NumPy
            unicode array of shape `(N,)` of texts.
        labels: int32 class indices, shape `(N,)`.
        files: The files kept, relative to the listing's root.
        skipped: `(file, reason)` for each file left out.
    """

    x: np.ndarray = dataclasses.field(repr=False)
    labels: np.ndarray = dataclasses.field(repr=False)
    files: tuple = dataclasses.field(repr=False)
    skipped: tuple


@dataclasses.dataclass(frozen=True, eq=False)
class AudioArrays(FolderArrays):
    """Clips read by `read_audio`: `x` holds float32 mono samples in
    [-1, 1), shape `(N, L)`, zero-padded.

    Attributes:
        sample_rate: The sampling rate of every clip, in Hz.
        lengths: Each clip's length in samples before padding or cropping.
    """

    sample_rate: int = 0
    lengths: np.ndarray = dataclasses.field(default=None, repr=False)


class _BadFile(Exception):
    """A file that cannot be read: what is wrong and what to do."""

    def __init__(self, problem, advice):
        super().__init__(problem)
        self.problem = problem
        self.advice = advice


def scan_folder(path, modality=None):
    """Lists a folder of class sub-folders as Keras does.

    Files directly in `path` and hidden files and folders (names starting
    with ".") are ignored; folders nested in a class folder are included.

    Args:
        path: The folder, holding one sub-folder per class.
        modality: `"image"`, `"audio"` or `"text"`; `None` (the default)
            picks the one with the most files (by extension, in any case).
            Files of other extensions are ignored.

    Returns:
        A `FolderListing`.

    Raises:
        ValueError: If `modality` is not one of the above.
        DatasetError: If `path` is not a folder, holds no class folders or
            no file of a known extension, a class folder holds no file of
            the modality, or there is a single class.
    """
    if modality is not None and modality not in EXTENSIONS:
        raise ValueError(
            "Received an invalid value for `modality`, expected 'image', "
            f"'audio', 'text' or None. Received: modality={modality!r}"
        )
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise DatasetError(
            f"{root} is not a folder: pass a folder holding one sub-folder per class"
        )
    classes = sorted(
        name
        for name in os.listdir(root)
        if not name.startswith(".") and os.path.isdir(os.path.join(root, name))
    )
    if not classes:
        example = os.path.join(root, "cat", "1.png")
        raise DatasetError(
            f"{root} holds no class sub-folders: put each class's files in a "
            f"sub-folder named after it, e.g. {example}"
        )
    found = {name: _class_files(root, name) for name in classes}
    every = [file.lower() for files in found.values() for file in files]
    counts = {
        kind: sum(file.endswith(extensions) for file in every)
        for kind, extensions in EXTENSIONS.items()
    }
    if not any(counts.values()):
        known = "/".join(IMAGE_EXTENSIONS + AUDIO_EXTENSIONS + TEXT_EXTENSIONS)
        raise DatasetError(
            f"the class folders of {root} hold no {known} files: "
            "put the files of each class in its folder"
        )
    if modality is None:
        modality = max(counts, key=counts.get)
        seen = "/".join(
            ext for ext in EXTENSIONS[modality] if any(f.endswith(ext) for f in every)
        )
        others = len(every) - counts[modality]
        reason = (
            f"a folder of {len(classes)} class folders holding "
            f"{counts[modality]:,} {seen} files: {modality}"
        )
        if others:
            reason += f" ({others:,} other file{'s' if others > 1 else ''} ignored)"
    else:
        reason = f"modality={modality!r} as given"
    extensions = EXTENSIONS[modality]
    files, labels = [], []
    for label, name in enumerate(classes):
        kept = [file for file in found[name] if file.lower().endswith(extensions)]
        if not kept:
            raise DatasetError(
                f"class {name!r} ({name}/) holds no {'/'.join(extensions)} files: "
                f"add some or move the folder out of {root}"
            )
        files += kept
        labels += [label] * len(kept)
    if len(classes) < 2:
        raise DatasetError(
            f"{root} holds a single class folder ({classes[0]}/): "
            "needs at least 2 classes, one sub-folder each"
        )
    labels = np.array(labels, np.int32)
    return FolderListing(root, tuple(files), labels, tuple(classes), modality, reason)


def read_images(listing, image_size=None, channels=None, skip_bad=False,
                max_bytes=None, cache_dir=None, disk_cache=True):
    """Decodes the images of a listing into one uint8 array.

    GIFs give their first frame. Images are resized with bilinear
    interpolation as Keras does (then rounded); those already at the size
    are kept as they are.

    Args:
        listing: A `FolderListing` of images, from `scan_folder`.
        image_size: `(height, width)`; `None` (the default) takes the median
            height and width of the first 256 images, scaled down to at most
            64 pixels a side keeping the aspect ratio: (100, 200) gives
            (32, 64).
        channels: 1 (grey) or 3 (RGB; alpha is dropped); `None` (the
            default) gives 3 if any of the first 64 images has colour.
        skip_bad: Whether to leave out files that cannot be decoded.
        max_bytes: The most bytes the decoded images may take in memory;
            `None` for no limit. Beyond it they are decoded once into an
            `.npy` file of `cache_dir` named by the files (their names,
            sizes and times) and the image shape, which later reads of the
            same files reuse.
        cache_dir: The folder of that file; `None` for
            `keras_nas.disk_arrays.default_cache_dir()`.
        disk_cache: Whether images beyond `max_bytes` are decoded into that
            file; `False` decodes each once to check it, then again each
            time it is read (`ImageFiles`), writing nothing.

    Returns:
        A `FolderArrays`; beyond `max_bytes` its `x` is a read-only
        `numpy.memmap`, or `ImageFiles` without the disk cache.

    Raises:
        ValueError: If an argument is invalid.
        DatasetError: If a file cannot be decoded (unless `skip_bad`), or a
            class loses all its files.
    """
    _check_listing(listing, "image", skip_bad)
    if image_size is not None:
        size = tuple(image_size) if isinstance(image_size, (tuple, list)) else ()
        if len(size) != 2 or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
            for v in size
        ):
            raise ValueError(
                "Received an invalid value for `image_size`, expected (height, "
                f"width), two positive integers. Received: image_size={image_size!r}"
            )
        image_size = tuple(int(v) for v in size)
    if channels not in (None, 1, 3):
        raise ValueError(
            "Received an invalid value for `channels`, expected 1, 3 or None. "
            f"Received: channels={channels!r}"
        )
    if image_size is None or channels is None:
        # When no file decodes, the size does not matter: all are bad.
        probes = _SIZE_PROBES if image_size is None else _CHANNEL_PROBES
        shapes = _probe_shapes(listing, probes) or [(1, 1, 1)]
        if image_size is None:
            height, width = (np.median([s[i] for s in shapes]) for i in (0, 1))
            scale = min(1.0, _MAX_DEFAULT_SIDE / max(height, width))
            image_size = tuple(
                max(1, int(side * scale + 0.5)) for side in (height, width)
            )
        if channels is None:
            channels = 3 if any(s[2] >= 3 for s in shapes[:_CHANNEL_PROBES]) else 1
    shape = (len(listing.files), *image_size, channels)
    cache_path, cached = _cache("images", listing, shape, np.uint8, max_bytes, cache_dir)
    if cached is not None:
        return FolderArrays(cached, listing.labels, listing.files, ())
    x = None  # Read from the files, once checked that they decode.
    if disk_cache or cache_path is None:
        x = disk_arrays.new_array(shape, np.uint8, max_bytes, cache_path)
    rows, bad = [], []
    try:
        for index, image in _each_file(listing, _decode_image, skip_bad, bad):
            if x is not None:
                x[len(rows)] = _shaped(image, image_size, channels)
            rows.append(index)
        kept = _kept(listing, rows, bad)
        if x is None:
            files = ImageFiles(listing.root, kept[1], image_size, channels)
            return FolderArrays(files, *kept)
        return FolderArrays(disk_arrays.finish_array(x, len(rows), cache_path), *kept)
    except BaseException:
        disk_arrays.discard(cache_path)
        raise


def _shaped(image, image_size, channels):
    """A decoded image with `channels` channels at `image_size`, as Keras
    resizes (bilinear), rounded to uint8."""
    if image.shape[2] < 3:
        image = np.repeat(image[..., :1], channels, axis=2)
    elif channels == 3:
        image = image[..., :3]
    else:
        image = tf.image.rgb_to_grayscale(image[..., :3]).numpy()
    if image.shape[:2] != image_size:
        image = np.clip(np.round(tf.image.resize(image, image_size).numpy()), 0, 255)
    return image


class ImageFiles:
    """Images read from their files each time rows are asked for.

    What `read_images` gives, without its disk cache, for images beyond
    the memory budget: it holds the file names only, and is read as
    `keras_nas.disk_arrays` reads file-backed arrays (`read_rows`,
    `chunks`), with the pixels `read_images` would have stored.

    Args:
        root: The folder the files are relative to.
        files: The files, one a row, each known to decode.
        image_size: `(height, width)` of every image.
        channels: 1 or 3.
    """

    dtype = np.dtype(np.uint8)

    def __init__(self, root, files, image_size, channels):
        self.root, self.files = root, tuple(files)
        self.image_size, self.channels = tuple(image_size), channels

    @property
    def shape(self):
        return (len(self.files), *self.image_size, self.channels)

    @property
    def ndim(self):
        return 4

    def __len__(self):
        return len(self.files)

    def read_rows(self, indices):
        """The images of rows `indices`, decoded, shape `(len(indices), H, W, C)`."""
        out = np.empty((len(indices), *self.image_size, self.channels), np.uint8)
        for row, index in enumerate(indices):
            image = _decode_image(os.path.join(self.root, self.files[int(index)]))
            out[row] = _shaped(image, self.image_size, self.channels)
        return out

    def __getitem__(self, key):
        rows = np.arange(len(self))[key]
        return self.read_rows(np.atleast_1d(rows))[0] if np.ndim(rows) == 0 else (
            self.read_rows(rows)
        )


def read_audio(listing, skip_bad=False, max_seconds=10.0, length=None,
               max_bytes=None, cache_dir=None):
    """Reads the PCM WAV clips of a listing into one float32 array.

    Channels are averaged to mono. Every clip is zero-padded at the end or
    cropped to `length` samples, by default the longest clip's length, at
    most `max_seconds`. All clips must share one sampling rate (nothing is
    resampled).

    Args:
        listing: A `FolderListing` of audio, from `scan_folder`.
        skip_bad: Whether to leave out files that cannot be read and those
            at a sampling rate other than the most common one.
        max_seconds: The longest length kept, in seconds.
        length: The samples of every clip; `None` for the default above.
        max_bytes: The most bytes the clips may take in memory; `None` for
            no limit. Beyond it they go to a file of `cache_dir`, as
            `read_images` does.
        cache_dir: The folder of that file; `None` for the default cache.

    Returns:
        An `AudioArrays`; its `x` is a read-only `numpy.memmap` beyond
        `max_bytes`.

    Raises:
        ValueError: If an argument is invalid.
        DatasetError: If a file is not PCM WAV or the sampling rates differ
            (unless `skip_bad`), or a class loses all its files.
    """
    _check_listing(listing, "audio", skip_bad)
    max_seconds = check_positive_float("max_seconds", max_seconds)
    bad = []
    headers = dict(_each_file(listing, _wav_header, skip_bad, bad))
    rates = collections.Counter(rate for rate, _ in headers.values())
    rate = max(rates, key=rates.get, default=0)
    if len(rates) > 1 and not skip_bad:
        example = {}
        for index, (other, _) in headers.items():
            example.setdefault(other, listing.files[index])
        found = ", ".join(
            f"{other:,} Hz ({count:,} file{'s' if count > 1 else ''}"
            + (f", e.g. {example[other]})" if other != rate else ")")
            for other, count in rates.most_common()
        )
        raise DatasetError(
            f"the clips have {len(rates)} sampling rates: {found}: "
            f"resample them to {rate:,} Hz, or pass --skip-bad-files "
            f"(skip_bad=True) to leave out those at other rates"
        )
    bad += [
        (i, f"sampled at {r:,} Hz, not {rate:,} Hz")
        for i, (r, _) in headers.items()
        if r != rate
    ]
    kept = [i for i, (r, _) in headers.items() if r == rate]
    if length is None:
        longest = max((headers[i][1] for i in kept), default=0)
        length = min(longest, int(max_seconds * rate))
    shape = (len(kept), length)
    cache_path, cached = _cache("audio", listing, shape, np.float32, max_bytes, cache_dir)
    if cached is not None:
        lengths = np.array([headers[i][1] for i in kept], np.int64)
        return AudioArrays(cached, listing.labels, listing.files, (), rate, lengths)
    x = disk_arrays.new_array(shape, np.float32, max_bytes, cache_path)
    rows = []
    read = functools.partial(_read_wav, limit=length)
    try:
        for index, clip in _each_file(listing, read, skip_bad, bad, kept):
            x[len(rows), : len(clip)] = clip
            x[len(rows), len(clip):] = 0.0
            rows.append(index)
        lengths = np.array([headers[i][1] for i in rows], np.int64)
        x = disk_arrays.finish_array(x, len(rows), cache_path)
        return AudioArrays(x, *_kept(listing, rows, bad), rate, lengths)
    except BaseException:
        disk_arrays.discard(cache_path)
        raise


def read_texts(listing, skip_bad=False):
    """Reads the UTF-8 text files of a listing (a leading BOM is dropped).

    Args:
        listing: A `FolderListing` of texts, from `scan_folder`.
        skip_bad: Whether to leave out files that are not UTF-8.

    Returns:
        A `FolderArrays`.

    Raises:
        ValueError: If an argument is invalid.
        DatasetError: If a file is not UTF-8 (unless `skip_bad`), or a class
            loses all its files.
    """
    _check_listing(listing, "text", skip_bad)
    bad = []
    texts = dict(_each_file(listing, _read_text, skip_bad, bad))
    rows = list(texts)
    x = np.array([texts[i] for i in rows], dtype=str)
    return FolderArrays(x, *_kept(listing, rows, bad))


def _class_files(root, name):
    """The files under `root/name`, relative to `root`, in Keras's order."""
    walked = []
    for folder, subfolders, names in os.walk(os.path.join(root, name)):
        subfolders[:] = [sub for sub in subfolders if not sub.startswith(".")]
        walked.append((folder, sorted(n for n in names if not n.startswith("."))))
    return [
        os.path.relpath(os.path.join(folder, n), root)
        for folder, names in sorted(walked)
        for n in names
    ]


def _check_listing(listing, modality, skip_bad):
    """Checks the arguments every reader takes."""
    if not isinstance(listing, FolderListing) or listing.modality != modality:
        got = repr(listing)
        if isinstance(listing, FolderListing):
            got = f"a listing of {listing.modality} files"
        raise ValueError(
            "Received an invalid value for `listing`, expected a FolderListing of "
            f"{modality} files, from scan_folder(path, modality={modality!r}). "
            f"Received: {got}"
        )
    check_bool("skip_bad", skip_bad)


def _each_file(listing, read, skip_bad, bad, indices=None):
    """Yields `(index, read(path))` for each file (of `indices`) read.

    A file that cannot be read raises `DatasetError` or, with `skip_bad`,
    adds `(index, problem)` to `bad`.
    """
    for index in range(len(listing.files)) if indices is None else indices:
        file = listing.files[index]
        try:
            yield index, read(os.path.join(listing.root, file))
        except OSError as error:
            problem = f"cannot be read ({error.strerror or error})"
            advice = "make it readable"
        except _BadFile as error:
            problem, advice = error.problem, error.advice
        else:
            continue
        if not skip_bad:
            raise DatasetError(f"{file} {problem}: {advice}, {_SKIP_HINT}")
        bad.append((index, problem))


def _kept(listing, rows, bad):
    """The labels, files and skipped files of a result.

    Raises:
        DatasetError: If a class folder lost all its files.
    """
    labels = listing.labels[np.array(rows, np.int64)]
    bad = sorted(bad)
    lost = sorted(set(listing.labels.tolist()) - set(labels.tolist()))
    if lost and listing.class_folders:
        name = listing.class_names[lost[0]]
        index, problem = next((i, p) for i, p in bad if listing.labels[i] == lost[0])
        count = int(np.sum(listing.labels == lost[0]))
        raise DatasetError(
            f"class {name!r} ({name}/) has no file left ({count:,} skipped, e.g. "
            f"{listing.files[index]} {problem}): fix or replace them"
        )
    files = tuple(listing.files[i] for i in rows)
    return labels, files, tuple((listing.files[i], p) for i, p in bad)


def _probe_shapes(listing, count):
    """The `(height, width, channels)` of the first `count` files that decode."""
    shapes = []
    for file in listing.files:
        try:
            shapes.append(_decode_image(os.path.join(listing.root, file)).shape)
        except (OSError, _BadFile):
            continue
        if len(shapes) == count:
            break
    return shapes


def _decode_image(path):
    """An image file's pixels, uint8 `(height, width, channels)` as stored."""
    with open(path, "rb") as stream:
        contents = stream.read()
    try:
        return tf.io.decode_image(contents, expand_animations=False).numpy()
    except tf.errors.OpError as error:
        detail = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", error.message).strip()
        problem = f"cannot be decoded as an image ({detail.splitlines()[0][:80]})"
        raise _BadFile(problem, "replace or remove it") from None


def _wav_header(path):
    """A WAV file's `(sampling rate, length in samples)`."""
    try:
        with wave.open(path, "rb") as clip:
            width = clip.getsampwidth()
            if width not in (1, 2, 3, 4):
                raise _BadFile(f"has {8 * width}-bit samples, not 8 to 32", _TO_PCM)
            return clip.getframerate(), clip.getnframes()
    except (wave.Error, EOFError) as error:
        problem = f"is not a PCM WAV file ({str(error) or 'it ends early'})"
        raise _BadFile(problem, _TO_PCM) from None


def _read_wav(path, limit):
    """Up to `limit` samples of a PCM WAV file, mono float32 in [-1, 1)."""
    with wave.open(path, "rb") as clip:
        width, channels = clip.getsampwidth(), clip.getnchannels()
        count = clip.getnframes()
        data = clip.readframes(limit)
    raw = np.frombuffer(data[: len(data) - len(data) % (width * channels)], np.uint8)
    if width == 1:
        values = raw.astype(np.float64) - 128
    elif width == 3:
        shifted = raw.reshape(-1, 3).astype(np.int32) << [8, 16, 24]
        values = shifted.sum(axis=1, dtype=np.int32) >> 8  # sign-extended
    else:
        values = raw.view("<i2" if width == 2 else "<i4")
    samples = (values / 2.0 ** (8 * width - 1)).reshape(-1, channels).mean(axis=1)
    if len(samples) < min(count, limit):
        problem = (
            f"is truncated: its header says {count:,} samples, it has {len(samples):,}"
        )
        raise _BadFile(problem, "replace it")
    below_one = np.nextafter(np.float32(1), np.float32(0))  # 32-bit may round up
    return np.minimum(samples, below_one).astype(np.float32)


def _read_text(path):
    """A UTF-8 text file's content, without a leading byte order mark."""
    with open(path, "rb") as stream:
        data = stream.read()
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        problem = f"is not UTF-8 (byte 0x{data[offset]:02x} at offset {offset:,})"
        raise _BadFile(problem, "re-save it as UTF-8") from None


def _cache(kind, listing, shape, dtype, max_bytes, cache_dir):
    """`(path, arrays)` of a listing's cache file beyond the budget.

    The path is named by the files (their names, sizes and times) and the
    shape; the arrays are those of a complete earlier read of every file,
    else `None`. Within the budget: `(None, None)`.
    """
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if max_bytes is None or nbytes <= max_bytes:
        return None, None
    digest = hashlib.sha256(repr(shape).encode())
    for name in listing.files:
        try:
            status = os.stat(os.path.join(listing.root, name))
            stamp = f"{status.st_size}\0{status.st_mtime_ns}"
        except OSError:
            stamp = "unreadable"  # Reported when it is read.
        digest.update(f"{name}\0{stamp}\0".encode())
    folder = cache_dir or disk_arrays.default_cache_dir()
    path = os.path.join(folder, f"{kind}-{digest.hexdigest()[:24]}.npy")
    cached = disk_arrays.open_cached(path)
    if cached is None or cached.shape[1:] != tuple(shape[1:]):
        return path, None
    return path, cached if len(cached) == len(listing.files) else None
