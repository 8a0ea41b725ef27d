"""One process per run or export folder: an exclusive operating-system lock.

The lock is the file `.NAME.lock` beside the folder `NAME` (not inside it, so
that starting a run over, which deletes the folder, cannot delete the lock of
the process holding it). It is an OS file lock (`fcntl.flock`, or
`msvcrt.locking` on Windows): the operating system releases it when its
process exits or is killed, so a crashed search can be resumed at once, and
a stale lock file on disk means nothing by itself. The file holds the
holder's process id and command for the refusal message.
"""

import os
import threading

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

_HELD = {}
_HELD_GUARD = threading.Lock()


class FolderLockedError(RuntimeError):
    """Another process holds the folder's lock.

    Attributes:
        folder: The locked folder.
        holder: What the lock file says of its holder (`pid`, `command`),
            `{}` if it could not be read.
    """

    def __init__(self, folder, holder):
        self.folder = folder
        self.holder = holder
        pid = holder.get("pid", "unknown")
        command = holder.get("command")
        what = f" ({command})" if command else ""
        super().__init__(
            f"{folder} is in use by process {pid}{what}: wait for it to end, "
            f"or stop it (kill {pid}) and pass --resume to continue."
        )


def lock_path(folder):
    """The lock file of `folder`: `.NAME.lock` in its parent folder."""
    folder = os.path.abspath(folder)
    parent, name = os.path.split(folder.rstrip(os.sep))
    return os.path.join(parent, f".{name}.lock")


class FolderLock:
    """An exclusive lock on a folder for the life of a command.

    Re-entrant within a process: a command that locks a run and then calls
    code that locks it again (the CLI, then `NASTuner`) holds it once.

    Args:
        folder: The run or export folder to lock (it need not exist yet; its
            parent is created).
        command: A short description of the holder, shown to a refused
            process (e.g. `"keras-nas run"`).

    Example:

    ```python
    with FolderLock("runs/digits", "keras-nas run"):
        ...  # no other process can lock runs/digits meanwhile
    ```
    """

    def __init__(self, folder, command="keras-nas"):
        self.folder = str(folder)
        self.command = command
        self.path = lock_path(self.folder)

    def acquire(self):
        """Takes the lock or raises `FolderLockedError` at once (never waits)."""
        with _HELD_GUARD:
            held = _HELD.get(self.path)
            if held is not None:
                held[1] += 1
                return self
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                _lock(descriptor)
            except OSError:
                holder = _read_holder(descriptor)
                os.close(descriptor)
                raise FolderLockedError(self.folder, holder) from None
            _write_holder(descriptor, self.command)
            _HELD[self.path] = [descriptor, 1]
        return self

    def release(self):
        """Releases the lock (the last release of a re-entrant hold frees it)."""
        with _HELD_GUARD:
            held = _HELD.get(self.path)
            if held is None:
                return
            held[1] -= 1
            if held[1] == 0:
                del _HELD[self.path]
                os.close(held[0])  # closing the descriptor frees the OS lock

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def check_unlocked(folder):
    """Raises `FolderLockedError` if another process holds `folder`'s lock.

    A probe: takes the lock and releases it at once. Used by a launcher that
    starts the processes which will hold it.
    """
    with FolderLock(folder):
        pass


def _lock(descriptor):
    if fcntl is not None:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)


def _write_holder(descriptor, command):
    text = f"{os.getpid()}\n{command}\n".encode()
    os.lseek(descriptor, 0, os.SEEK_SET)
    if os.read(descriptor, len(text) + 1) == text:
        return  # the same holder again: nothing to write
    os.ftruncate(descriptor, 0)
    os.lseek(descriptor, 0, os.SEEK_SET)
    os.write(descriptor, text)


def _read_holder(descriptor):
    try:
        os.lseek(descriptor, 0, os.SEEK_SET)
        lines = os.read(descriptor, 1024).decode(errors="replace").splitlines()
    except OSError:
        return {}
    holder = dict(zip(("pid", "command"), lines))
    if not holder.get("pid", "").isdigit():
        return {}
    return holder

