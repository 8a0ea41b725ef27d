"""What the report's sections read from a run: trials in order, their values."""

import keras_tuner as kt

from keras_nas import compat
from keras_nas.objectives import costs
from keras_nas.objectives import pareto


class RunView:
    """A run folder's trials, in the order the search started them.

    Args:
        run: A `keras_nas.runs.RunDirectory`.
    """

    def __init__(self, run):
        self.run = run
        self.objectives = compat.single_objectives(run.objective)
        self.first = self.objectives[0]
        state = run.oracle_state() or {}
        order = {trial_id: i for i, trial_id in enumerate(state.get("start_order", []))}
        self.trials = sorted(
            run.trials,
            key=lambda t: (order.get(t.trial_id, len(order)), _id_key(t.trial_id)),
        )
        self.number = {t.trial_id: i + 1 for i, t in enumerate(self.trials)}
        self.times = run.trial_end_times()
        self.completed = [
            t for t in self.trials
            if t.status == "COMPLETED" and self.value(t, self.first) is not None
        ]

    def value(self, trial, objective):
        """A trial's best value of `objective` (a `keras_tuner.Objective`), or `None`."""
        values = pareto.trial_values(trial, [objective])
        return None if values is None else float(values[0])

    def cost_objectives(self):
        """The other objectives and every cost a completed trial recorded.

        Returns:
            A list of `keras_tuner.Objective`, each with its direction.
        """
        names = [o for o in self.objectives[1:]]
        for name, direction in costs.COSTS.items():
            if name not in [o.name for o in names] and any(
                t.metrics.exists(name) for t in self.completed
            ):
                names.append(kt.Objective(name, direction))
        return [o for o in names if o.name != self.first.name]

    def epoch_metric(self):
        """The metric recorded per epoch that ranks a trial's epochs."""
        for objective in self.objectives:
            if objective.name not in costs.COSTS:
                return objective
        task = self.run.task
        return task.objective() if task is not None else kt.Objective("val_loss", "min")

    def curve(self, trial, name):
        """A trial's per-epoch values of metric `name`: `(epochs, values)`."""
        if not trial.metrics.exists(name):
            return [], []
        by_step = {}
        for observation in trial.metrics.get_history(name):
            by_step[observation.step] = observation.mean()
        steps = sorted(by_step)
        return [s + 1 for s in steps], [by_step[s] for s in steps]


def _id_key(trial_id):
    return (0, int(trial_id), "") if trial_id.isdigit() else (1, 0, trial_id)
