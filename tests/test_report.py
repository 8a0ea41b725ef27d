"""`keras-nas report` / `keras_nas.report`: the HTML page of a run folder."""

import json
import os
import re
import shutil

import keras
import pytest
from cli_helpers import completed_trials
from cli_helpers import invoke
from cli_helpers import run_args
from cli_helpers import write_toy_npz

import keras_nas
from keras_nas.report import architecture
from keras_nas.report import decisions
from keras_nas.report import history
from keras_nas.report import strategy
from keras_nas.runs.run_directory import RunDirectory
from keras_nas.spaces.nb201 import from_arch_str

# Under pytest-xdist (--dist loadgroup) the whole file runs on one worker,
# so its expensive module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("report")


SECTIONS = ("Leaderboard", "Objective by trial and time", "Pareto fronts",
            "Learning curves", "Effect of each decision", "Best architecture",
            "Strategy")


def _search(folder, *extra):
    result = invoke(*run_args(folder, write_toy_npz(folder), "--max-trials", 3,
                              "--no-final-fit", "--ensemble", 1, *extra))
    assert result.exit_code == 0, result.output
    return folder / "runs" / "toy"


@pytest.fixture(scope="module")
def random_run(tmp_path_factory):
    return _search(tmp_path_factory.mktemp("random"))


@pytest.fixture(scope="module")
def q_learning_run(tmp_path_factory):
    return _search(tmp_path_factory.mktemp("q"), "--strategy", "q_learning",
                   "--objective", "val_accuracy,params")


def _images(page):
    return re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)


def _section(page, title):
    match = re.search(rf"<h2>{re.escape(title)}</h2>(.*?)</section>", page, re.S)
    assert match, f"no section {title!r}"
    return match.group(1)


def test_report_has_every_section_and_the_trials_numbers(random_run, tmp_path):
    path = keras_nas.report(random_run, tmp_path / "out")
    assert path == str(tmp_path / "out" / "report.html")
    page = open(path, encoding="utf-8").read()
    for title in SECTIONS:
        _section(page, title)
    board = _section(page, "Leaderboard")
    trials = completed_trials(random_run)
    assert len(trials) == 3
    for trial_id, trial in trials.items():
        assert f"<td>{trial['score']:.4f}</td>" in board
        params = trial["metrics"]["metrics"]["params"]["observations"][0]["value"][0]
        assert f"<td>{params:,.0f}</td>" in board or f"<td>{params:.4f}</td>" in board
    best = max(trials.values(), key=lambda t: t["score"])
    assert re.search(rf"<td>1</td><td>{best['trial_id']}</td><td>COMPLETED</td>", board)
    images = _images(page)
    for alt in ("val_accuracy by trial number and by time", "learning curves",
                "architecture diagram"):
        assert any(alt in image for image in images), (alt, images)
    assert any(image.startswith("Pareto fronts of val_accuracy against params")
               for image in images)
    assert "Omitted: the random strategy keeps no state" in _section(page, "Strategy")
    assert "<script" not in page and not re.search(r'src="https?:', page)


def test_report_of_q_learning_and_two_objectives(q_learning_run, tmp_path):
    page = open(keras_nas.report(q_learning_run, tmp_path), encoding="utf-8").read()
    assert "<th>front</th>" in _section(page, "Leaderboard")
    assert "Q-table heatmap" in _images(page)
    pareto = _section(page, "Pareto fronts")
    assert "The search&#x27;s objectives" in pareto and "<img" in pareto


def test_report_of_an_unfinished_run(random_run, tmp_path):
    run_dir = tmp_path / "unfinished"
    shutil.copytree(random_run, run_dir)
    for entry in os.listdir(run_dir):
        if entry.startswith("trial_") and entry != "trial_0":
            shutil.rmtree(run_dir / entry)
    trial_file = run_dir / "trial_0" / "trial.json"
    trial = json.loads(trial_file.read_text())
    trial["status"], trial["score"] = "RUNNING", None
    trial_file.write_text(json.dumps(trial))
    page = open(keras_nas.report(run_dir), encoding="utf-8").read()
    assert os.path.isfile(run_dir / "report.html")
    assert "0 completed" in page and "1 running" in page
    assert "No trial has completed yet." in _section(page, "Best architecture")
    assert '<tr class="running">' in _section(page, "Leaderboard")


def test_report_command_writes_the_page(random_run, tmp_path):
    result = invoke("report", random_run, "--out", tmp_path / "page")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "page" / "report.html").is_file()
    assert str(tmp_path / "page" / "report.html") in result.output


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "is not a folder"),
    (lambda p: p, "is not a keras-nas run folder"),
])
def test_report_command_refuses_bad_input(tmp_path, make, message):
    result = invoke("report", make(tmp_path), "--out", tmp_path / "page")
    assert result.exit_code == 2
    assert message in result.output and "RUN_DIR" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "page").exists()


def test_variance_shares_are_eta_squared():
    table = {"a": ["x", "x", "y", "y"], "b": ["p", "q", "p", "q"]}
    shares = decisions.variance_shares(table, [1.0, 1.0, 3.0, 3.0])
    assert shares == {"a": 1.0, "b": 0.0}
    shares = decisions.variance_shares(table, [1.0, 2.0, 3.0, 4.0])
    assert shares["a"] == pytest.approx(0.8) and shares["b"] == pytest.approx(0.2)
    assert decisions.variance_shares(table, [2.0] * 4) == {}


def test_layer_graph_finds_the_skip_connection():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(4, activation="relu")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Add()([inputs, hidden]))
    layers, edges = architecture.layer_graph(keras.Model(inputs, outputs))
    names = [label.split()[0] for _, label in layers]
    assert names == ["InputLayer", "Dense", "Add", "Dense"]
    assert sorted(edges) == [(0, 1), (0, 2), (1, 2), (2, 3)]
    assert "units=4, activation=relu" in layers[1][1]
    assert architecture.layers_figure(layers, edges, "t").startswith(
        '<img alt="architecture diagram"')


def test_cell_figure_draws_the_nb201_cell():
    values = from_arch_str("|nor_conv_3x3~0|+|none~0|skip_connect~1|+"
                           "|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert architecture.cell_figure(values, "cell").startswith(
        '<img alt="NB201 cell diagram"')


def test_darts_weights_are_read_from_every_search(random_run, tmp_path):
    run_dir = tmp_path / "darts"
    shutil.copytree(random_run, run_dir)

    def state(weight):
        return json.dumps({"history": [
            {"epoch": e, "logs": {}, "alphas": {
                "edge_1_0": {"none": weight, "skip_connect": 1 - weight}}}
            for e in (1, 2)
        ]})

    (run_dir / "darts_state.json").write_text(state(0.3))
    (run_dir / "darts_search_2").mkdir()
    (run_dir / "darts_search_2" / "darts_state.json").write_text(state(0.6))
    (run_dir / "darts_search_3").mkdir()  # Not begun: no state yet.
    searches = strategy.darts_searches(RunDirectory(run_dir))
    assert [s[0]["alphas"]["edge_1_0"]["none"] for s in searches] == [0.3, 0.6]
    images = strategy.darts_figures(searches[1], "search 2")
    assert [re.search(r'alt="([^"]+)"', i).group(1) for i in images] == [
        "search 2 DARTS heatmap", "search 2 DARTS weights by epoch"]
    _edit_json(run_dir / "search.json", lambda s: s.update(strategy="darts"))
    section = _section(open(keras_nas.report(run_dir), encoding="utf-8").read(),
                       "Strategy")
    assert section.count("DARTS heatmap") == 2

def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_early_stopped_trials_are_marked(random_run, tmp_path):
    run_dir = tmp_path / "stopped"
    shutil.copytree(random_run, run_dir)
    _edit_json(run_dir / "trial_1" / "trial.json", lambda t: t["metrics"]["metrics"].update(
        stopped_early={"direction": "max", "observations": [{"value": [1.0], "step": 0}]}))
    page = open(keras_nas.report(run_dir), encoding="utf-8").read()
    assert "<td>1 (stopped early)</td>" in _section(page, "Leaderboard")
    assert "Stopped early (dashed, ending in a cross): trials 1." in _section(
        page, "Learning curves")


def test_predicted_against_measured(random_run, tmp_path):
    run_dir = tmp_path / "predicted"
    shutil.copytree(random_run, run_dir)
    _edit_json(run_dir / "search.json", lambda s: s.update(strategy="bayesian"))
    scores = {t: v["score"] for t, v in completed_trials(run_dir).items()}
    _edit_json(run_dir / "oracle.json", lambda s: s.update(
        predictions={t: -score for t, score in scores.items()}))
    section = _section(open(keras_nas.report(run_dir), encoding="utf-8").read(),
                       "Strategy")
    assert "predicted against measured" in section
    assert "Spearman rank correlation -1.00." in section


def test_best_so_far_by_time_follows_the_end_times():
    # Trial 2 ended before trial 1 (two workers): its 0.9 leads from t=1.
    x, values, best = history.course([5.0, 1.0, 3.0], [0.5, 0.9, 0.7], "max")
    assert x.tolist() == [1.0, 3.0, 5.0]
    assert values.tolist() == [0.9, 0.7, 0.5]
    assert best.tolist() == [0.9, 0.9, 0.9]
    assert history.course([0, 1], [0.3, 0.2], "min")[2].tolist() == [0.3, 0.2]
