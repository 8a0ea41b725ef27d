"""`Table`: architectures of a search space and their metrics, for lookups.

A tabular benchmark answers "what would this architecture score?" by a
lookup instead of training. Rows are keyed by the architecture's canonical
values: the active decisions of the space, each converted to its
hyperparameter's type, so that the values a KerasTuner oracle proposes find
their row whatever their order, extra inactive keys or NumPy types.
"""

import csv
import math
import numbers
import os

import keras_tuner as kt
import numpy as np

ARCH_STR_COLUMN = "arch_str"
"""The column of NAS-Bench-201 style tables."""

INDEX_COLUMNS = ("arch_index", "index", "id")
"""Numeric columns that number rows rather than measure them: not metrics."""

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


class ArchitectureNotInTable(LookupError):
    """Raised when a looked-up architecture has no row in the table."""


def _hps():
    return kt.engine.hyperparameters


def _is_active(hp, values):
    return all(cond.is_active(values) for cond in hp.conditions)


def _fixed_value(hp):
    return hp.value


def _convert(hp, value):
    """Converts a value (a CSV cell or a proposal) to `hp`'s type.

    Args:
        hp: A KerasTuner hyperparameter.
        value: A string read from a CSV file, or a Python or NumPy value.

    Returns:
        The value as the plain Python object the table stores.

    Raises:
        ValueError: If the value is not one `hp` can take.
    """
    hps = _hps()
    if isinstance(value, np.generic):
        value = value.item()
    text = value.strip() if isinstance(value, str) else None

    def invalid(expected):
        return ValueError(
            f"Received an invalid value for `{hp.name}`, expected {expected}. "
            f"Received: {hp.name}={value!r}"
        )

    if isinstance(hp, hps.Boolean):
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        if isinstance(value, numbers.Integral) and value in (0, 1):
            return bool(value)
        raise invalid("a boolean")
    if isinstance(hp, (hps.Choice, hps.Fixed)):
        choices = list(hp.values) if isinstance(hp, hps.Choice) else [_fixed_value(hp)]
        for choice in choices:
            if _same_choice(choice, value, text):
                return choice
        raise invalid(f"one of {choices}")
    if isinstance(hp, (hps.Int, hps.Float)):
        number = _number(value, text)
        if number is None:
            raise invalid("a number")
        if isinstance(hp, hps.Int):
            if not float(number).is_integer():
                raise invalid("an integer")
            number = int(number)
        else:
            number = float(number)
        tolerance = 1e-9 * max(1.0, abs(hp.max_value))
        if not hp.min_value - tolerance <= number <= hp.max_value + tolerance:
            raise invalid(f"a number in [{hp.min_value}, {hp.max_value}]")
        return number
    raise TypeError(
        f"Unsupported hyperparameter type for a table: {type(hp).__name__} "
        f"({hp.name})."
    )


def _number(value, text):
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return value
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _same_choice(choice, value, text):
    if isinstance(choice, bool) or isinstance(value, bool):
        if text is not None and isinstance(choice, bool):
            return text.lower() in (_TRUE if choice else _FALSE)
        return isinstance(choice, bool) and isinstance(value, bool) and (
            choice == value
        )
    if text is not None:
        if isinstance(choice, str):
            return choice == text
        number = _number(value, text)
        return number is not None and number == choice
    return choice == value


def canonical_values(hyperparameters, values):
    """The active decisions of `values`, in space order, typed per decision.

    Inactive decisions are dropped; an active decision missing from `values`
    takes its default, as KerasTuner does. A `Fixed` decision always holds
    its value.

    Args:
        hyperparameters: A `keras_tuner.HyperParameters` holding the space.
        values: Dict of hyperparameter name to value.

    Returns:
        A dict of the active decisions' names to plain Python values.

    Raises:
        ValueError: If a value is not one its decision can take.
    """
    canonical = {}
    for hp in hyperparameters.space:
        if hp.name in canonical or not _is_active(hp, canonical):
            continue
        if isinstance(hp, _hps().Fixed):
            canonical[hp.name] = _fixed_value(hp)
        elif hp.name in values:
            canonical[hp.name] = _convert(hp, values[hp.name])
        else:
            canonical[hp.name] = hp.default
    return canonical


def architecture_key(hyperparameters, values):
    """A hashable key naming the architecture of `values` in the space."""
    return tuple(sorted(canonical_values(hyperparameters, values).items()))


def declared_hyperparameters(space):
    """The `keras_tuner.HyperParameters` a space declares.

    Args:
        space: An object with `declare_hyperparameters(hp)` (every
            `keras_nas` space), or a `keras_tuner.HyperParameters`.
    """
    if isinstance(space, kt.HyperParameters):
        return space.copy()
    if not callable(getattr(space, "declare_hyperparameters", None)):
        raise TypeError(
            "Received an invalid value for `space`, expected an object with "
            "`declare_hyperparameters(hp)` (such as a keras_nas space) or a "
            f"keras_tuner.HyperParameters. Received: space={space!r}"
        )
    hp = kt.HyperParameters()
    space.declare_hyperparameters(hp)
    if not hp.space:
        raise ValueError(
            "Received an invalid value for `space`, expected a space that "
            f"declares at least one hyperparameter. Received: space={space!r}"
        )
    return hp


class Table:
    """Architectures of a search space and their metrics.

    Args:
        hyperparameters: The space, as a `keras_tuner.HyperParameters`.
        architectures: One dict of hyperparameter values per row.
        metrics: Dict from metric name to one number per row (`nan` where a
            row has no value).
        structure: Optional `RepeatedStructure` of the space, handed to
            keras-nas oracles.
        name: A label for messages and reports (the CSV path, say).

    Raises:
        ValueError: If there are no rows or metrics, a metric has the wrong
            length, a row's values are not in the space, or two rows hold
            the same architecture.

    Example:

    ```python
    table = Table.from_csv("nb201_cifar10_12ep.csv")
    table.lookup(table.architecture(0))   # {"val_acc": ..., "test_acc": ...}
    ```
    """

    def __init__(
        self, hyperparameters, architectures, metrics, structure=None, name=None
    ):
        self.hyperparameters = hyperparameters
        self.structure = structure
        self.name = name or "table"
        architectures = list(architectures)
        if not architectures:
            raise ValueError(
                f"Received an invalid value for `architectures`, expected at "
                f"least one row. Received: {len(architectures)} rows in {self.name}"
            )
        if not metrics:
            raise ValueError(
                "Received an invalid value for `metrics`, expected at least "
                f"one numeric metric column. Received: metrics={metrics!r}"
            )
        self._metrics = {}
        for metric, column in metrics.items():
            column = np.asarray(column, dtype=np.float64)
            if column.shape != (len(architectures),):
                raise ValueError(
                    f"Received an invalid value for `metrics`, expected "
                    f"{len(architectures)} values per metric. Received: "
                    f"{metric} with shape {column.shape}"
                )
            self._metrics[str(metric)] = column
        self._architectures = []
        self._rows = {}
        for row, values in enumerate(architectures):
            canonical = canonical_values(hyperparameters, values)
            key = tuple(sorted(canonical.items()))
            if key in self._rows:
                raise ValueError(
                    f"Rows {self._rows[key]} and {row} of {self.name} hold "
                    f"the same architecture: {canonical}"
                )
            self._rows[key] = row
            self._architectures.append(canonical)

    @classmethod
    def from_csv(cls, path, space=None, metrics=None, skip_outside=False):
        """Reads a table from a CSV file.

        Two layouts are understood:

        - NAS-Bench-201: an `arch_str` column, read through the space's
          `from_arch_str` (`space` defaults to `NB201Cell`).
        - Generic: one column per hyperparameter of `space` (`Fixed` ones may
          be left out; cells of decisions inactive in a row may be empty).

        Every other column whose cells are all numbers (empty cells read as
        `nan`) is a metric, except row numbers (`INDEX_COLUMNS`).

        Args:
            path: Path of the CSV file.
            space: The search space: any object with
                `declare_hyperparameters(hp)`, or a
                `keras_tuner.HyperParameters`. Required for generic tables.
            metrics: Optional list of the metric columns to keep (default:
                every numeric column).
            skip_outside: Whether to skip rows whose architecture is not in
                the space (a space with fewer operations than the table,
                say) instead of raising.

        Returns:
            A `Table`.

        Raises:
            FileNotFoundError: If `path` is not a file.
            ValueError: If the file has no usable columns or rows, a metric
                is unknown, or a row is not in the space.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                "Received an invalid value for `path`, expected an existing "
                f"CSV file. Received: path={path!r}"
            )
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = [row for row in reader if any(cell.strip() for cell in row)]
        if not header:
            raise ValueError(f"Received an empty CSV file: path={path!r}")
        header = [name.strip() for name in header]
        for number, row in enumerate(rows, start=2):
            if len(row) != len(header):
                raise ValueError(
                    f"Line {number} of {path} has {len(row)} cells, expected "
                    f"{len(header)} (one per column of {header})."
                )
        columns = {name: [row[i].strip() for row in rows] for i, name in
                   enumerate(header)}
        layout, space = _layout(path, header, space)
        hyperparameters = declared_hyperparameters(space)
        if layout == "arch_str":
            decision_columns = {ARCH_STR_COLUMN}
            parse = _arch_str_parser(space, columns[ARCH_STR_COLUMN])
        else:
            decision_columns = {hp.name for hp in hyperparameters.space}
            parse = _column_parser(hyperparameters, columns)
        metric_names = _metric_columns(path, header, columns, decision_columns,
                                       metrics)
        architectures, kept = [], []
        for i in range(len(rows)):
            try:
                values = parse(i)
                canonical_values(hyperparameters, values)
            except ValueError as error:
                if skip_outside:
                    continue
                raise ValueError(
                    f"Line {i + 2} of {path} is not an architecture of the "
                    f"space ({error}); pass skip_outside=True to skip such rows."
                ) from None
            architectures.append(values)
            kept.append(i)
        if not architectures:
            raise ValueError(
                f"No row of {path} is an architecture of the space "
                f"({len(rows)} rows read)."
            )
        table = cls(
            hyperparameters,
            architectures,
            {m: [_cell_number(columns[m][i]) for i in kept] for m in metric_names},
            structure=_structure(space),
            name=path,
        )
        table.skipped = len(rows) - len(kept)
        return table

    skipped = 0
    """Rows of the source skipped as outside the space."""

    def __len__(self):
        return len(self._architectures)

    @property
    def metric_names(self):
        """The metric names, in column order."""
        return tuple(self._metrics)

    def check_metric(self, metric, argument="metric"):
        """Returns `metric` if the table has it; raises naming `argument`."""
        if metric not in self._metrics:
            raise ValueError(
                f"Received an invalid value for `{argument}`, expected one of "
                f"the table's metrics {list(self._metrics)}. "
                f"Received: {argument}={metric!r}"
            )
        return metric

    def column(self, metric):
        """The values of `metric`, one per row, as a read-only array."""
        column = self._metrics[self.check_metric(metric)].view()
        column.flags.writeable = False
        return column

    def architecture(self, row):
        """The canonical values of row `row`."""
        return dict(self._architectures[row])

    def key(self, values):
        """The lookup key of an architecture's values."""
        return architecture_key(self.hyperparameters, values)

    def row(self, values):
        """The row index of an architecture.

        Args:
            values: Dict of hyperparameter values, as an oracle proposes.

        Raises:
            ArchitectureNotInTable: If the table has no such architecture.
        """
        try:
            key = self.key(values)
        except ValueError as error:
            raise ArchitectureNotInTable(
                f"The architecture {dict(values)} is not in the space of "
                f"{self.name}: {error}"
            ) from None
        if key not in self._rows:
            raise ArchitectureNotInTable(
                f"The architecture {dict(key)} has no row in {self.name} "
                f"({len(self)} rows)."
            )
        return self._rows[key]

    def __contains__(self, values):
        try:
            self.row(values)
        except ArchitectureNotInTable:
            return False
        return True

    def lookup(self, values):
        """The metrics of an architecture.

        Args:
            values: Dict of hyperparameter values, as an oracle proposes.

        Returns:
            Dict from metric name to float (`nan` where the table has none).

        Raises:
            ArchitectureNotInTable: If the table has no such architecture.
        """
        row = self.row(values)
        return {name: float(column[row]) for name, column in self._metrics.items()}

    def best(self, metric, direction="max"):
        """The best value of `metric` over the table (ignoring `nan`).

        Args:
            metric: A metric name.
            direction: `"max"` or `"min"`.

        Returns:
            A tuple `(value, row)`.
        """
        column = self._metrics[self.check_metric(metric)]
        if np.all(np.isnan(column)):
            raise ValueError(f"Metric {metric!r} of {self.name} has no values.")
        row = int(np.nanargmax(column) if direction == "max" else np.nanargmin(column))
        return float(column[row]), row

    def __repr__(self):
        return (
            f"<Table {self.name}: {len(self)} architectures, "
            f"metrics {list(self._metrics)}>"
        )


def _layout(path, header, space):
    """Decides between the generic and the `arch_str` layout."""
    if space is not None:
        names = {hp.name for hp in declared_hyperparameters(space).space
                 if not isinstance(hp, _hps().Fixed)}
        if names <= set(header):
            return "generic", space
    if ARCH_STR_COLUMN in header:
        if space is None:
            from keras_nas.spaces.nb201 import NB201Cell

            space = NB201Cell(input_shape=(32, 32, 3), num_classes=10)
        if not callable(getattr(space, "from_arch_str", None)):
            raise ValueError(
                f"Received an invalid value for `space`: {path} has an "
                f"`{ARCH_STR_COLUMN}` column but the space has no "
                f"`from_arch_str`, nor a column per hyperparameter. "
                f"Received: space={space!r}"
            )
        return "arch_str", space
    if space is None:
        raise ValueError(
            f"{path} has no usable columns: expected an `{ARCH_STR_COLUMN}` "
            f"column (NAS-Bench-201 layout), or pass `space` to read one "
            f"column per hyperparameter. Found columns: {header}"
        )
    missing = sorted(names - set(header))
    raise ValueError(
        f"{path} has no usable columns: the space's hyperparameters {missing} "
        f"have no column, and there is no `{ARCH_STR_COLUMN}` column. "
        f"Found columns: {header}"
    )


def _arch_str_parser(space, cells):
    def parse(i):
        return space.from_arch_str(cells[i])

    return parse


def _column_parser(hyperparameters, columns):
    def parse(i):
        values = {}
        for hp in hyperparameters.space:
            if hp.name in values or not _is_active(hp, values):
                continue
            if hp.name not in columns:  # a Fixed decision left out
                values[hp.name] = _fixed_value(hp)
                continue
            cell = columns[hp.name][i]
            if cell == "":
                raise ValueError(f"`{hp.name}` is active but its cell is empty")
            values[hp.name] = _convert(hp, cell)
        return values

    return parse


def _cell_number(cell):
    return float(cell) if cell != "" else math.nan


def _is_number(cell):
    if cell == "":
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _metric_columns(path, header, columns, decision_columns, requested):
    numeric = [
        name
        for name in header
        if name not in decision_columns
        and name not in INDEX_COLUMNS
        and any(cell != "" for cell in columns[name])
        and all(_is_number(cell) for cell in columns[name])
    ]
    if requested is None:
        if not numeric:
            raise ValueError(
                f"{path} has no usable columns: no numeric metric column "
                f"besides the architecture's. Found columns: {header}"
            )
        return numeric
    if isinstance(requested, str):
        requested = [requested]
    for name in requested:
        if name not in numeric:
            raise ValueError(
                "Received an invalid value for `metrics`, expected numeric "
                f"columns of {path} among {numeric}. Received: metrics="
                f"{list(requested)!r}"
            )
    return list(dict.fromkeys(requested))


def _structure(space):
    structure = getattr(space, "structure", None)
    return structure() if callable(structure) else None
