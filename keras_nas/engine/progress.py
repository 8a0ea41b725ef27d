"""`SearchProgress`: one line per trial, with the best so far and the time."""

import time

from keras_nas import compat
from keras_nas.objectives import pareto
from keras_nas.objectives.costs import VIOLATION


def format_duration(seconds):
    """Formats seconds as `HH:MM:SS`."""
    seconds = int(round(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def format_architecture(values, limit=90):
    """A one-line, shortened `name=value` view of an architecture."""
    text = " ".join(f"{name}={value}" for name, value in values.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SearchProgress:
    """Prints the progress of a search: trial n of N, best so far, elapsed.

    Args:
        verbose: 0 prints nothing; 1 prints a line as each trial ends.
        stream: Where to print (`print`'s `file`); `None` is stdout.
    """

    def __init__(self, verbose=1, stream=None):
        self.verbose = verbose
        self.stream = stream
        self.start = None

    def on_search_begin(self, description):
        self.start = time.monotonic()
        self._print(description)

    def on_trial_end(self, number, total, trial, objective, best, summary):
        """Reports one ended trial.

        Args:
            number: The trial's 1-based number.
            total: The trial budget, or `None`.
            trial: The ended `keras_tuner.engine.trial.Trial`.
            objective: The search's `keras_tuner.Objective` (several for a
                list objective: each is shown).
            best: The best completed trial so far (or `None`); with
                several objectives, the completed trials of the Pareto
                front (a list).
            summary: A short text of the trial's architecture.
        """
        elapsed = format_duration(time.monotonic() - (self.start or time.monotonic()))
        of_total = f"/{total}" if total else ""
        objectives = compat.single_objectives(objective)
        reason = (trial.message or "").strip().splitlines()
        if trial.status == "COMPLETED" and trial.score is not None:
            values = pareto.trial_values(trial, objectives)
            result = " ".join(
                f"{o.name}={format_figure(v)}" for o, v in zip(objectives, values)
            ) if values is not None else f"{objective.name}={trial.score:.4f}"
        elif reason and reason[0].startswith("infeasible"):
            result = reason[0]
        elif trial.metrics.exists(VIOLATION):  # A worker's copy has no message.
            result = "infeasible, not trained"
        else:
            result = f"{trial.status}" + (f" ({reason[0]})" if reason else "")
        if isinstance(best, list):
            best = f"front of {len(best)}"
        elif best is not None and best.score is not None:
            best = f"best {best.score:.4f}"
        else:
            best = "best -"
        self._print(
            f"Trial {number}{of_total} {result} | {best} | elapsed {elapsed} | {summary}"
        )

    def on_one_shot_epoch(self, epoch, epochs, logs, description):
        """Reports one epoch of a strategy's one-shot search (its supernet).

        Args:
            epoch: The 0-based epoch.
            epochs: The number of epochs.
            logs: The epoch's logs.
            description: The architecture derived so far (`describe`).
        """
        elapsed = format_duration(time.monotonic() - (self.start or time.monotonic()))
        figures = " ".join(
            f"{name}={logs[name]:.4f}"
            for name in ("loss", "val_accuracy", "val_mae", "parameter_free_fraction")
            if name in logs
        )
        arch = description.get("arch_str") or format_architecture(
            description["decisions"]
        )
        self._print(
            f"One-shot epoch {epoch + 1}/{epochs} {figures} | elapsed {elapsed} | {arch}"
        )

    def on_time_limit(self, limit, finished):
        """Reports that the search stopped at its time limit.

        Args:
            limit: The limit, in seconds.
            finished: Trials finished (completed or failed) so far.
        """
        self._print(
            f"Time limit of {format_duration(limit)} reached: stopped with "
            f"{finished} finished trials; the trial in progress was not "
            "counted and runs again on resume."
        )

    def on_search_end(self, line):
        """Reports the search's totals (the epochs it trained)."""
        self._print(line)

    def _print(self, text):
        if self.verbose:
            print(text, file=self.stream, flush=True)


def format_figure(value):
    """A metric for a line or a table: four decimals, or whole thousands.

    Scores get four decimals; large costs (parameters, FLOPs, bytes) are
    shown whole with thousands separators; `None` (missing) is `-`.
    """
    if value is None:
        return "-"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
