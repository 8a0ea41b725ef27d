"""The strategy's own view: Q-table, DARTS weights, population, predictions."""

import os
import tempfile

import numpy as np

from keras_nas import compat
from keras_nas.darts.heatmap import save_alpha_heatmap
from keras_nas.darts.one_shot import OneShotRun
from keras_nas.oracles import NASOracle
from keras_nas.report.figures import png_img
from keras_nas.report.figures import short
from keras_nas.report.figures import subplots
from keras_nas.report.figures import to_img
from keras_nas.strategies import STRATEGIES
from keras_nas.strategies import get_oracle

EVOLUTIONARY = ("evolution", "genetic", "neat", "nsga2")
"""Strategies that keep a population, drawn by `population_figure`."""
PREDICTIONS = "predictions"
"""Oracle-state key of `{trial_id: predicted score}` (`dls`, `bayesian`)."""


def saved_oracle(run):
    """A run's strategy with its saved state, to read what it learnt.

    Built from `search.json` with the strategy's default options (those
    given at search time are not recorded), so it is for reading its state
    (a Q-table, recorded predictions), not for searching on.

    Args:
        run: A `keras_nas.runs.RunDirectory`.

    Returns:
        A `keras_tuner.Oracle`, or `None` when the strategy is not a
        registered one or it has no saved state.
    """
    state = run.oracle_state()
    name = run.search.get("strategy")
    if state is None or name not in STRATEGIES:
        return None
    objectives = compat.single_objectives(run.objective)
    oracle = get_oracle(
        name, objectives[0] if len(objectives) == 1 else objectives,
        run.search.get("max_trials") or 1,
        run.search.get("seed"),
    )
    if isinstance(oracle, NASOracle) and run.space is not None:
        oracle.set_structure(run.space.structure())
    oracle.trials = {trial.trial_id: trial for trial in run.trials}
    oracle.set_state(state)
    return oracle


def q_table_figure(table):
    """The Q-table as a states x actions heatmap (MetaQNN's view).

    Args:
        table: A `QLearningOracle.q_table()`; cells a state has no action
            for are blank.

    Returns:
        An `<img>` tag.
    """
    figure, (axes,) = subplots(
        1, columns=1, width=2.5 + 0.55 * len(table.actions),
        height=1.2 + 0.28 * len(table.states),
    )
    image = axes.imshow(np.asarray(table.values, dtype=float), cmap="viridis",
                        aspect="auto")
    axes.set_xticks(range(len(table.actions)), [short(a, 12) for a in table.actions],
                    rotation=40, ha="right", fontsize=8)
    axes.set_yticks(range(len(table.states)), [short(s, 40) for s in table.states],
                    fontsize=7)
    axes.set_xlabel("action (value of the state's decision)")
    axes.set_ylabel("state (decision | previous decision)")
    figure.colorbar(image, ax=axes, label="Q value")
    return to_img(figure, "Q-table heatmap")


def darts_searches(run):
    """The architecture weights per epoch of every DARTS search in a run.

    Read with `OneShotRun.read_state`: search 1's files are in the run
    folder, search k's in its `darts_search_k` subfolder.

    Args:
        run: A `keras_nas.runs.RunDirectory`.

    Returns:
        A list, one per search that finished an epoch, of its history:
        `[{"epoch": n, "alphas": {decision: {op: weight}}, ...}, ...]`.
    """
    folders = [run.path] + sorted(
        os.path.join(run.path, entry) for entry in os.listdir(run.path)
        if entry.startswith("darts_search_")
    )
    states = [OneShotRun(run.space, folder).read_state() for folder in folders]
    return [state["history"] for state in states if state and state["history"]]


def darts_figures(epochs, label):
    """One search's last-epoch heatmap (`save_alpha_heatmap`) and weights by epoch.

    Args:
        epochs: `[{"epoch": n, "alphas": {decision: {op: weight}}}, ...]`.
        label: The search's name in the titles.

    Returns:
        A list of two `<img>` tags.
    """
    last = epochs[-1]
    with tempfile.TemporaryDirectory() as folder:
        file = os.path.join(folder, "alphas.png")
        save_alpha_heatmap(
            last["alphas"], file,
            title=f"{label}: softmax weights after epoch {last['epoch']}",
        )
        with open(file, "rb") as f:
            heatmap = png_img(f.read(), f"{label} DARTS heatmap")
    decisions = list(last["alphas"])
    figure, axes_list = subplots(len(decisions), columns=3, width=4, height=2.8)
    for axes, decision in zip(axes_list, decisions):
        for op in last["alphas"][decision]:
            axes.plot([e["epoch"] for e in epochs],
                      [e["alphas"][decision].get(op, np.nan) for e in epochs],
                      marker="o", markersize=3, label=op)
        axes.set_title(decision, fontsize=9)
        axes.set_xlabel("epoch", fontsize=8)
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.grid(alpha=0.3)
    axes_list[0].legend(fontsize=7)
    return [heatmap, to_img(figure, f"{label} DARTS weights by epoch")]


def population_figure(view, size):
    """The population's fitness as the search went: best, median, worst.

    The population after trial `n` is taken as the `size` latest completed
    trials up to `n`, as regularized evolution keeps it (the other
    evolutionary strategies select from a population of the same size).

    Args:
        view: A `RunView`.
        size: The population size.

    Returns:
        An `<img>` tag.
    """
    objective = view.first
    scores = [view.value(t, objective) for t in view.completed]
    numbers = [view.number[t.trial_id] for t in view.completed]
    windows = [scores[max(0, i + 1 - size): i + 1] for i in range(len(scores))]
    figure, (axes,) = subplots(1, columns=1, width=8, height=3.8)
    axes.fill_between(numbers, [min(w) for w in windows], [max(w) for w in windows],
                      color="tab:blue", alpha=0.2, label="worst to best member")
    axes.plot(numbers, [float(np.median(w)) for w in windows], color="tab:blue",
              label="median member")
    axes.scatter(numbers, scores, s=12, color="tab:gray", label="trial")
    axes.set_xlabel("trial number")
    axes.set_ylabel(objective.name)
    axes.set_title(f"Population of {size}: fitness over the search")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return to_img(figure, "population fitness over time")


def predictions_figure(view, predictions):
    """The strategy's predicted score of each proposal against its measured one.

    Args:
        view: A `RunView`.
        predictions: `{trial_id: predicted score}` (the surrogate's or
            controller's own scale, so the ranks are what compare).

    Returns:
        `(img, correlation)`: an `<img>` tag and the Spearman rank
        correlation, `None` under three pairs.
    """
    objective = view.first
    pairs = [
        (predictions[t.trial_id], view.value(t, objective))
        for t in view.completed if t.trial_id in predictions
    ]
    predicted, measured = (np.array(p, dtype=float) for p in zip(*pairs))
    correlation = None
    if len(pairs) >= 3:
        ranks = [np.argsort(np.argsort(a)) for a in (predicted, measured)]
        correlation = float(np.corrcoef(*ranks)[0, 1])
    figure, (axes,) = subplots(1, columns=1, width=5.5, height=4.2)
    axes.scatter(predicted, measured, s=22)
    axes.set_xlabel("predicted score (strategy's scale)")
    axes.set_ylabel(f"measured {objective.name}")
    axes.set_title(f"Predicted against measured ({len(pairs)} proposals)")
    axes.grid(alpha=0.3)
    return to_img(figure, "predicted against measured"), correlation
