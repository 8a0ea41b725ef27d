"""Arrays that outgrow the memory budget, kept in `.npy` files and read by rows.

Data within the memory budget stays in ordinary NumPy arrays. Beyond it,
a split is written once to an `.npy` file of an on-disk cache folder and
opened read-only as a `numpy.memmap`; everything that reads it goes
through `read_rows` and `chunks`, which read with `os.preadv` into fresh
buffers instead of touching the mapping, so the process's memory holds a
batch or a chunk at a time, not the file's pages. The files are complete
only once renamed from their `.partial` name, so an interrupted write
leaves nothing that looks whole.
"""

import ast
import mmap
import os

import numpy as np

CHUNK_BYTES = 32 << 20
"""The bytes of one chunk of rows read by `chunks`."""

_PARTIAL = ".partial"
# Room for any row count in the header of an array whose count is not known
# when its file is opened (`GrowingArray`).
_LARGEST_ROWS = 10**15


def default_cache_dir():
    """`$XDG_CACHE_HOME/keras_nas/data`, by default `~/.cache/keras_nas/data`."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(root, "keras_nas", "data")


def on_disk(x):
    """Whether `x` is kept out of memory: a whole array in a file (a
    `numpy.memmap` of it), or rows decoded from files when read (an object
    with `shape`, `dtype`, `__len__` and `read_rows(indices)`, such as
    `keras_nas.data.folders.ImageFiles`).

    A slice of a `numpy.memmap` is not: its `offset` is still the file's,
    so it is read as any array is.
    """
    if isinstance(x, np.memmap):
        return isinstance(x.base, mmap.mmap)
    return hasattr(x, "read_rows")


def is_array(x):
    """Whether `x` is rows of data: a NumPy array, or one kept out of memory."""
    return isinstance(x, np.ndarray) or on_disk(x)


def open_cached(path):
    """The complete array at `path`, memory-mapped read-only; `None` if absent."""
    if not os.path.isfile(path):
        return None
    return np.load(path, mmap_mode="r")


def new_array(shape, dtype, max_bytes, path):
    """An array to fill: in memory within `max_bytes`, else in `path`'s file.

    Args:
        shape: The array's shape.
        dtype: Its dtype.
        max_bytes: The most bytes it may take in memory; `None` for no limit.
        path: The `.npy` file it is written to when larger (`None` when it
            cannot be); written as `path + ".partial"` until `finish_array`.

    Returns:
        A NumPy array, or a writable `numpy.memmap`.
    """
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if max_bytes is None or nbytes <= max_bytes:
        return np.empty(shape, dtype)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return np.lib.format.open_memmap(
        path + _PARTIAL, mode="w+", dtype=dtype, shape=tuple(shape)
    )


def finish_array(array, rows, path):
    """The first `rows` rows of an array from `new_array`, complete.

    An in-memory array is cut to its rows; a file's header is rewritten with
    the row count, the file renamed to `path` and opened again read-only.
    """
    if not on_disk(array):
        return array[:rows]
    array.flush()
    shape, dtype = (rows, *array.shape[1:]), array.dtype
    del array
    return _completed(path, shape, dtype)


def discard(path):
    """Removes the unfinished file of `path`, if any (`None`: none)."""
    if path is None:
        return
    try:
        os.remove(path + _PARTIAL)
    except FileNotFoundError:
        pass


class GrowingArray:
    """Rows appended in chunks, of a count not known in advance.

    Chunks are kept in memory until they outgrow `max_bytes`; then they,
    and every later chunk, go to `path`'s file instead.

    Args:
        max_bytes: The most bytes kept in memory; `None` for no limit.
        path: The `.npy` file used beyond it.
    """

    def __init__(self, max_bytes, path):
        self.max_bytes, self.path = max_bytes, path
        self.parts, self.rows, self.nbytes = [], 0, 0
        self.row_shape = self.dtype = None
        self._file = None

    def append(self, chunk):
        """Adds a chunk of rows, cast to the first chunk's dtype.

        Raises:
            ValueError: If its rows differ in shape from the first chunk's.
        """
        chunk = np.asarray(chunk)
        if self.dtype is None:
            self.row_shape, self.dtype = chunk.shape[1:], chunk.dtype
        if chunk.shape[1:] != self.row_shape:
            raise ValueError(
                f"Received rows of shape {chunk.shape[1:]} after rows of shape "
                f"{self.row_shape}: every batch needs rows of one shape."
            )
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
        self.rows += len(chunk)
        self.nbytes += chunk.nbytes
        if self._file is not None:
            self._file.write(memoryview(chunk).cast("B"))
            return
        self.parts.append(chunk)
        if self.max_bytes is not None and self.nbytes > self.max_bytes:
            self._spill()

    def _spill(self):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._file = open(self.path + _PARTIAL, "wb")
        header = _header((_LARGEST_ROWS, *self.row_shape), self.dtype)
        self._file.write(header)
        for part in self.parts:
            self._file.write(memoryview(part).cast("B"))
        self.parts = []

    def finish(self):
        """The rows as one array: in memory, or the file, memory-mapped.

        Returns `None` when nothing was appended.
        """
        if self.dtype is None:
            return None
        if self._file is None:
            return np.concatenate(self.parts)
        self._file.close()
        return _completed(self.path, (self.rows, *self.row_shape), self.dtype)

    def discard(self):
        """Drops what was appended, the file included."""
        if self._file is not None:
            self._file.close()
            discard(self.path)
        self.parts, self._file = [], None


def read_rows(x, indices):
    """The rows `indices` of `x`, copied; from a file, read without mapping
    it; from a row source, decoded."""
    indices = np.asarray(indices, np.int64)
    if not on_disk(x):
        return x[indices]
    if not isinstance(x, np.memmap):
        return x.read_rows(indices)
    row_bytes = _row_bytes(x)
    out = np.empty((len(indices), *x.shape[1:]), x.dtype)
    view = memoryview(out).cast("B")
    fd = os.open(x.filename, os.O_RDONLY)
    try:
        # Runs of consecutive rows are read in one call.
        starts = np.flatnonzero(np.diff(indices, prepend=-2) != 1)
        ends = np.append(starts[1:], len(indices))
        for start, end in zip(starts, ends):
            offset = x.offset + int(indices[start]) * row_bytes
            _read_fully(fd, view[start * row_bytes:end * row_bytes], offset, x.filename)
    finally:
        os.close(fd)
    return out


def _read_fully(fd, buffer, offset, path):
    """Fills `buffer` from `offset` of the file, however many reads it takes."""
    while len(buffer):
        count = os.preadv(fd, [buffer], offset)
        if count <= 0:
            raise OSError(f"{path} ends before byte {offset:,}: the file was cut short")
        buffer, offset = buffer[count:], offset + count


def chunks(x, max_bytes=CHUNK_BYTES):
    """`x` in consecutive chunks of rows of about `max_bytes`, as arrays."""
    step = max(1, max_bytes // _row_bytes(x))
    for start in range(0, len(x), step):
        stop = min(len(x), start + step)
        if on_disk(x):
            yield read_rows(x, np.arange(start, stop))
        else:
            yield x[start:stop]


def take_rows(x, indices, path):
    """The rows `indices` of `x`: in memory for an in-memory `x`, else a file.

    A file-backed `x` gives a file-backed result at `path` (reused when
    complete), written a chunk at a time.
    """
    if not on_disk(x):
        return x[indices]
    cached = open_cached(path)
    if cached is not None:
        return cached
    indices = np.asarray(indices, np.int64)
    out = new_array((len(indices), *x.shape[1:]), x.dtype, 0, path)
    step = max(1, CHUNK_BYTES // _row_bytes(x))
    try:
        for start in range(0, len(indices), step):
            out[start:start + step] = read_rows(x, indices[start:start + step])
        return finish_array(out, len(indices), path)
    except BaseException:
        discard(path)
        raise


def _completed(path, shape, dtype):
    """The `.partial` file of `path` given its final shape, renamed to
    `path` and opened read-only."""
    _rewrite_header(path + _PARTIAL, shape, dtype)
    os.replace(path + _PARTIAL, path)
    return np.load(path, mmap_mode="r")


def _row_bytes(x):
    """The bytes of one row of `x` (at least 1)."""
    return max(1, np.dtype(x.dtype).itemsize * int(np.prod(x.shape[1:], dtype=np.int64)))


def _header(shape, dtype):
    """A version 1.0 `.npy` header of a C-ordered array."""
    fields = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": tuple(int(v) for v in shape),
    }
    text = repr(fields)
    # Magic (6) + version (2) + header length (2), then the padded header.
    length = -(-(10 + len(text) + 1) // 64) * 64 - 10
    text = text.ljust(length - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + length.to_bytes(2, "little") + text.encode("latin1")


def _rewrite_header(path, shape, dtype):
    """Writes `shape` into the header of the `.npy` file at `path`, in place."""
    with open(path, "r+b") as f:
        major, _ = np.lib.format.read_magic(f)
        width = 2 if major == 1 else 4
        length = int.from_bytes(f.read(width), "little")
        old = ast.literal_eval(f.read(length).decode("latin1"))
        fields = {**old, "shape": tuple(int(v) for v in shape),
                  "descr": np.lib.format.dtype_to_descr(np.dtype(dtype))}
        text = repr(fields).ljust(length - 1) + "\n"
        if len(text) != length:
            raise ValueError(f"The header of {path} has no room for shape {shape}")
        f.seek(8 + width)
        f.write(text.encode("latin1"))
