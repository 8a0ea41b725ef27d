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
"""

import math

import numpy as np

from keras_nas import validation

STOPPED_EARLY = "stopped_early"
"""The metric of a trial a scheduler stopped: the epoch it stopped after,
counted from 1."""

SCHEDULERS = ("asha", "hyperband", "median", "none")
"""The names `get_early_stopping` takes."""


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

    def report(self, trial_id, epoch, value):
        """Records a trial's value after an epoch; returns whether it stops.

        Args:
            trial_id: The trial's id.
            epoch: The epoch just trained, counted from 1.
            value: The objective after it, higher is better.

        Returns:
            `True` if the trial should stop now.
        """
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "max_epochs": self.max_epochs,
                "min_epochs": self.min_epochs, "eta": self.eta}

    def get_state(self):
        """What `report` has recorded, JSON-safe."""
        raise NotImplementedError

    def set_state(self, state):
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

    def report(self, trial_id, epoch, value):
        if epoch not in self.recorded:
            return False
        values = self.recorded[epoch]
        values[str(trial_id)] = float(value)
        cutoff = float(np.quantile(list(values.values()), 1.0 - 1.0 / self.eta))
        return float(value) < cutoff

    def get_state(self):
        return {str(rung): dict(values) for rung, values in self.recorded.items()}

    def set_state(self, state):
        for rung in self.recorded:
            self.recorded[rung] = dict(state.get(str(rung), {}))


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

    def report(self, trial_id, epoch, value):
        return self.brackets[self.bracket_of(trial_id)].report(trial_id, epoch, value)

    def get_state(self):
        return {"assigned": dict(self.assigned),
                "brackets": [bracket.get_state() for bracket in self.brackets]}

    def set_state(self, state):
        self.assigned = dict(state["assigned"])
        for bracket, saved in zip(self.brackets, state["brackets"]):
            bracket.set_state(saved)


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

    def report(self, trial_id, epoch, value):
        trial_id = str(trial_id)
        curve = self.best.setdefault(trial_id, {})
        earlier = [v for e, v in curve.items() if int(e) < epoch]
        best = max([float(value), *earlier])
        curve[str(epoch)] = best
        if epoch < self.min_epochs:
            return False
        others = [
            c[str(epoch)] for t, c in self.best.items()
            if t != trial_id and str(epoch) in c
        ]
        return len(others) >= self.min_trials and best < float(np.median(others))

    def get_state(self):
        return {t: dict(c) for t, c in self.best.items()}

    def set_state(self, state):
        self.best = {t: dict(c) for t, c in state.items()}


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
