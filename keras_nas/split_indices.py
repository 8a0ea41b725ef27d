"""Seeded cuts of sample indices into train, validation and test parts.

Used by the tasks (stratified for classes, random for regression) and by
the loaders of file folders, which cut the file list before decoding.
"""

import numpy as np

from keras_nas.validation import check_fraction


class DatasetError(ValueError):
    """A dataset cannot be found, read or split."""


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


def stratified_indices(
    y, *, seed=0, validation_fraction=0.2, test_fraction=0.2, class_names=None
):
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
        class_names: The class of each label index, to name a class that is
            too small in the error; `None` names it by its label.

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
            shown = label if class_names is None else repr(class_names[label])
            raise DatasetError(
                f"Class {shown} has too few samples ({n}) to split with "
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
