"""Train/validation/test splits: the `DatasetSplits` record and a stratified cut."""

import dataclasses

import numpy as np

from keras_nas.validation import check_fraction


class DatasetError(ValueError):
    """A dataset cannot be found, read or split."""


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetSplits:
    """A dataset cut into disjoint train, validation and test parts.

    Images are float32 arrays of shape `(N, H, W, C)`, tabular features
    float32 arrays of shape `(N, F)`; labels are int32 in
    `0..num_classes - 1`.

    Attributes:
        name: Short name of the dataset, used in summaries.
        x_train: Training features.
        y_train: Training labels.
        x_val: Validation features.
        y_val: Validation labels.
        x_test: Test features.
        y_test: Test labels.
        num_classes: Number of classes, the largest label plus one.
        input_shape: Shape of one sample, without the batch dimension.

    Example:

    ```python
    data = keras_nas.datasets.load_dataset("digits")
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val))
    ```
    """

    name: str
    x_train: np.ndarray = dataclasses.field(repr=False)
    y_train: np.ndarray = dataclasses.field(repr=False)
    x_val: np.ndarray = dataclasses.field(repr=False)
    y_val: np.ndarray = dataclasses.field(repr=False)
    x_test: np.ndarray = dataclasses.field(repr=False)
    y_test: np.ndarray = dataclasses.field(repr=False)
    num_classes: int
    input_shape: tuple

    def summary(self):
        """Returns a one-line description of the splits.

        Returns:
            A string such as `"digits: 1,078 train / 360 val / 359 test,
            input (8, 8, 1), 10 classes"`.
        """
        return (
            f"{self.name}: {len(self.y_train):,} train / {len(self.y_val):,} val"
            f" / {len(self.y_test):,} test, input {self.input_shape},"
            f" {self.num_classes} classes"
        )


def check_fractions(validation_fraction, test_fraction):
    """Checks the fractions held out for validation and test.

    Args:
        validation_fraction: Fraction of each class held out for validation.
        test_fraction: Fraction of each class held out for test.

    Returns:
        The two fractions as floats.

    Raises:
        ValueError: If a fraction is not in (0, 1), or they sum to 1 or more.
    """
    validation_fraction = check_fraction("validation_fraction", validation_fraction)
    test_fraction = check_fraction("test_fraction", test_fraction)
    if validation_fraction + test_fraction >= 1.0:
        raise ValueError(
            "Received invalid values for `validation_fraction` and "
            "`test_fraction`, expected their sum to be below 1. Received: "
            f"validation_fraction={validation_fraction}, "
            f"test_fraction={test_fraction}"
        )
    return validation_fraction, test_fraction


def stratified_indices(y, *, seed=0, validation_fraction=0.2, test_fraction=0.2):
    """Cuts sample indices into train, validation and test, class by class.

    Each class's indices are shuffled with `np.random.default_rng(seed)`; the
    first `round(n * test_fraction)` go to test, those up to
    `round(n * (test_fraction + validation_fraction))` to validation, the rest
    to train (rounding halves up). Each part is then shuffled, so it is not
    ordered by class. The parts are disjoint and cover every index.

    Args:
        y: 1-D array of integer labels.
        seed: Seed of the random generator.
        validation_fraction: Fraction of each class held out for validation.
        test_fraction: Fraction of each class held out for test.

    Returns:
        A tuple `(train, val, test)` of 1-D integer index arrays.

    Raises:
        ValueError: If the fractions are invalid.
        DatasetError: If a class has too few samples to appear in all three
            parts.

    Example:

    ```python
    train, val, test = stratified_indices(np.array([0, 1] * 10), seed=3)
    ```
    """
    validation_fraction, test_fraction = check_fractions(
        validation_fraction, test_fraction
    )
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n = len(members)
        n_test = int(n * test_fraction + 0.5)
        n_held = int(n * (test_fraction + validation_fraction) + 0.5)
        if not 0 < n_test < n_held < n:
            raise DatasetError(
                f"Class {label} has too few samples ({n}) to split with "
                f"validation_fraction={validation_fraction} and "
                f"test_fraction={test_fraction}: every split needs at least "
                "one sample of each class."
            )
        chunks = (members[n_held:], members[n_test:n_held], members[:n_test])
        for part, chunk in zip(parts, chunks):
            part.append(chunk)
    return tuple(rng.permutation(np.concatenate(part)) for part in parts)


def random_indices(n, *, seed=0, validation_fraction=0.2, test_fraction=0.2):
    """Cuts `n` sample indices into train, validation and test at random.

    The split of targets that are not classes (regression). The first
    `round(n * test_fraction)` indices of a permutation by
    `np.random.default_rng(seed)` go to test, those up to
    `round(n * (test_fraction + validation_fraction))` to validation, the
    rest to train.

    Args:
        n: Number of samples.
        seed: Seed of the random generator.
        validation_fraction: Fraction held out for validation.
        test_fraction: Fraction held out for test.

    Returns:
        A tuple `(train, val, test)` of 1-D integer index arrays.

    Raises:
        ValueError: If the fractions are invalid.
        DatasetError: If a part would be empty.
    """
    validation_fraction, test_fraction = check_fractions(
        validation_fraction, test_fraction
    )
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(n * test_fraction + 0.5)
    n_held = int(n * (test_fraction + validation_fraction) + 0.5)
    if not 0 < n_test < n_held < n:
        raise DatasetError(
            f"{n} samples are too few to split with validation_fraction="
            f"{validation_fraction} and test_fraction={test_fraction}: every "
            "split needs at least one sample."
        )
    return order[n_held:], order[n_test:n_held], order[:n_test]


def stratified_split(
    name, x, y, *, seed=0, validation_fraction=0.2, test_fraction=0.2
):
    """Splits features and labels into a `DatasetSplits`.

    Args:
        name: Short name of the dataset.
        x: Features, one row per sample.
        y: 1-D array of non-negative integer labels, one per sample.
        seed: Seed of the random generator.
        validation_fraction: Fraction of each class held out for validation.
        test_fraction: Fraction of each class held out for test.

    Returns:
        A `DatasetSplits` with `num_classes` equal to the largest label
        plus one.

    Raises:
        ValueError: If the fractions are invalid.
        DatasetError: If a class has too few samples to split.

    Example:

    ```python
    data = stratified_split("toy", x, y, seed=1)
    print(data.summary())
    ```
    """
    train, val, test = stratified_indices(
        y,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
    )
    return DatasetSplits(
        name=name,
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x[test],
        y_test=y[test],
        num_classes=int(y.max()) + 1,
        input_shape=tuple(x.shape[1:]),
    )
