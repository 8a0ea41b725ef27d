"""TensorBoard logs of a search: each trial's training, and the HParams dashboard."""

import math
import os

import keras
import keras_tuner as kt
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from keras_nas import compat
from keras_nas.objectives import costs
from keras_nas.objectives import pareto

CONFIG_RUN = "hparams_config"
"""The run (folder) holding the experiment's hyperparameters and metrics."""


class TensorBoardLogs:
    """Writes what `tensorboard --logdir DIR` shows of a search.

    - `DIR/trial_ID/` (`execution_K/` below it with several executions):
      the training logs of Keras's `TensorBoard` callback (`train/`,
      `validation/`, per-epoch scalars);
    - `DIR/trial_ID/`: the trial's HParams session summary, its active
      decisions as hyperparameters, its objectives and costs as scalars;
    - `DIR/hparams_config/`: the experiment, every decision of the space
      with its domain and every objective and cost as a metric.

    Args:
        log_dir: The folder TensorBoard reads.
    """

    def __init__(self, log_dir):
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise ValueError(
                "Received an invalid value for `tensorboard_dir`, expected a "
                f"folder path. Received: tensorboard_dir={log_dir!r}"
            )
        self.log_dir = str(log_dir)

    def trial_dir(self, trial_id):
        """The folder of one trial's logs."""
        return os.path.join(self.log_dir, f"trial_{trial_id}")

    def callback(self, trial_id, execution, executions):
        """Keras's `TensorBoard` callback for one execution of a trial."""
        folder = self.trial_dir(trial_id)
        if executions > 1:
            folder = os.path.join(folder, f"execution_{execution}")
        return keras.callbacks.TensorBoard(log_dir=folder)

    def write_config(self, hyperparameters, objectives):
        """Writes the experiment: the space's decisions and the metrics.

        Args:
            hyperparameters: The space, a `keras_tuner.HyperParameters`.
            objectives: The search's objectives (costs are added).
        """
        params = [_hparam(p) for p in hyperparameters.space]
        metrics = [hparams_api.Metric(name, display_name=name)
                   for name in metric_names(objectives)]
        with tf.summary.create_file_writer(
            os.path.join(self.log_dir, CONFIG_RUN)
        ).as_default():
            hparams_api.hparams_config(
                hparams=[p for p in params if p is not None], metrics=metrics
            )

    def write_trial(self, trial, decisions, objectives):
        """Writes a finished trial's HParams session and its metric values.

        Args:
            trial: The `keras_tuner.engine.trial.Trial`.
            decisions: Its active decisions (`describe(...)["decisions"]`).
            objectives: The search's objectives.
        """
        values = trial_metrics(trial, objectives)
        writer = tf.summary.create_file_writer(self.trial_dir(trial.trial_id),
                                               filename_suffix=".hparams")
        with writer.as_default():
            hparams_api.hparams(
                {name: _value(v) for name, v in decisions.items()},
                trial_id=f"trial_{trial.trial_id}",
            )
            for name, value in values.items():
                tf.summary.scalar(name, value, step=0)
        writer.close()


def metric_names(objectives):
    """The objectives' names, then every cost's."""
    names = [o.name for o in compat.single_objectives(objectives)]
    return list(dict.fromkeys(names + list(costs.COSTS)))


def trial_metrics(trial, objectives):
    """A trial's best value of each objective and cost it recorded (finite only)."""
    directions = {o.name: o.direction for o in compat.single_objectives(objectives)}
    values = {}
    for name in metric_names(objectives):
        direction = directions.get(name) or costs.COSTS[name]
        found = pareto.trial_values(trial, [kt.Objective(name, direction)])
        if found is not None and math.isfinite(found[0]):
            values[name] = float(found[0])
    return values


def _hparam(parameter):
    """A KerasTuner hyperparameter as TensorBoard's `HParam` with its domain."""
    config = parameter.get_config()
    if isinstance(parameter, kt.engine.hyperparameters.Boolean):
        domain = hparams_api.Discrete([False, True])
    elif isinstance(parameter, kt.engine.hyperparameters.Choice):
        domain = hparams_api.Discrete([_value(v) for v in config["values"]])
    elif isinstance(parameter, kt.engine.hyperparameters.Int):
        domain = hparams_api.IntInterval(config["min_value"], config["max_value"])
    elif isinstance(parameter, kt.engine.hyperparameters.Float):
        domain = hparams_api.RealInterval(float(config["min_value"]),
                                          float(config["max_value"]))
    else:  # Fixed
        domain = None
    return hparams_api.HParam(parameter.name, domain)


def _value(value):
    """A decision's value as TensorBoard takes it (bool, number or text)."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)
