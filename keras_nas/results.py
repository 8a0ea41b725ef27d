"""Leaderboards of a search's trials."""

from keras_nas.engine.progress import format_architecture


def task_columns(task, objective):
    """The task's validation figures a leaderboard shows beside the objective.

    Regression shows `val_loss`, `val_mae`, `val_rmse` and `val_r2`, less
    the objective; classification shows `val_accuracy` and `val_loss` only
    when the objective is neither (so a classification leaderboard keeps
    its one score column).

    Args:
        task: A `keras_nas.tasks.Task`, or `None` for a custom space.
        objective: The search's `keras_tuner.Objective`.

    Returns:
        A list of metric names.
    """
    if task is None:
        return []
    names = [f"val_{name}" for name in ("loss", *task.metric_names)]
    if task.is_classification and objective.name in names:
        return []
    return [name for name in names if name != objective.name]


def leaderboard(trials, objective, describe, num_trials=10, columns=()):
    """Ranks completed trials by the objective.

    Args:
        trials: Iterable of `keras_tuner.engine.trial.Trial`.
        objective: The search's `keras_tuner.Objective`.
        describe: Function from a trial's values to its description dict
            (`{"decisions": ..., "arch_str": ...}`).
        num_trials: How many rows at most.
        columns: Further metric names to report per row (see
            `task_columns`).

    Returns:
        A list of dicts (rank, trial_id, score, params, description and
        `metrics`, the `columns` a trial has), best first.
    """
    completed = [t for t in trials if t.status == "COMPLETED"]
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
                "score": float(trial.score),
                "params": params,
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
        objective: The search's `keras_tuner.Objective`.

    Returns:
        The table as one string.
    """
    statuses = [t.status for t in trials]
    failed = statuses.count("FAILED") + statuses.count("INVALID")
    header = (
        f"Leaderboard: {objective.name} ({objective.direction}), "
        f"{statuses.count('COMPLETED')} completed, {failed} failed, "
        f"{len(statuses)} trials"
    )
    if not rows:
        return header + "\n(no completed trial)"
    width = max(len(objective.name), 8)
    columns = list(dict.fromkeys(name for row in rows for name in row["metrics"]))
    extra = "".join(f"{name:>{max(len(name), 8)}}  " for name in columns)
    lines = [
        header,
        f"{'rank':>4}  {'trial':>5}  {objective.name:>{width}}  {extra}"
        f"{'params':>9}  architecture",
    ]
    for row in rows:
        description = row["description"]
        arch = description.get("arch_str") or format_architecture(
            description["decisions"]
        )
        params = f"{row['params']:,}" if row["params"] is not None else "-"
        values = "".join(
            f"{_figure(row['metrics'].get(name)):>{max(len(name), 8)}}  "
            for name in columns
        )
        lines.append(
            f"{row['rank']:>4}  {row['trial_id']:>5}  "
            f"{row['score']:>{width}.4f}  {values}{params:>9}  {arch}"
        )
    return "\n".join(lines)


def _figure(value):
    return "-" if value is None else f"{value:.4f}"
