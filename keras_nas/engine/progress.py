"""`SearchProgress`: one line per trial and, in a terminal, a live bar."""

import shutil
import sys
import time

from keras_nas import compat
from keras_nas.formatting import format_architecture
from keras_nas.formatting import format_duration
from keras_nas.formatting import format_figure
from keras_nas.formatting import trial_number
from keras_nas.objectives import pareto
from keras_nas.objectives.costs import VIOLATION


ERASE_LINE = "\r\x1b[2K"
"""Carriage return and ANSI "erase the line": the bar is redrawn in place."""
BAR_WIDTH = 20
"""Characters of the search's bar; the epochs' bar has half as many."""


class SearchProgress:
    """Prints the progress of a search: trial n of N, best so far, elapsed.

    Every ended trial gets one line. When the stream is a terminal
    (`isatty()`), a status line under them is redrawn in place (`\r` and
    ANSI erase-line) as each epoch ends: a bar of the whole search (trial
    i of N, best so far, elapsed and estimated remaining time) and one of
    the current trial's epochs. Elsewhere (a file, a pipe, CI, a worker
    whose lines its launcher prefixes) the output is the trial lines only,
    with no control characters.

    Args:
        verbose: 0 prints nothing; 1 a line per trial (and the bar in a
            terminal); 2 also a line per epoch, with its metrics.
        stream: Where to print (`print`'s `file`); `None` is stdout, looked
            up at each print.
    """

    def __init__(self, verbose=1, stream=None):
        if verbose not in (0, 1, 2):
            raise ValueError(
                "Received an invalid value for `verbose`, expected 0, 1 or 2. "
                f"Received: verbose={verbose!r}"
            )
        self.verbose = verbose
        self.stream = stream
        self.start = None
        self._first = None
        self._bar = None
        self._best = "best -"

    def on_search_begin(self, description):
        self.start = time.monotonic()
        self._first = None
        self._print(description)

    def on_trial_begin(self, number, total, epochs, metric):
        """Starts the live bar of a trial (terminals only).

        Args:
            number: The trial's 1-based number.
            total: The trial budget, or `None`.
            epochs: The epochs the trial trains for.
            metric: The name of the per-epoch figure to show.
        """
        if self._first is None:
            self._first = number
        self._bar = {"number": number, "total": total, "epochs": epochs,
                     "metric": metric, "epoch": 0, "value": None}
        self._draw()

    def on_epoch_end(self, epoch, logs):
        """Moves the trial's bar on (and prints the epoch with `verbose=2`).

        Args:
            epoch: The 0-based epoch that ended.
            logs: Its metrics.
        """
        bar = self._bar
        if bar is None:
            return
        bar["epoch"], bar["value"] = epoch + 1, logs.get(bar["metric"])
        if self.verbose == 2:
            figures = " ".join(
                f"{name}={format_figure(value)}" for name, value in logs.items()
            )
            self._print(f"  Trial {bar['number']} epoch {epoch + 1}/{bar['epochs']} {figures}")
        self._draw()

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
        self._best = best
        if self._bar is not None:
            self._bar["epoch"] = self._bar["epochs"]
        self._print(
            f"Trial {number}{of_total} {result} | {best} | elapsed {elapsed} | {summary}"
        )

    def on_promotion(self, trial, stopped_after):
        """Announces a stopped trial trained again to the full epochs.

        Args:
            trial: The promoted `keras_tuner.engine.trial.Trial`.
            stopped_after: The epoch it had been stopped after.
        """
        self._print(
            f"Trial {trial_number(trial.trial_id)}, stopped after epoch "
            f"{stopped_after}, ranks in the top of its rung now: trained "
            "again to the full epochs"
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
        self._bar = None
        self._print(line)

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _live(self):
        isatty = getattr(self._out(), "isatty", None)
        return bool(self.verbose and isatty is not None and isatty())

    def _print(self, text):
        """Prints a line; in a terminal, above the redrawn bar."""
        if not self.verbose:
            return
        out = self._out()
        if self._live():
            out.write(ERASE_LINE)
        print(text, file=out, flush=True)
        self._draw()

    def _draw(self):
        """Redraws the status line in place (terminals only)."""
        bar = self._bar
        if bar is None or not self._live():
            return
        now = time.monotonic()
        elapsed = now - (self.start or now)
        fraction = bar["epoch"] / bar["epochs"] if bar["epochs"] else 0.0
        done = bar["number"] - self._first + fraction
        total = bar["total"]
        eta = "-"
        if total and done > 0:
            eta = format_duration(elapsed / done * max(total - bar["number"] + 1 - fraction, 0))
        search = (
            f"Trial {bar['number']}/{total} {_bar(bar['number'] - 1 + fraction, total)}"
            if total else f"Trial {bar['number']}"
        )
        value = "" if bar["value"] is None else f" {bar['metric']}={format_figure(bar['value'])}"
        line = (
            f"{search} | {self._best} | elapsed {format_duration(elapsed)} | "
            f"ETA {eta} | epoch {bar['epoch']}/{bar['epochs']} "
            f"{_bar(bar['epoch'], bar['epochs'], BAR_WIDTH // 2)}{value}"
        )
        width = shutil.get_terminal_size((120, 24)).columns - 1
        out = self._out()
        out.write(ERASE_LINE + line[:width])
        out.flush()


def _bar(done, total, width=BAR_WIDTH):
    """A text bar such as `[#####-----]` for `done` of `total`."""
    filled = int(round(width * min(done / total, 1.0))) if total else 0
    return "[" + "#" * filled + "-" * (width - filled) + "]"
