"""Stopping poor trials early: ASHA, Hyperband and median stopping.

A scheduler sees each trial's objective after every epoch (`report`) and
says whether the trial should stop. It lives in the oracle, so it works the
same with any strategy, in one process or with distributed workers (whose
epochs reach the chief's oracle through `update_trial`), and its state is
saved with the oracle's, atomically.

Epochs are counted from 1 (the first epoch is epoch 1) and values are
"higher is better" (the oracle negates a minimised objective).

- `ASHA` (asynchronous successive halving; Li et al., "A System for
  Massively Parallel Hyperparameter Tuning", MLSys 2020): rungs at
  `min_epochs * eta**k` epochs below `max_epochs`; a trial reaching a rung
  goes on only if its value is in the top `1/eta` of the values recorded at
  that rung so far (itself included), as Ray Tune's `ASHAScheduler` does.
  No trial waits for a rung to fill: an early trial is compared with fewer.
- `Hyperband` (Li et al., JMLR 2018), asynchronous: brackets `s = 0..S`
  with `S = floor(log_eta(max_epochs / min_epochs))`, bracket `s` an ASHA
  whose first rung is at `min_epochs * eta**s`; trials are dealt to the
  brackets in turn, so some trials are judged early and others only late.
- `Median` (the median stopping rule of Golovin et al., "Google Vizier",
  KDD 2017, as Optuna's `MedianPruner`): from `min_epochs` on, a trial
  stops when its best value so far is below the median of the best values
  of the earlier trials at the same epoch (once at least `min_trials` of
  them reached it).

When the search has proposed its last trial, the trials a scheduler
stopped that it would now let go on (`promotable`: ASHA's pending
promotions, the trials in the top `1/eta` of their rung now that later
trials were recorded there) are trained again to the full epochs, the best
rung first (`NASTuner` does it; see `keras_nas.engine.promotions`). Such a
trial is `promote`d: its reports up to the epoch it was stopped after are
not judged again, and the rungs above it judge it like any trial's.
"""

import math

import numpy as np

from keras_nas import validation

STOPPED_EARLY = "stopped_early"
"""The metric of a trial a scheduler stopped: the epoch it stopped after,
counted from 1."""

EARLIER_EPOCHS = "epochs_before_promotion"
"""The metric of a promoted trial: the epochs of its earlier, stopped runs."""

SCHEDULERS = ("asha", "hyperband", "median", "none")
"""The names `get_early_stopping` takes."""


def curve_epochs(trial):
    """The epochs of a trial's learning curve: its per-epoch `loss` reports."""
    if not trial.metrics.exists("loss"):
        return 0
    return len(trial.metrics.get_history("loss"))


def epochs_trained(trial):
    """The epochs a trial trained in all: its curve's and earlier runs'."""
    earlier = (trial.metrics.get_last_value(EARLIER_EPOCHS)
               if trial.metrics.exists(EARLIER_EPOCHS) else 0)
    return curve_epochs(trial) + int(earlier)


class EarlyStopping:
    """Base of the schedulers: validation and state.

    Args:
        max_epochs: The epochs a trial trains at most (`fit`'s `epochs`).
        min_epochs: Epochs before the first decision.
        eta: The reduction factor: the share of trials kept at a rung is
            `1/eta`, and rungs are `eta` times apart.
    """

    name = None

    def __init__(self, max_epochs, min_epochs=1, eta=3):
        self.max_epochs = validation.check_positive_int("epochs", max_epochs)
        self.min_epochs = validation.check_positive_int("min_epochs", min_epochs)
        self.eta = validation.check_positive_int("eta", eta)
        if self.eta < 2:
            raise ValueError(
                "Received an invalid value for `eta`, expected an integer of "
                f"at least 2. Received: eta={eta!r}"
            )
        self.promoted = {}
        """Trial id -> the epoch a promoted trial had been stopped after."""

    def report(self, trial_id, epoch, value):
        """Records a trial's value after an epoch; returns whether it stops.

        A promoted trial's epochs up to the one it was stopped after are
        neither recorded again nor judged.

        Args:
            trial_id: The trial's id.
            epoch: The epoch just trained, counted from 1.
            value: The objective after it, higher is better.

        Returns:
            `True` if the trial should stop now.
        """
        if epoch <= self.promoted.get(str(trial_id), 0):
            return False
        return self.judge(str(trial_id), epoch, float(value))

    def judge(self, trial_id, epoch, value):
        """Records `value` and says whether the trial stops (`report`'s work)."""
        raise NotImplementedError

    def promotable(self, trial_id, epoch):
        """Whether a trial stopped after `epoch` would now be let go on.

        Args:
            trial_id: The trial's id.
            epoch: The epoch it was stopped after, counted from 1.
        """
        raise NotImplementedError

    def promote(self, trial_id, epoch):
        """Records that a trial stopped after `epoch` trains on (see `report`)."""
        self.promoted[str(trial_id)] = int(epoch)

    def get_config(self):
        return {"name": self.name, "max_epochs": self.max_epochs,
                "min_epochs": self.min_epochs, "eta": self.eta}

    def get_state(self):
        """What `report` and `promote` have recorded, JSON-safe."""
        return {"records": self.get_records(), "promoted": dict(self.promoted)}

    def set_state(self, state):
        self.set_records(state["records"])
        self.promoted = dict(state["promoted"])

    def get_records(self):
        """The values `judge` has recorded, JSON-safe."""
        raise NotImplementedError

    def set_records(self, records):
        raise NotImplementedError


def asha_rungs(min_epochs, eta, max_epochs):
    """The epochs at which ASHA decides: `min_epochs * eta**k < max_epochs`."""
    rungs, epoch = [], min_epochs
    while epoch < max_epochs:
        rungs.append(epoch)
        epoch *= eta
    return rungs


class ASHA(EarlyStopping):
    """Asynchronous successive halving (see the module docstring)."""

    name = "asha"

    def __init__(self, max_epochs, min_epochs=1, eta=3):
        super().__init__(max_epochs, min_epochs, eta)
        self.rungs = asha_rungs(self.min_epochs, self.eta, self.max_epochs)
        self.recorded = {rung: {} for rung in self.rungs}

    def judge(self, trial_id, epoch, value):
        if epoch not in self.recorded:
            return False
        self.recorded[epoch][trial_id] = value
        return not self._in_top(trial_id, epoch)

    def promotable(self, trial_id, epoch):
        return trial_id in self.recorded.get(epoch, {}) and self._in_top(trial_id, epoch)

    def _in_top(self, trial_id, epoch):
        """Whether a trial's value is in the top `1/eta` of its rung's."""
        values = self.recorded[epoch]
        cutoff = float(np.quantile(list(values.values()), 1.0 - 1.0 / self.eta))
        return values[trial_id] >= cutoff

    def get_records(self):
        return {str(rung): dict(values) for rung, values in self.recorded.items()}

    def set_records(self, records):
        for rung in self.recorded:
            self.recorded[rung] = dict(records.get(str(rung), {}))


class Hyperband(EarlyStopping):
    """Asynchronous Hyperband: ASHA brackets of later first rungs."""

    name = "hyperband"

    def __init__(self, max_epochs, min_epochs=1, eta=3):
        super().__init__(max_epochs, min_epochs, eta)
        ratio = self.max_epochs / self.min_epochs
        count = int(math.floor(math.log(ratio, self.eta) + 1e-9)) + 1 if ratio > 1 else 1
        self.brackets = [
            ASHA(self.max_epochs, self.min_epochs * self.eta**s, self.eta)
            for s in range(count)
        ]
        self.assigned = {}

    def bracket_of(self, trial_id):
        """The bracket a trial is in: brackets are dealt in turn."""
        trial_id = str(trial_id)
        if trial_id not in self.assigned:
            self.assigned[trial_id] = len(self.assigned) % len(self.brackets)
        return self.assigned[trial_id]

    def judge(self, trial_id, epoch, value):
        return self.brackets[self.bracket_of(trial_id)].judge(trial_id, epoch, value)

    def promotable(self, trial_id, epoch):
        return self.brackets[self.bracket_of(trial_id)].promotable(trial_id, epoch)

    def get_records(self):
        return {"assigned": dict(self.assigned),
                "brackets": [bracket.get_records() for bracket in self.brackets]}

    def set_records(self, records):
        self.assigned = dict(records["assigned"])
        for bracket, saved in zip(self.brackets, records["brackets"]):
            bracket.set_records(saved)


class Median(EarlyStopping):
    """The median stopping rule (see the module docstring).

    Args:
        max_epochs: The epochs a trial trains at most.
        min_epochs: Epochs before the first decision.
        eta: Unused by the rule; accepted for a common signature.
        min_trials: Earlier trials needed at an epoch before stopping there.
    """

    name = "median"

    def __init__(self, max_epochs, min_epochs=1, eta=3, min_trials=3):
        super().__init__(max_epochs, min_epochs, eta)
        self.min_trials = validation.check_positive_int("min_trials", min_trials)
        self.best = {}

    def judge(self, trial_id, epoch, value):
        curve = self.best.setdefault(trial_id, {})
        earlier = [v for e, v in curve.items() if int(e) < epoch]
        curve[str(epoch)] = max([value, *earlier])
        return epoch >= self.min_epochs and self._below_median(trial_id, epoch)

    def promotable(self, trial_id, epoch):
        curve = self.best.get(trial_id, {})
        return str(epoch) in curve and not self._below_median(trial_id, epoch)

    def _below_median(self, trial_id, epoch):
        """Whether a trial's best value is below the others' median at `epoch`."""
        others = [
            c[str(epoch)] for t, c in self.best.items()
            if t != trial_id and str(epoch) in c
        ]
        return (len(others) >= self.min_trials
                and self.best[trial_id][str(epoch)] < float(np.median(others)))

    def get_records(self):
        return {t: dict(c) for t, c in self.best.items()}

    def set_records(self, records):
        self.best = {t: dict(c) for t, c in records.items()}


_CLASSES = {"asha": ASHA, "hyperband": Hyperband, "median": Median}


def get_early_stopping(name, max_epochs, min_epochs=1, eta=3):
    """A scheduler by name, or `None` for `"none"` (or `None`).

    Raises:
        ValueError: If the name is unknown or an option is invalid.
    """
    if name is None or name == "none":
        return None
    validation.check_one_of("early_stopping", name, SCHEDULERS)
    return _CLASSES[name](max_epochs, min_epochs=min_epochs, eta=eta)
