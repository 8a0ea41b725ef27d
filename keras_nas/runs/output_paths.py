"""Where a run may write: one-component names, folders that stay inside their
root, and output folders checked before any training starts.

Each check raises `ValueError` with a message that names the value received;
the caller adds the option or argument it came from. Values are shown cut to
80 characters.
"""

import os


def check_folder_name(value):
    """Checks that `value` names one folder: no separator, not `.` or `..`.

    Args:
        value: A run name (`--name`, `project_name`).

    Returns:
        The name, unchanged.

    Raises:
        ValueError: If it is empty, holds a path separator or a NUL, or is
            `.` or `..`.
    """
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    if (
        not isinstance(value, str)
        or value.strip() in ("", ".", "..")
        or any(s in value for s in separators)
        or "\0" in value
    ):
        raise ValueError(
            "expected one folder name (no path separator, not '.' or '..', "
            f"not empty), received {value!r:.80}."
        )
    return value


def check_inside(path, root):
    """Checks that `path`, links resolved, lies inside the folder `root`.

    Args:
        path: A path the run will write.
        root: The folder it must stay in (`--directory`, `--export-dir`).

    Raises:
        ValueError: If `path` resolves outside `root` (through `..` or a
            symbolic link).
    """
    real_root = os.path.realpath(root)
    real_path = os.path.realpath(path)
    if os.path.commonpath([real_root, real_path]) != real_root or real_path == real_root:
        raise ValueError(
            f"{str(path)!r:.80} resolves to {real_path!r:.80}, which is "
            f"not inside {str(root)!r:.80}."
        )


def check_output_folder(path):
    """Checks, before anything runs, that a folder can be written.

    The folder may be missing: then its nearest existing parent must be a
    writable folder, so it can be created.

    Args:
        path: The folder a command will write into.

    Raises:
        ValueError: If `path` names a file, or the folder (or the parent it
            would be created in) is not a writable folder.
    """
    path = str(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{path!r:.80} is a file, not a folder.")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(
            f"{path!r:.80} cannot be created: {existing!r:.80} is a file."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{path!r:.80}: {existing!r:.80} is not writable.")
