"""Durable writes: a reader, or a search resumed after a crash or a full
disk, never sees a partial file.

Every file keras-nas writes (state files, checkpoints, exports) goes to a
temporary name in the same folder, is flushed to disk (`os.fsync`) and is
then renamed over its final name; the folder is synced too, so the rename
survives a power cut. A temporary name holds `.tmp-<pid>`, so that what a
killed process left behind is recognised and removed
(`remove_stale_temporaries`) while a live writer's files are left alone.

A write that fails (a full disk, a missing permission, a read-only file
system) raises `WriteError`, which names the file and what to do, and
leaves no temporary file behind.
"""

import errno
import json
import os
import re
import shutil
import tempfile

import tensorflow as tf

from keras_nas import compat
from keras_nas.write_errors import write_error

TEMPORARY_MARK = ".tmp-"
"""What every temporary name holds, followed by the writer's process id."""

_TEMPORARY = re.compile(r"\.tmp-(\d+)(?:[-.]|$)")

class CorruptFileError(ValueError):
    """A file keras-nas wrote earlier cannot be read back.

    Args:
        path: The file.
        detail: What is wrong with it (one line).

    Attributes:
        path: As given.
        detail: As given.
    """

    def __init__(self, path, detail):
        self.path = os.fspath(path)
        self.detail = " ".join(str(detail).split())
        super().__init__(f"{self.path} is corrupt ({self.detail}).")

    def __reduce__(self):
        return type(self), (self.path, self.detail)


def save_atomically(path, save):
    """Makes `save` write `path` durably: all of it or none of it.

    `save(temporary)` writes the file under a temporary name in the same
    folder (`temporary_path`), which is then synced to disk and renamed over
    `path`. On any error the temporary file is removed.

    Args:
        path: The file to write (local or any `tf.io.gfile` path; remote
            paths are renamed but not synced).
        save: Function of the temporary path that writes the file. Not a
            Keras model's `save_weights`: HDF5 may crash the process when
            the disk fills (use `save_weights_atomically`).

    Raises:
        WriteError: If writing, syncing or renaming fails with an
            `OSError` (or a TensorFlow error that names one), naming `path`.

    Example:

    ```python
    save_atomically("report.png", lambda f: figure.savefig(f, format="png"))
    ```
    """
    path = os.fspath(path)
    temporary = temporary_path(path)

    def write():
        save(temporary)
        if _is_remote(path):
            tf.io.gfile.rename(temporary, path, overwrite=True)
            return
        _sync(temporary)
        os.replace(temporary, path)
        _sync(os.path.dirname(path) or ".")

    _reporting(path, write, lambda: _remove(temporary))


def write_atomically(path, data):
    """Writes `data` to `path` durably (see `save_atomically`).

    Args:
        path: The file to write (local or any `tf.io.gfile` path).
        data: `str` (written as UTF-8), or `bytes` or any bytes-like object.

    Raises:
        WriteError: If the file cannot be written, naming `path`.
    """

    def save(temporary):
        with _open(temporary, "w" if isinstance(data, str) else "wb") as f:
            f.write(data)

    save_atomically(path, save)


def save_weights_atomically(model, path):
    """Writes what `model.save_weights(path)` writes, durably.

    The `.weights.h5` file is built in memory (`keras_nas.compat.weights_file`)
    and written with `write_atomically`: HDF5 writing to a full disk itself
    may crash the process when it closes the file.

    Args:
        model: A built `keras.Model`.
        path: The `.weights.h5` file; `model.load_weights` reads it.

    Raises:
        WriteError: If the file cannot be written, naming `path`.
    """
    write_atomically(path, compat.weights_file(model))


def write_json_atomically(path, obj, indent=None):
    """Writes `obj` as JSON to `path` durably.

    Args:
        path: The file to write.
        obj: A JSON-serialisable object.
        indent: As for `json.dumps`.

    Returns:
        The JSON text written.

    Raises:
        WriteError: If the file cannot be written, naming `path`.
    """
    text = json.dumps(obj, indent=indent)
    write_atomically(path, text)
    return text


def save_folder_atomically(path, save):
    """Makes `save` write the folder `path`: all of it or none of it.

    `save(staging)` fills a hidden staging folder next to `path`
    (`.NAME.tmp-<pid>-XXXX`); its files are synced and it is renamed to
    `path`, replacing whatever folder was there. On any error the staging
    folder is removed. Staging folders of `path` left by processes that no
    longer run (a killed export) are removed first.

    Args:
        path: The folder to write; its parent is created as needed.
        save: Function of the staging folder (a `pathlib.Path`-compatible
            str) that writes the folder's content.

    Raises:
        WriteError: If writing fails with an `OSError` (or a TensorFlow
            error that names one), naming `path`.
    """
    path = os.fspath(path)
    parent, name = os.path.split(os.path.abspath(path))
    _reporting(path, lambda: os.makedirs(parent, exist_ok=True), lambda: None)
    remove_stale_temporaries(parent, prefix=f".{name}{TEMPORARY_MARK}")
    staging = []

    def write():
        staging.append(tempfile.mkdtemp(
            prefix=f".{name}{TEMPORARY_MARK}{os.getpid()}-", dir=parent
        ))
        save(staging[0])
        _sync_tree(staging[0])
        _move_into_place(staging[0], path)
        _sync(parent)

    def cleanup():
        for folder in staging:
            shutil.rmtree(folder, ignore_errors=True)

    _reporting(path, write, cleanup)


def temporary_path(path):
    """The temporary name `save_atomically` writes `path` under.

    Args:
        path: The final file.

    Returns:
        `path` followed by `.tmp-<pid>`, e.g. `oracle.json.tmp-42`: no
        reader of `*.json` or `*.weights.h5` files mistakes it for one.
    """
    return f"{os.fspath(path)}{TEMPORARY_MARK}{os.getpid()}"


def remove_stale_temporaries(folder, prefix=""):
    """Removes temporary files and folders left by processes that ended.

    Only names that start with `prefix` and hold `.tmp-<pid>`, with a `pid`
    that runs no process, are removed; a live writer's files stay.

    Args:
        folder: The folder to clean (local); nothing happens if it is absent.
        prefix: The start of the names to consider.

    Returns:
        The paths removed.
    """
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = _TEMPORARY.search(entry)
        if not entry.startswith(prefix) or match is None:
            continue
        if _process_runs(int(match.group(1))):
            continue
        stale = os.path.join(folder, entry)
        if os.path.isdir(stale) and not os.path.islink(stale):
            shutil.rmtree(stale, ignore_errors=True)
        else:
            _remove(stale)
        removed.append(stale)
    return removed


def read_json(path):
    """Reads a JSON file keras-nas wrote.

    Args:
        path: The file (local or any `tf.io.gfile` path).

    Returns:
        The parsed JSON value.

    Raises:
        FileNotFoundError: If there is no such file.
        CorruptFileError: If it is not valid JSON (truncated, garbage),
            naming `path`.
    """
    try:
        with _open(path, "r") as f:
            text = f.read()
    except tf.errors.NotFoundError:
        raise FileNotFoundError(
            errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(path)
        ) from None
    except UnicodeDecodeError as error:
        raise CorruptFileError(path, error) from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise CorruptFileError(path, error) from None


def first_corrupt_json(paths):
    """The `CorruptFileError` of the first of `paths` that is not valid JSON.

    Args:
        paths: JSON files; absent ones are skipped.

    Returns:
        A `CorruptFileError` naming the file, or `None` if all can be read.
    """
    for path in paths:
        try:
            read_json(path)
        except FileNotFoundError:
            continue
        except CorruptFileError as error:
            return error
    return None


def _reporting(path, action, cleanup):
    """Runs `action`; on failure runs `cleanup`, raises a `WriteError`."""
    try:
        action()
    except BaseException as error:
        cleanup()
        failure = None
        if isinstance(error, (OSError, tf.errors.OpError)):
            failure = write_error(path, error)
        if failure is None or failure is error:
            raise
        raise failure from None


def _is_remote(path):
    return "://" in os.fspath(path)


def _open(path, mode):
    if _is_remote(path):
        return tf.io.gfile.GFile(path, mode)
    return open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"}))


def _sync(path):
    """Flushes a file's or folder's data to disk."""
    if os.name == "nt" and os.path.isdir(path):
        return  # Windows cannot open a folder to sync it.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        # Some file systems cannot sync a folder; that only weakens the
        # rename's durability, it does not lose data.
        if not (os.path.isdir(path) and error.errno in (errno.EINVAL, errno.EBADF)):
            raise
    finally:
        os.close(descriptor)


def _sync_tree(folder):
    for parent, _, names in os.walk(folder, topdown=False):
        for name in names:
            _sync(os.path.join(parent, name))
        _sync(parent)


def _move_into_place(staging, path):
    """Renames `staging` to `path`, first moving aside whatever is there."""
    if not os.path.exists(path):
        os.rename(staging, path)
        return
    old = staging + ".old"
    os.rename(path, old)
    try:
        os.rename(staging, path)
    except BaseException:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove(path):
    try:
        if _is_remote(path):
            tf.io.gfile.remove(path)
        else:
            os.remove(path)
    except (OSError, tf.errors.NotFoundError):
        pass


def _process_runs(pid):
    """Whether a process with this id runs on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:  # PermissionError: it runs, as another user.
        return True
    return True
