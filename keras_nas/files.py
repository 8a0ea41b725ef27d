"""Atomic writes: a reader, or a search resumed after a crash, never sees a
partial file."""

import json

import tensorflow as tf


def write_atomically(path, data):
    """Writes `data` to `path` through a temporary file renamed over it.

    Args:
        path: The file to write (local or any `tf.io.gfile` path).
        data: `bytes` or `str`.
    """
    temporary = f"{path}.tmp"
    mode = "wb" if isinstance(data, bytes) else "w"
    with tf.io.gfile.GFile(temporary, mode) as f:
        f.write(data)
    tf.io.gfile.rename(temporary, path, overwrite=True)


def write_json_atomically(path, obj):
    """Writes `obj` as JSON to `path` atomically.

    Args:
        path: The file to write.
        obj: A JSON-serialisable object.

    Returns:
        The JSON text written.
    """
    text = json.dumps(obj)
    write_atomically(path, text)
    return text
