"""Leaderboards of a search's trials."""

import numpy as np

from keras_nas import compat
from keras_nas.formatting import format_architecture
from keras_nas.formatting import format_figure
from keras_nas.objectives import costs
from keras_nas.objectives import pareto
from keras_nas.oracles.early_stopping import EARLIER_EPOCHS
from keras_nas.oracles.early_stopping import STOPPED_EARLY
from keras_nas.oracles.early_stopping import curve_epochs
from keras_nas.oracles.early_stopping import epochs_trained


def task_columns(task, objective, extra=()):
    """The figures a leaderboard shows beside the (first) objective.

    The other objectives of a list objective; for regression `val_loss`,
    `val_mae`, `val_rmse` and `val_r2`; for classification `val_accuracy`
    and `val_loss` only when the objective is a figure of neither (so a
    classification leaderboard keeps its one score column); then `extra`,
    the columns asked for. The objective itself is never repeated.

    Args:
        task: A `keras_nas.tasks.Task`, or `None` for a custom space.
        objective: The search's `keras_tuner.Objective` (or list objective).
        extra: Further metric names (`val_f1`, `latency_ms`, ...).

    Returns:
        A list of metric names.
    """
    objectives = [o.name for o in compat.single_objectives(objective)]
    names = list(objectives[1:])
    if task is not None:
        figures = ["val_loss", "val_accuracy"] if task.is_classification else [
            f"val_{name}" for name in ("loss", *task.metric_names)
        ]
        if not (task.is_classification and objectives[0] in figures):
            names += figures
    names += list(extra)
    return [n for n in dict.fromkeys(names) if n != objectives[0] and n != "params"]


def leaderboard(trials, objective, describe, num_trials=10, columns=()):
    """Ranks completed trials by the objective, or by Pareto front.

    With several objectives (a list objective) the rows are the
    non-dominated fronts in turn (`front` 0 is the Pareto front), each by
    its first objective; `score` is then the first objective's value.

    Args:
        trials: Iterable of `keras_tuner.engine.trial.Trial`.
        objective: The search's `keras_tuner.Objective` (or list objective).
        describe: Function from a trial's values to its description dict
            (`{"decisions": ..., "arch_str": ...}`).
        num_trials: How many rows at most.
        columns: Further metric names to report per row (see
            `task_columns`).

    Returns:
        A list of dicts (rank, trial_id, score, front, params, `epochs`
        (the epochs it trained, `None` without per-epoch reports),
        `stopped_early`, description and `metrics`, the `columns` a trial
        has), best first; `front` is `None` with one objective.
    """
    objectives = compat.single_objectives(objective)
    completed = [t for t in trials if t.status == "COMPLETED"]
    fronts = {}
    if len(objectives) > 1:
        values = {t.trial_id: pareto.trial_values(t, objectives) for t in completed}
        completed = [t for t in completed if values[t.trial_id] is not None]
        if completed:
            ranks = pareto.non_dominated_ranks(
                np.array([values[t.trial_id] for t in completed]), objectives
            )
            fronts = {t.trial_id: int(r) for t, r in zip(completed, ranks)}
        sign = 1.0 if objectives[0].direction == "max" else -1.0
        scores = {t.trial_id: float(values[t.trial_id][0]) for t in completed}
        completed.sort(key=lambda t: (fronts[t.trial_id], -sign * scores[t.trial_id]))
    else:
        scores = {t.trial_id: float(t.score) for t in completed}
        completed.sort(key=lambda t: t.score, reverse=objective.direction == "max")
    rows = []
    for rank, trial in enumerate(completed[:num_trials], start=1):
        params = (
            int(trial.metrics.get_best_value("params"))
            if trial.metrics.exists("params")
            else None
        )
        rows.append(
            {
                "rank": rank,
                "trial_id": trial.trial_id,
                "score": scores[trial.trial_id],
                "front": fronts.get(trial.trial_id),
                "params": params,
                "epochs": curve_epochs(trial) or None,
                "stopped_early": trial.metrics.exists(STOPPED_EARLY),
                "metrics": {
                    name: float(trial.metrics.get_best_value(name))
                    for name in columns
                    if trial.metrics.exists(name)
                },
                "description": describe(trial.hyperparameters.values),
            }
        )
    return rows


def format_leaderboard(rows, trials, objective):
    """Formats leaderboard rows as a text table under a one-line header.

    Args:
        rows: The output of `leaderboard`.
        trials: All trials of the search, for the counts in the header.
        objective: The search's `keras_tuner.Objective` (or list objective).

    Returns:
        The table as one string.
    """
    objectives = compat.single_objectives(objective)
    statuses = [t.status for t in trials]
    infeasible = sum(map(costs.is_infeasible, trials))
    failed = statuses.count("FAILED") + statuses.count("INVALID") - infeasible
    ranked = ", ".join(f"{o.name} ({o.direction})" for o in objectives)
    several = len(objectives) > 1
    header = (
        f"Leaderboard: {'Pareto fronts of ' if several else ''}{ranked}, "
        f"{statuses.count('COMPLETED')} completed, {failed} failed, "
        + (f"{infeasible} infeasible, " if infeasible else "")
        + f"{len(statuses)} trials"
    )
    if several:
        front = sum(row["front"] == 0 for row in rows)
        header += f"; {front} on the front shown"
    if not rows:
        return header + "\n(no completed trial)"
    first = objectives[0].name
    width = max(len(first), 8)
    columns = list(dict.fromkeys(name for row in rows for name in row["metrics"]))
    extra = "".join(f"{name:>{max(len(name), 8)}}  " for name in columns)
    front_header = "front  " if several else ""
    show_epochs = any(row["epochs"] is not None for row in rows)
    stopped = any(row["stopped_early"] for row in rows)
    epochs_header = f"{'epochs':>6}  " if show_epochs else ""
    lines = [
        header,
        f"{'rank':>4}  {'trial':>5}  {front_header}{first:>{width}}  {extra}"
        f"{epochs_header}{'params':>9}  architecture",
    ]
    for row in rows:
        description = row["description"]
        arch = description.get("arch_str") or format_architecture(
            description["decisions"]
        )
        params = f"{row['params']:,}" if row["params"] is not None else "-"
        values = "".join(
            f"{format_figure(row['metrics'].get(name)):>{max(len(name), 8)}}  "
            for name in columns
        )
        front = f"{row['front']:>5}  " if several else ""
        epochs = ""
        if show_epochs:
            mark = "*" if row["stopped_early"] else ""
            epochs = f"{str(row['epochs'] or '-') + mark:>6}  "
        lines.append(
            f"{row['rank']:>4}  {row['trial_id']:>5}  {front}"
            f"{row['score']:>{width}.4f}  {values}{epochs}{params:>9}  {arch}"
        )
    if stopped:
        lines.append("* stopped early: its score is at the epochs shown, not at "
                     "the search's full epochs")
    return "\n".join(lines)


def epochs_summary(trials, max_trials, epochs):
    """One line: epochs trained in all, and their share of `max_trials x epochs`.

    Args:
        trials: The search's trials.
        max_trials: The trial budget.
        epochs: The epochs of one trial (`fit`'s `epochs`).
    """
    trained = sum(map(epochs_trained, trials))
    budget = max_trials * epochs
    stopped = sum(t.metrics.exists(STOPPED_EARLY) for t in trials)
    promoted = sum(
        t.metrics.exists(EARLIER_EPOCHS) and not t.metrics.exists(STOPPED_EARLY)
        for t in trials
    )
    share = f" ({100 * trained / budget:.0f}%)" if budget else ""
    early = f"; {stopped} trials stopped early" if stopped else ""
    if promoted:
        early += f", {promoted} trained on to the full epochs after being stopped"
    return (
        f"Epochs trained: {trained:,} of {max_trials} trials x {epochs} "
        f"epochs = {budget:,}{share}{early}"
    )
