"""Leaderboards of a search's trials."""

from keras_nas.engine.progress import format_architecture


def leaderboard(trials, objective, describe, num_trials=10):
    """Ranks completed trials by the objective.

    Args:
        trials: Iterable of `keras_tuner.engine.trial.Trial`.
        objective: The search's `keras_tuner.Objective`.
        describe: Function from a trial's values to its description dict
            (`{"decisions": ..., "arch_str": ...}`).
        num_trials: How many rows at most.

    Returns:
        A list of dicts (rank, trial_id, score, params, description), best
        first.
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
    lines = [
        header,
        f"{'rank':>4}  {'trial':>5}  {objective.name:>{width}}  "
        f"{'params':>9}  architecture",
    ]
    for row in rows:
        description = row["description"]
        arch = description.get("arch_str") or format_architecture(
            description["decisions"]
        )
        params = f"{row['params']:,}" if row["params"] is not None else "-"
        lines.append(
            f"{row['rank']:>4}  {row['trial_id']:>5}  "
            f"{row['score']:>{width}.4f}  {params:>9}  {arch}"
        )
    return "\n".join(lines)
