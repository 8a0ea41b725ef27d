"""`report(run_dir)`: one self-contained HTML page about a search."""

import html
import os

from keras_nas.formatting import first_line
from keras_nas.formatting import format_architecture
from keras_nas.formatting import format_figure
from keras_nas.oracles.early_stopping import STOPPED_EARLY
from keras_nas.report import architecture
from keras_nas.report import decisions
from keras_nas.report import history
from keras_nas.report import strategy
from keras_nas.report.trials import RunView
from keras_nas.oracles.early_stopping import curve_epochs
from keras_nas.runs.leaderboard import task_columns
from keras_nas.runs.run_directory import RunDirectory

REPORT_FILE = "report.html"
TOP_CURVES = 5
"""Trials whose learning curves are drawn."""

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; }
td.text { text-align: left; max-width: 420px; overflow-wrap: anywhere; }
tr.failed { background: #fdecec; } tr.running { background: #fff8e1; }
p.note { color: #666; font-style: italic; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
"""


def report(run_dir, out=None):
    """Writes an HTML report of a run folder, finished or not.

    The page holds the leaderboard, the objective by trial and by time, the
    Pareto fronts against the other objectives and the costs, the top
    trials' learning curves, each decision's effect and importance, a
    diagram of the best architecture and the strategy's own view (Q-table,
    DARTS weights, population, predictions); a section that does not apply
    says why in one line. The images are embedded, so the file is all
    there is: it loads nothing from the network.

    Args:
        run_dir: The run folder (`directory/project_name`).
        out: The folder to write `report.html` to; `None` for `run_dir`.

    Returns:
        The path of the page written.

    Raises:
        ValueError: If `run_dir` is not a keras-nas run folder.

    Example:

    ```python
    path = keras_nas.report("runs/digits-mlp-random")
    ```
    """
    run = RunDirectory(run_dir)
    view = RunView(run)
    rows = run.leaderboard(len(run.trials), task_columns(run.task, run.objective))
    sections = [
        ("Leaderboard", leaderboard_section(view, rows)),
        ("Objective by trial and time", history_section(view)),
        ("Pareto fronts", pareto_section(view)),
        ("Learning curves", curves_section(view, rows)),
        ("Effect of each decision", decisions_section(view)),
        ("Best architecture", architecture_section(view, rows)),
        ("Strategy", strategy_section(view)),
    ]
    out = run.path if out is None else str(out)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, REPORT_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.write(_page(view, sections))
    return path


def note(text):
    """A section's one-line note (why it is empty, or how to read it)."""
    return f'<p class="note">{html.escape(text)}</p>'


def leaderboard_section(view, rows):
    """Every trial: rank, status, objectives, task metrics, costs, epochs, reason."""
    if not view.trials:
        return note("No trial has started yet.")
    ranked = {row["trial_id"]: row for row in rows}
    missing = view.run.missing_checkpoints()
    warning = "" if not missing else note(
        f"The weights of trial(s) {', '.join(missing)} are missing from "
        f"{view.run.path}: those trials cannot be exported."
    ) + "\n"
    metrics = [o.name for o in view.objectives]
    metrics += [n for n in task_columns(view.run.task, view.run.objective)
                if n not in metrics]
    metrics += [o.name for o in view.cost_objectives() if o.name not in metrics]
    order = sorted(view.trials, key=lambda t: (
        ranked[t.trial_id]["rank"] if t.trial_id in ranked else len(rows) + 1,
        view.number[t.trial_id],
    ))
    front = any(row["front"] is not None for row in rows)
    head = ["rank", "trial", "status"] + (["front"] if front else []) + metrics + [
        "epochs", "architecture", "reason"
    ]
    lines = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
             + "</tr>"]
    for trial in order:
        row = ranked.get(trial.trial_id)
        cells = [row["rank"] if row else "-", trial.trial_id, trial.status]
        if front:
            cells.append(row["front"] if row else "-")
        cells += [format_figure(_best(trial, name, view)) for name in metrics]
        epochs = curve_epochs(trial)
        cells.append(f"{epochs} (stopped early)" if trial.metrics.exists(STOPPED_EARLY)
                     else epochs)
        status = trial.status.lower()
        text = [format_architecture(_decisions(view, trial), limit=1000),
                first_line(trial.message) if trial.message else ""]
        lines.append(
            f'<tr class="{status}">'
            + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
            + "".join(f'<td class="text">{html.escape(t)}</td>' for t in text)
            + "</tr>"
        )
    lines.append("</table>")
    return warning + "\n".join(lines)


def _best(trial, name, view):
    objective = next((o for o in view.objectives + view.cost_objectives()
                      if o.name == name), None)
    if objective is not None:
        return view.value(trial, objective)
    return trial.metrics.get_best_value(name) if trial.metrics.exists(name) else None


def _decisions(view, trial):
    description = view.run.describe(trial.hyperparameters.values)
    return ({"arch_str": description["arch_str"]} if "arch_str" in description
            else description["decisions"])


def history_section(view):
    if not view.completed:
        return note("No trial has completed yet.")
    return history.history_figure(view)


def pareto_section(view):
    others = view.cost_objectives()
    if not view.completed or not others:
        return note("Omitted: one objective and no cost recorded.")
    several = len(view.objectives) > 1
    return note(
        ("The search's objectives" if several else "The objective")
        + " against each further objective and cost recorded; red: the trials "
        "no other trial beats on both."
    ) + history.pareto_figure(view, others)


def curves_section(view, rows):
    if not rows:
        return note("No trial has completed yet.")
    img, stopped = history.curves_figure(view, rows[:TOP_CURVES])
    marked = (f" Stopped early (dashed, ending in a cross): trials "
              f"{', '.join(stopped)}." if stopped else " No trial shown stopped early.")
    return note(f"Per-epoch {view.epoch_metric().name}." + marked) + img


def decisions_section(view):
    table = decisions.decision_table(view)
    if len(view.completed) < 2 or not table:
        return note("Omitted: fewer than two completed trials, or no decision "
                    "that took two values.")
    scores = [view.value(t, view.first) for t in view.completed]
    shares = decisions.variance_shares(table, scores)
    parts = [decisions.effects_figure(view, table, scores)]
    if len(view.completed) >= 3 and shares:
        parts.append(note(
            f"Importance: the share of {view.first.name}'s variance over "
            f"{len(scores)} completed trials that each decision's value "
            "explains alone (eta squared, fANOVA's main effect); few trials "
            "make it noisy."
        ))
        parts.append(decisions.importance_figure(shares))
    else:
        parts.append(note("Importance omitted: it needs three completed trials "
                          "whose objective varies."))
    return "\n".join(parts)


def architecture_section(view, rows):
    if not rows:
        return note("No trial has completed yet.")
    best = rows[0]
    trial = next(t for t in view.trials if t.trial_id == best["trial_id"])
    title = f"Trial {best['trial_id']}, {view.first.name} {best['score']:.4f}"
    description = best["description"]
    if "arch_str" in description:
        values = view.run.space.describe(trial.hyperparameters.values)["decisions"]
        return (f"<p><code>{html.escape(description['arch_str'])}</code></p>"
                + architecture.cell_figure(values, title))
    if view.run.space is None:
        return note("Omitted: the run's space is not a built-in one, so its "
                    "model cannot be rebuilt here.")
    import keras

    model = view.run.space.build_architecture(trial.hyperparameters.values)
    layers, edges = architecture.layer_graph(model)
    keras.backend.clear_session()
    return architecture.layers_figure(layers, edges, title)


def strategy_section(view):
    name = view.run.search.get("strategy")
    state = view.run.oracle_state() or {}
    if name == "q_learning" and state.get("q_table"):
        return note("Q values of each state's actions (MetaQNN's table); blank: "
                    "not an action of that state.") + strategy.q_table_figure(
                        strategy.saved_oracle(view.run).q_table())
    if name == "darts":
        searches = strategy.darts_searches(view.run)
        if searches:
            return "\n".join(
                img for k, epochs in enumerate(searches)
                for img in strategy.darts_figures(epochs, f"search {k + 1}")
            )
    if name in strategy.EVOLUTIONARY and view.completed:
        # A full population's size is exact; before it fills, the window
        # holds every trial whatever the size.
        members = state.get("population")
        size = (len(members) if members and len(view.completed) > len(members)
                else strategy.saved_oracle(view.run).population_size)
        return strategy.population_figure(view, size)
    if name in ("dls", "bayesian"):
        predictions = state.get(strategy.PREDICTIONS) or {}
        if any(t.trial_id in predictions for t in view.completed):
            img, correlation = strategy.predictions_figure(view, predictions)
            text = "" if correlation is None else (
                f" Spearman rank correlation {correlation:.2f}.")
            return note("Proposals the strategy scored before training; the "
                        "first, random ones have no prediction." + text) + img
        return note(f"Omitted: {name} has made no prediction yet (its first "
                    "proposals are random).")
    return note(f"Omitted: the {name} strategy keeps no state to draw.")


def _page(view, sections):
    search = view.run.search
    objectives = ", ".join(f"{o.name} ({o.direction})" for o in view.objectives)
    statuses = [t.status for t in view.trials]
    summary = (
        f"{search.get('strategy')} on {search.get('space')}, {objectives}: "
        f"{statuses.count('COMPLETED')} completed, "
        f"{statuses.count('FAILED') + statuses.count('INVALID')} failed, "
        f"{statuses.count('RUNNING')} running, of up to {search.get('max_trials')} trials"
    )
    body = "\n".join(
        f'<section id="{title.lower().replace(" ", "-")}"><h2>{html.escape(title)}'
        f"</h2>\n{content}</section>"
        for title, content in sections
    )
    title = f"keras-nas report: {os.path.basename(view.run.path.rstrip(os.sep))}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(summary)}</p>\n"
        f"{body}\n</body></html>\n"
    )
