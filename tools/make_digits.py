"""Makes `keras_nas/data/digits.npz` from scikit-learn's bundled copy.

The UCI optical handwritten digits ship with scikit-learn as
`sklearn/datasets/data/digits.csv.gz`, so no download is needed. keras-nas
does not depend on scikit-learn: only this one-off script does. Run it once
from the repository root:

    python tools/make_digits.py
"""

import hashlib
import pathlib

import numpy as np
from sklearn import datasets

OUTPUT = (
    pathlib.Path(__file__).resolve().parents[1]
    / "keras_nas"
    / "data"
    / "digits.npz"
)


def source_sha256():
    """Returns the SHA-256 of scikit-learn's `digits.csv.gz`."""
    source = pathlib.Path(datasets.__file__).parent / "data" / "digits.csv.gz"
    return hashlib.sha256(source.read_bytes()).hexdigest()


def main():
    """Writes `x` (1797, 8, 8) and `y` (1797,), both uint8, compressed."""
    digits = datasets.load_digits()
    x = digits.images.astype(np.uint8)
    y = digits.target.astype(np.uint8)
    if not np.array_equal(x, digits.images) or x.max() > 16:
        raise ValueError("Expected integer pixel counts in 0..16.")
    if x.shape != (1797, 8, 8) or set(np.unique(y)) != set(range(10)):
        raise ValueError(f"Unexpected digits data: x {x.shape}, y {np.unique(y)}.")
    np.savez_compressed(OUTPUT, x=x, y=y)
    print(f"Wrote {OUTPUT}: x {x.shape} {x.dtype}, y {y.shape} {y.dtype}")
    print(f"Source digits.csv.gz SHA-256: {source_sha256()}")


if __name__ == "__main__":
    main()
