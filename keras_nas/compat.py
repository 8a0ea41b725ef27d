"""Every private KerasTuner, Keras and TensorFlow name keras-nas relies on.

KerasTuner keeps the helpers a custom `Tuner` needs under `keras_tuner.src`,
and some of an oracle's state in underscored attributes; Keras writes a
`.weights.h5` file to memory only with `keras.src.saving.saving_lib`; TensorFlow keeps
its gradient registry under `tensorflow.python`. None of them is public, so
they may move in any release. keras-nas reaches them only through this
module, and `check()` (run by the test suite) verifies that each is still
where it was, naming the installed version when one has moved.

Tested range: KerasTuner `TESTED_KERAS_TUNER` (pinned in `setup.cfg`).
"""

import io
import os
import tempfile

import keras_tuner as kt
import tensorflow as tf

from keras_nas.write_errors import write_error

TESTED_KERAS_TUNER = ">=1.4.7,<1.5"
"""The KerasTuner versions these names were checked against."""

TUNER_HOOKS = (
    "_populate_initial_space",
    "_try_run_and_update_trial",
    "_run_and_update_trial",
    "_build_hypermodel",
    "_get_checkpoint_fname",
    "_get_build_config_fname",
    "_get_tuner_fname",
    "_deepcopy_callbacks",
    "_configure_tensorboard_dir",
    "_is_worker",
    "_try_build",
)
"""Underscored `keras_tuner.Tuner` methods `NASTuner` overrides or calls."""

ORACLE_HOOKS = (
    "_save_trial",
    "_duplicate",
    "_record_values",
    "_compute_values_hash",
    "_get_oracle_fname",
    "_get_trial_dir",
    "_set_project_dir",
    "_check_objective_found",
)
"""Underscored `keras_tuner.Oracle` methods keras-nas calls (through here)
or overrides (`_check_objective_found` and `_save_trial`, in `NASOracle`)."""

ORACLE_ATTRIBUTES = (
    "_retry_queue",
    "_run_times",
    "_seed_state",
    "_id_to_hash",
    "_project_dir",
)
"""Underscored `keras_tuner.Oracle` attributes keras-nas reads or sets."""


class CompatibilityError(ImportError):
    """A private KerasTuner or TensorFlow name keras-nas uses has moved."""


def _moved(what, error=None):
    detail = f" ({type(error).__name__}: {error})" if error is not None else ""
    return CompatibilityError(
        f"keras-nas cannot find {what} in KerasTuner {kt.__version__} "
        f"(tested: keras-tuner{TESTED_KERAS_TUNER}){detail}. Install a tested "
        "KerasTuner version, or update keras_nas/compat.py."
    )


try:
    from keras_tuner.src.engine import conditions as _conditions
    from keras_tuner.src.engine import metrics_tracking as _metrics_tracking
    from keras_tuner.src.engine import objective as _objective
    from keras_tuner.src.engine import oracle as _oracle
    from keras_tuner.src.engine import tuner_utils as _tuner_utils
except ImportError as _error:  # pragma: no cover - only on an untested version
    raise _moved("its engine modules (keras_tuner.src.engine.*)", _error) from None


def tuner_callback(tuner, trial):
    """KerasTuner's callback that reports each epoch to a tuner's hooks."""
    return _tuner_utils.TunerCallback(tuner, trial)


def validate_trial_results(results, objective, function_name):
    """KerasTuner's check of what `run_trial` or `fit` returned."""
    _tuner_utils.validate_trial_results(results, objective, function_name)


def convert_to_metrics_dict(results, objective):
    """KerasTuner's best-epoch metrics of a `History`, dict or value."""
    return _tuner_utils.convert_to_metrics_dict(results, objective)


def get_best_step(results, objective):
    """KerasTuner's best epoch of a `History` (the mean over a list of them)."""
    return _tuner_utils.get_best_step(results, objective)


def new_metrics_tracker():
    """An empty KerasTuner `MetricsTracker`, a trial's `metrics`."""
    return _metrics_tracking.MetricsTracker()


def drop_metric(tracker, name):
    """Removes a metric from a `MetricsTracker` (its `metrics` dict)."""
    tracker.metrics.pop(name)


def create_objective(objective):
    """A `keras_tuner.Objective` (or `MultiObjective`) from a name or objects."""
    return _objective.create_objective(objective)


def single_objectives(objective):
    """The `keras_tuner.Objective`s of an objective (several for a list)."""
    if isinstance(objective, _objective.MultiObjective):
        return list(objective.objectives)
    return [objective]


def is_multi_objective(objective):
    """Whether an objective is KerasTuner's `MultiObjective` (a list objective)."""
    return isinstance(objective, _objective.MultiObjective)


def mute_proto_print():
    """Mutes the debug `print` in KerasTuner 1.4's `Parent.to_proto`.

    It writes a line for every conditional decision each time a trial
    crosses the wire in distributed mode. Shadows `print` in KerasTuner's
    `conditions` module only, and only while that method still calls it;
    idempotent.
    """
    if "print" in _conditions.Parent.to_proto.__code__.co_names:
        _conditions.print = lambda *args, **kwargs: None


def release_oracle_locks(oracle):
    """Drops KerasTuner's per-oracle lock entries for `oracle`.

    `keras_tuner.synchronized` keeps a lock per oracle in module-level dicts
    that are never cleared, so every oracle created would otherwise stay in
    memory for the life of the process.
    """
    _oracle.LOCKS.pop(oracle, None)
    _oracle.THREADS.pop(oracle, None)


def retry_queue(oracle):
    """The oracle's list of trial ids to run again (a live reference)."""
    return oracle._retry_queue


def run_times(oracle):
    """The oracle's `{trial_id: times run}` (a live reference)."""
    return oracle._run_times


def is_duplicate(oracle, values):
    """Whether the oracle has already tried (or is trying) these values."""
    return oracle._duplicate(values)


def record_values(oracle, trial):
    """Records a trial's values as tried, as `create_trial` does."""
    oracle._record_values(trial)


def next_trial_id(oracle, max_trials):
    """The id `create_trial` gives the next trial while the budget is `max_trials`.

    KerasTuner pads the trial count with zeros to the width of `max_trials`.
    """
    return f"{{:0{len(str(max_trials))}d}}".format(len(oracle.trials))


def values_hash(oracle, values):
    """KerasTuner's hash of hyperparameter values, as it keys tried trials."""
    return oracle._compute_values_hash(values)


def trial_hashes(oracle):
    """The oracle's `{trial_id: values hash}` (a live reference)."""
    return oracle._id_to_hash


def set_seed_state(oracle, seed):
    """Sets the seed KerasTuner draws its own random values from."""
    oracle._seed_state = seed


def oracle_file(oracle):
    """The path of the oracle's `oracle.json`."""
    return oracle._get_oracle_fname()


def save_state_atomically(oracle, write_json):
    """Makes a KerasTuner oracle write its state files durably.

    KerasTuner's own oracles write `oracle.json` (`save`) and each
    `trial.json` (`_save_trial`) in place, so a crash or a full disk during
    the write leaves a partial file. For an oracle whose class keeps
    KerasTuner's versions of both methods, they are replaced on this
    instance by versions that write through `write_json`
    (`NASOracle` already does); other oracles are left as they are.
    Idempotent.

    Args:
        oracle: A `keras_tuner.Oracle`.
        write_json: A function `(path, value)` that writes `value` as
            JSON at `path` atomically
            (`keras_nas.files.write_json_atomically`).
    """
    if not isinstance(oracle, _oracle.Oracle):
        return  # A distributed worker's client: the chief writes.
    cls = type(oracle)
    if (cls.save is not _oracle.Oracle.save
            or cls._save_trial is not _oracle.Oracle._save_trial):
        return

    def save():
        write_json(oracle_file(oracle), oracle.get_state())

    def save_trial(trial):
        path = os.path.join(trial_dir(oracle, trial.trial_id), "trial.json")
        write_json(path, trial.get_state())

    oracle.save = save
    oracle._save_trial = save_trial


def trial_dir(oracle, trial_id):
    """The folder of one trial's files, created if absent.

    Raises:
        keras_nas.write_errors.WriteError: If it cannot be created (a full disk:
            TensorFlow's `ResourceExhaustedError` names no folder itself).
    """
    try:
        return oracle._get_trial_dir(trial_id)
    except (OSError, tf.errors.OpError) as error:
        folder = os.path.join(project_dir(oracle), f"trial_{trial_id}")
        failure = write_error(folder, error)
        if failure is None:
            raise
        raise failure from None


def project_dir(oracle):
    """The oracle's project folder."""
    return oracle._project_dir


def set_project_dir(oracle, directory, project_name):
    """Points the oracle at a project folder, as a tuner does."""
    oracle._set_project_dir(directory, project_name)


def worker_oracle(oracle):
    """The oracle a distributed worker's client stands for, else `oracle`."""
    return getattr(oracle, "_oracle", oracle)


def weights_file(model):
    """The `.weights.h5` file `model.save_weights` would write, in memory.

    HDF5 writes its files itself and, when the disk fills during the write,
    may crash the process as it closes the file (h5py #914, #1120). Built in
    memory, the file reaches the disk through ordinary Python writes, which
    fail cleanly (see `keras_nas.files.save_weights_atomically`).

    Args:
        model: A built `keras.Model`.

    Returns:
        The file's bytes, as a `memoryview`; `model.load_weights` reads the
        file they make.
    """
    from keras.src.saving import saving_lib

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, store, None, "", set())
    finally:
        store.close()
    return buffer.getbuffer()


def first_call_arguments(layer):
    """The arguments of a layer's first call in a functional model.

    Keras lists a layer's input tensors (`layer.input`) in an order that
    depends on how they were passed; its first node keeps the call's own
    positional and keyword arguments.

    Returns:
        `(args, kwargs)`, or `None` when the layer was never called.
    """
    nodes = layer._inbound_nodes
    if not nodes:
        return None
    return tuple(nodes[0].arguments.args), dict(nodes[0].arguments.kwargs)


def gradient_registry():
    """TensorFlow's global registry of gradient functions (a live dict)."""
    from tensorflow.python.framework import ops

    return ops.gradient_registry._registry


def check():
    """Verifies that every private name used is where keras-nas expects it.

    Raises:
        CompatibilityError: Naming the installed KerasTuner version and the
            first name that has moved.
    """
    for name in TUNER_HOOKS:
        if not callable(getattr(kt.Tuner, name, None)):
            raise _moved(f"keras_tuner.Tuner.{name}")
    oracle = kt.oracles.RandomSearchOracle(objective="val_loss", max_trials=1)
    try:
        for name in ORACLE_HOOKS:
            if not callable(getattr(oracle, name, None)):
                raise _moved(f"keras_tuner.Oracle.{name}")
        oracle._set_project_dir(tempfile.mkdtemp(), "compat_check")
        for name in ORACLE_ATTRIBUTES:
            if not hasattr(oracle, name):
                raise _moved(f"keras_tuner.Oracle.{name}")
        for module, names in (
            (_tuner_utils, ("TunerCallback", "validate_trial_results",
                            "convert_to_metrics_dict", "get_best_step")),
            (_objective, ("create_objective", "MultiObjective")),
            (_oracle, ("LOCKS", "THREADS")),
            (_metrics_tracking, ("MetricsTracker",)),
            (_conditions, ("Parent",)),
        ):
            for name in names:
                if not hasattr(module, name):
                    raise _moved(f"{module.__name__}.{name}")
        if not hasattr(_conditions.Parent, "to_proto"):
            raise _moved("keras_tuner conditions.Parent.to_proto")
        if not isinstance(getattr(new_metrics_tracker(), "metrics", None), dict):
            raise _moved("keras_tuner MetricsTracker.metrics (a dict)")
    finally:
        release_oracle_locks(oracle)
    try:
        from keras.src.saving import saving_lib
    except ImportError as error:
        raise CompatibilityError(
            f"keras-nas cannot find keras.src.saving.saving_lib: {error}"
        ) from None
    for name in ("H5IOStore", "_save_state"):
        if not callable(getattr(saving_lib, name, None)):
            raise CompatibilityError(
                f"keras-nas cannot find keras.src.saving.saving_lib.{name} "
                "(used to write weights files in memory); update "
                "keras_nas/compat.py."
            )
    import keras

    inputs = keras.Input((2,))
    dense = keras.layers.Dense(1)
    dense(inputs)
    try:
        called = first_call_arguments(dense)
    except AttributeError as error:
        called = error
    if not (isinstance(called, tuple) and called[0] and called[0][0] is inputs):
        raise CompatibilityError(
            f"keras-nas cannot read a layer's call arguments in Keras "
            f"{keras.__version__} (Layer._inbound_nodes[0].arguments: "
            f"{called!r}); update keras_nas/compat.py."
        )
    try:
        registry = gradient_registry()
    except (ImportError, AttributeError) as error:
        raise CompatibilityError(
            "keras-nas cannot find TensorFlow's gradient registry "
            f"(tensorflow.python.framework.ops.gradient_registry._registry): {error}"
        ) from None
    if not isinstance(registry, dict):
        raise CompatibilityError(
            "TensorFlow's gradient registry is no longer a dict "
            f"(found {type(registry).__name__})."
        )
