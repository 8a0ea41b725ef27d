"""`WriteError`: a file or folder that could not be written, named with what to do.

Kept apart from `keras_nas.files` (which writes through
`keras_nas.compat`) so that `keras_nas.compat` can raise it too.
"""

import errno
import os

import keras_tuner as kt

from keras_nas.formatting import first_line

_ADVICE = {
    errno.ENOSPC: "free space there",
    errno.EDQUOT: "free space there (the disk quota is used up)",
    errno.EFBIG: "free space there or choose a file system that allows larger files",
    errno.EACCES: "make it writable",
    errno.EPERM: "make it writable",
    errno.EROFS: "the file system is read-only: choose another folder",
}


class WriteError(OSError, kt.errors.FatalError):
    """A file or folder could not be written: a full disk, no permission, ...

    Also a `keras_tuner.errors.FatalError`, so that it ends a search rather
    than failing one trial; the trial that was running runs again on
    resume.

    Args:
        path: The file or folder that could not be written.
        errno_number: The `errno` code, or `None` when unknown.
        reason: What went wrong (`os.strerror(errno_number)` by default).
        detail: The original error's first line, for debugging.

    Attributes:
        path: As given (also `filename`, as for any `OSError`).
        detail: As given.

    Example:

    ```python
    try:
        write_atomically("runs/x/oracle.json", text)
    except WriteError as error:
        print(error.message(then="pass --resume to continue"))
    ```
    """

    def __init__(self, path, errno_number=None, reason=None, detail=None):
        if reason is None:
            reason = os.strerror(errno_number) if errno_number else "write failed"
        super().__init__(errno_number, reason, os.fspath(path))
        self.path = os.fspath(path)
        self.detail = detail

    def __reduce__(self):
        return type(self), (self.path, self.errno, self.strerror, self.detail)

    @property
    def advice(self):
        """What the user should do, e.g. "free space there"."""
        return _ADVICE.get(self.errno, "check that it can be written")

    def message(self, then=None):
        """One line naming the path, the reason and what to do.

        Args:
            then: What to do once the cause is fixed, appended with "and",
                e.g. "pass --resume to continue".

        Returns:
            E.g. "cannot write runs/x/checkpoint.weights.h5: No space left
            on device; free space there and pass --resume to continue."
        """
        advice = self.advice if then is None else f"{self.advice} and {then}"
        return f"cannot write {self.path}: {self.strerror}; {advice}."

    def __str__(self):
        return self.message()


def write_error(path, error):
    """The `WriteError` naming `path` that `error` stands for, or `None`.

    Args:
        path: The file or folder being written.
        error: An `OSError`, or a TensorFlow error whose message names an
            `OSError` (TensorFlow reports a full disk as
            `ResourceExhaustedError`, "...; No space left on device").

    Returns:
        A `WriteError`, or `None` for an error that is not about writing.
    """
    if isinstance(error, WriteError):
        return error
    text = str(error)
    detail = first_line(error)
    number = getattr(error, "errno", None) if isinstance(error, OSError) else None
    if not isinstance(number, int) or number <= 0:
        number = _named_errno(text)
    if number is not None:
        return WriteError(path, number, detail=detail)
    if isinstance(error, OSError):
        return WriteError(path, None, detail, detail=detail)
    return None


def _named_errno(text):
    for number in _ADVICE:
        if os.strerror(number) in text:
            return number
    return None
