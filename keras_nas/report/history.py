"""The search's course: objective by trial and time, fronts, learning curves."""

import numpy as np

from keras_nas.objectives import pareto
from keras_nas.oracles.early_stopping import STOPPED_EARLY
from keras_nas.report.figures import pyplot
from keras_nas.report.figures import subplots
from keras_nas.report.figures import to_img


def best_so_far(values, direction):
    """The running best of `values` in `direction` (`"max"` or `"min"`)."""
    pick = np.maximum if direction == "max" else np.minimum
    return pick.accumulate(np.asarray(values, dtype=float)).tolist()


def course(x, values, direction):
    """The trials in the order of `x`, with the best so far in that order.

    Trials of parallel workers end out of their numbers' order, so the best
    so far by time is taken in the order of the end times.

    Args:
        x: Each trial's position (its number or end time).
        values: Each trial's objective.
        direction: `"max"` or `"min"`.

    Returns:
        `(x, values, best)`: arrays sorted by `x` (ties kept in order), and
        the running best of the sorted values.
    """
    order = np.argsort(np.asarray(x, dtype=float), kind="stable")
    x = np.asarray(x, dtype=float)[order]
    values = np.asarray(values, dtype=float)[order]
    return x, values, np.asarray(best_so_far(values, direction))


def history_figure(view):
    """Every completed trial's objective and the best so far, by trial and time.

    Returns:
        An `<img>` tag.
    """
    objective = view.first
    trials = view.completed
    values = [view.value(t, objective) for t in trials]
    figure, (by_number, by_time) = subplots(2, columns=2, width=6.2, height=3.6)
    for axes, x, label in (
        (by_number, [view.number[t.trial_id] for t in trials], "trial number"),
        (by_time, [view.times[t.trial_id] / 60 for t in trials],
         "minutes since the search began (trial end)"),
    ):
        x, ordered, best = course(x, values, objective.direction)
        axes.scatter(x, ordered, s=22, color="tab:blue", label="trial", zorder=3)
        axes.step(x, best, where="post", color="tab:orange", label="best so far")
        axes.set_xlabel(label)
        axes.set_ylabel(f"{objective.name} ({objective.direction})")
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize=8)
    by_number.set_title("Objective by trial")
    by_time.set_title("Objective by time")
    return to_img(figure, f"{objective.name} by trial number and by time")


def pareto_figure(view, others):
    """The first objective against each of `others`, with the front marked.

    Args:
        view: A `RunView`.
        others: `keras_tuner.Objective`s (further objectives and costs).

    Returns:
        An `<img>` tag.
    """
    first = view.first
    figure, axes_list = subplots(len(others), columns=3)
    for axes, other in zip(axes_list, others):
        pairs = [
            (t, view.value(t, first), view.value(t, other)) for t in view.completed
        ]
        pairs = [p for p in pairs if p[2] is not None]
        points = np.array([[p[2], p[1]] for p in pairs], dtype=float)
        front = pareto.pareto_indices(points, [other, first]) if len(points) else []
        axes.scatter(points[:, 0], points[:, 1], s=20, color="tab:gray",
                     label="trial")
        ordered = sorted(front, key=lambda i: points[i, 0])
        axes.plot(points[ordered, 0], points[ordered, 1], "o-", color="tab:red",
                  label=f"front ({len(ordered)})")
        axes.set_xlabel(f"{other.name} ({other.direction})")
        axes.set_ylabel(f"{first.name} ({first.direction})")
        low, high = points[:, 0].min(), points[:, 0].max()
        if low > 0 and high / low > 10:  # Over a decade: a log axis.
            axes.set_xscale("log")
            axes.xaxis.set_minor_formatter(pyplot().NullFormatter())
        else:
            axes.locator_params(axis="x", nbins=4)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    return to_img(figure, f"Pareto fronts of {first.name} against "
                  + ", ".join(o.name for o in others))


def curves_figure(view, rows):
    """The per-epoch metric of the leaderboard's top trials.

    Args:
        view: A `RunView`.
        rows: Leaderboard rows of the trials to draw, best first.

    Returns:
        `(img, stopped)`: an `<img>` tag and the ids of the early-stopped
        trials drawn (dashed, ending in a cross).
    """
    metric = view.epoch_metric()
    by_id = {t.trial_id: t for t in view.trials}
    figure, (axes,) = subplots(1, columns=1, width=8, height=4)
    stopped = []
    for row in rows:
        trial = by_id[row["trial_id"]]
        epochs, values = view.curve(trial, metric.name)
        if not epochs:
            continue
        early = trial.metrics.exists(STOPPED_EARLY)
        line, = axes.plot(epochs, values, "--" if early else "-", marker="o",
                          markersize=3,
                          label=f"trial {trial.trial_id}"
                          + (" (stopped early)" if early else ""))
        if early:
            stopped.append(trial.trial_id)
            axes.plot(epochs[-1], values[-1], "x", color=line.get_color(),
                      markersize=10, mew=2)
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric.name)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    axes.set_title(f"Learning curves of the top {len(rows)} trials")
    return to_img(figure, f"learning curves of {metric.name}"), stopped
