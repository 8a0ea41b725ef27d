"""A CSV naming one file a row (images, `.wav` or `.txt`) with its label or target.

```
file,target
photos/0001.png,3.25
photos/0002.png,1.5
```

The file column is the one whose every cell ends in the extension of one
kind of file `keras_nas.data.folders` reads; paths are relative to the
CSV's folder (or absolute). The label column is chosen as for any CSV
(`label`, else the last other column); numbers make regression targets or
class indices as the task detection decides, text makes classes. The
files are then split and decoded as a folder's are
(`keras_nas.data.folder_splits.load_listing`).
"""

import os

import numpy as np

from keras_nas.data.folders import FolderListing
from keras_nas.data.folders import EXTENSIONS
from keras_nas.split_indices import DatasetError


def file_column(header, label, cells):
    """The index and modality of the CSV's file column, or `None`.

    Args:
        header: The column names.
        label: The index of the label column.
        cells: The data cells, an array of strings `(rows, columns)`.
    """
    for column in range(len(header)):
        if column == label:
            continue
        values = [value.lower() for value in cells[:, column].tolist()]
        for modality, extensions in EXTENSIONS.items():
            if values and all(value.endswith(extensions) for value in values):
                return column, modality
    return None


def file_listing(path, header, label, cells, labels, modality=None):
    """The `FolderListing` of a CSV of files and labels, or `None` if it has
    no file column.

    Args:
        path: The CSV file.
        header: Its column names.
        label: The index of its label column.
        cells: Its data cells, strings `(rows, columns)`.
        labels: The label column as numbers or text.
        modality: `None`, or the modality asked for (`--modality`).

    Raises:
        DatasetError: If `modality` is not that of the files.
    """
    found = file_column(header, label, cells)
    if found is None:
        return None
    column, kind = found
    if modality not in (None, kind):
        raise DatasetError(
            f"modality={modality!r} does not fit {path}, whose column "
            f"{header[column]!r} names {kind} files."
        )
    names, indices = np.unique(labels, return_inverse=True)
    files = tuple(cells[:, column].tolist())
    extensions = sorted({os.path.splitext(f)[1].lower() for f in files})
    reason = (
        f"a CSV of {len(files):,} {'/'.join(extensions)} files (column "
        f"{header[column]!r}) with labels (column {header[label]!r}): {kind}"
    )
    return FolderListing(
        root=os.path.dirname(os.path.abspath(path)),
        files=files,
        labels=indices.astype(np.int32),
        class_names=tuple(names.tolist()),
        modality=kind,
        reason=reason,
        class_folders=False,
    )
