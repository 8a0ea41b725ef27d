"""The effect of each decision: the objective by value, and a ranked importance."""

import numpy as np

from keras_nas.report.figures import short
from keras_nas.report.figures import subplots
from keras_nas.report.figures import to_img

INACTIVE = "(inactive)"
"""The value shown for a decision a trial's architecture does not use."""


def decision_table(view):
    """Each decision's value in every completed trial (`INACTIVE` where unused).

    Returns:
        `{decision: [value as text, ...]}` in the completed trials' order,
        only decisions that take more than one value.
    """
    described = [
        view.run.describe(t.hyperparameters.values)["decisions"] for t in view.completed
    ]
    names = list(dict.fromkeys(name for d in described for name in d))
    table = {name: [str(d.get(name, INACTIVE)) for d in described] for name in names}
    return {name: values for name, values in table.items() if len(set(values)) > 1}


def variance_shares(table, scores):
    """The share of the objective's variance each decision's value explains.

    One-way ANOVA's eta squared per decision, the main effect that fANOVA
    attributes to a single decision, computed on the trials themselves:
    the variance of the per-value means (weighted by their counts) over
    the variance of the scores.

    Args:
        table: `decision_table`'s output.
        scores: The completed trials' objective values, in the same order.

    Returns:
        `{decision: share in [0, 1]}`, largest first; empty when the scores
        do not vary.
    """
    scores = np.asarray(scores, dtype=float)
    total = float(np.sum((scores - scores.mean()) ** 2))
    if total <= 0:
        return {}
    shares = {}
    for name, values in table.items():
        values = np.array(values)
        between = sum(
            np.sum(values == v) * (scores[values == v].mean() - scores.mean()) ** 2
            for v in set(values)
        )
        shares[name] = float(between / total)
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


def effects_figure(view, table, scores):
    """A strip plot of the objective by value for every decision in `table`.

    Each value's trials are points (jittered sideways) with their mean as a
    bar; values in order (numbers by value), unused (`INACTIVE`) last.

    Returns:
        An `<img>` tag.
    """
    objective = view.first
    rng = np.random.default_rng(0)
    scores = np.asarray(scores, dtype=float)
    figure, axes_list = subplots(len(table), columns=4, width=3.4, height=2.8)
    for axes, (name, values) in zip(axes_list, table.items()):
        values = np.array(values)
        levels = sorted(set(values.tolist()), key=_level_key)
        for x, level in enumerate(levels):
            ys = scores[values == level]
            axes.scatter(x + rng.uniform(-0.12, 0.12, len(ys)), ys, s=16,
                         color="tab:blue", alpha=0.8, zorder=3)
            axes.hlines(ys.mean(), x - 0.3, x + 0.3, color="tab:orange", lw=2)
        axes.set_xticks(range(len(levels)), [short(v, 12) for v in levels],
                        rotation=30 if len(levels) > 3 else 0, fontsize=8)
        axes.set_xlim(-0.6, len(levels) - 0.4)
        axes.set_title(short(name, 30), fontsize=9)
        axes.set_ylabel(objective.name, fontsize=8)
        axes.grid(alpha=0.3, axis="y")
    return to_img(figure, f"{objective.name} by value of each decision")


def _level_key(level):
    try:
        return (level == INACTIVE, 0, float(level), "")
    except ValueError:
        return (level == INACTIVE, 1, 0.0, level)


def importance_figure(shares):
    """A horizontal bar chart of `variance_shares`, largest on top.

    Returns:
        An `<img>` tag.
    """
    names = list(shares)[::-1]
    figure, (axes,) = subplots(1, columns=1, width=7, height=0.9 + 0.28 * len(names))
    axes.barh(range(len(names)), [shares[n] for n in names], color="tab:green")
    axes.set_yticks(range(len(names)), [short(n, 30) for n in names], fontsize=8)
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of the objective's variance explained (eta squared)")
    axes.grid(alpha=0.3, axis="x")
    return to_img(figure, "decision importance")
