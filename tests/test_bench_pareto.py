"""Benchmarks of several objectives: hypervolume regret, baselines, reports, CLI."""

import csv
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pytest
from click.testing import CliRunner
from keras_nas_cli.main import app

from keras_nas import bench
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.strategies import STRATEGIES
from keras_nas.spaces import MLP

OBJECTIVES = [kt.Objective("val_acc", "max"), kt.Objective("params", "min")]
SEARCHED = ["val_acc", "params"]

# (val_acc, params) of the 6 architectures, in enumeration order. Normalised
# and minimised (val_acc over [50, 90], params over [10, 100]): A (0, 50/90),
# B (0.25, 10/90), C (0.5, 30/90), D (0.75, 0), E (0.125, 40/90), F (1, 1).
# The front is A, B, D, E; C is dominated by B, F by all.
ROWS = {"A": (90, 60), "B": (80, 20), "C": (70, 40), "D": (60, 10),
        "E": (85, 50), "F": (50, 100)}
# Slabs along val_acc from A: widths 0.125, 0.125, 0.5, 0.35 under heights
# 1.1 - 50/90, 1.1 - 40/90, 1.1 - 10/90, 1.1 (in 90ths: 49, 59, 89, 99).
FRONT_VOLUME = (0.125 * 49 + 0.125 * 59 + 0.5 * 89 + 0.35 * 99) / 90


def tiny_mlp():
    return MLP(
        (4,), 3, min_layers=1, max_layers=2, widths=(4, 8),
        activations=("relu",), dropout_rates=(0.0,), batch_norm=(False,),
        skip_connections=False,
    )


def architectures():
    hp = kt.HyperParameters()
    tiny_mlp().declare_hyperparameters(hp)
    encoding = ArchitectureEncoding(hp)
    return [encoding.decode(vector) for vector in encoding.enumerate()]


def write_csv(path):
    columns = ["num_layers", "units_0", "activation_0", "dropout_0", "units_1",
               "activation_1", "dropout_1"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns + ["val_acc", "params", "test_acc"])
        for values, (acc, params) in zip(architectures(), ROWS.values()):
            writer.writerow([values.get(c, "") for c in columns]
                            + [acc, params, acc - 1])
    return str(path)


@pytest.fixture
def table(tmp_path):
    return bench.Table.from_csv(write_csv(tmp_path / "costs.csv"), space=tiny_mlp())


def row(table, letter):
    return table.architecture(list(ROWS).index(letter))


def test_scale_normalises_over_the_table_and_measures_its_front(table):
    scale = bench.HypervolumeScale.from_table(table, OBJECTIVES)
    assert scale.low == [50.0, 10.0] and scale.high == [90.0, 100.0]
    assert scale.front_size == 4
    assert scale.front_hypervolume == pytest.approx(FRONT_VOLUME)
    np.testing.assert_allclose(scale.normalise([[90, 60], [50, 100]]),
                               [[0.0, 50 / 90], [1.0, 1.0]])
    # Queries F, C, B, A (then the run stopped): each box is (1.1 - x) x (1.1 - y).
    search = [ROWS[k] for k in "FCBA"]
    # B's box holds C's; A adds the slab of val_acc [0, 0.25].
    volumes = [0.1 * 0.1, 0.6 * 69 / 90, 0.85 * 89 / 90, (0.25 * 49 + 0.85 * 89) / 90]
    expected = [100 * (1 - v / FRONT_VOLUME) for v in volumes]
    np.testing.assert_allclose(scale.regret_curve(search, 5),
                               expected + expected[-1:])
    # A failed query (nan) counts for nothing.
    np.testing.assert_allclose(scale.regret_curve([[np.nan, 1.0], ROWS["F"]], 2),
                               [100.0, expected[0]])


def test_run_oracle_scores_several_metrics_by_hypervolume_regret(table):
    run = bench.run_oracle(table, "grid", 10, seed=0, search_metric=SEARCHED)
    assert run.queries == 6 and run.search.shape == (6, 2) and len(run.report) == 0
    assert run.curve[-1] == 0.0 and run.pick == 0.0  # every row queried
    assert np.all(np.diff(run.curve) <= 0)
    with pytest.raises(ValueError, match="report_metric='test_acc'"):
        bench.run_oracle(table, "grid", 3, search_metric=SEARCHED,
                         report_metric="test_acc")
    with pytest.raises(ValueError, match="several objectives.*strategy='kt_random'"):
        bench.run_oracle(table, "kt_random", 3, search_metric=SEARCHED)
    with pytest.raises(ValueError, match="search_direction=\\['max'\\]"):
        bench.run_oracle(table, "grid", 3, search_metric=SEARCHED,
                         search_direction=["max"])
    with pytest.raises(ValueError, match="search_metric=\\['params', 'params'\\]"):
        bench.run_oracle(table, "grid", 3, search_metric=["params", "params"])
    with pytest.raises(ValueError, match="one objective.*strategy='optuna_motpe'"):
        bench.run_oracle(table, "optuna_motpe", 3)


@pytest.mark.parametrize("strategy", ["nsga2", "bayesian", "optuna_nsga2",
                                      "optuna_motpe"])
def test_multi_objective_strategies_query_the_whole_tiny_space(table, strategy):
    if strategy.startswith("optuna"):
        pytest.importorskip("optuna")
    run = bench.run_oracle(table, strategy, 20, seed=1, search_metric=SEARCHED)
    assert run.queries == 6 and run.repeated == 0 and run.curve[-1] == 0.0


def test_optuna_multi_objective_study_reloads(tmp_path):
    pytest.importorskip("optuna")
    hp = kt.HyperParameters()
    tiny_mlp().declare_hyperparameters(hp)

    def oracle(cls):
        made = cls(OBJECTIVES, max_trials=6, seed=1)
        made._set_project_dir(str(tmp_path), cls.__name__)
        made.verbose = 0
        made.update_space(hp.copy())
        return made

    for cls in (bench.OptunaTPEOracle, bench.OptunaNSGA2Oracle):
        first = oracle(cls)
        for letter in "AB":
            trial = first.create_trial("tuner0")
            values = dict(trial.hyperparameters.values)
            acc, params = ROWS["ABCDEF"[architectures().index(values)]]
            first.update_trial(trial.trial_id, {"val_acc": acc, "params": params})
            trial.status = "COMPLETED"
            first.end_trial(trial)
        first.save()
        second = oracle(cls)
        second.reload()
        told = [trial.values for trial in second.study.trials]
        assert told == [list(map(float, first.objective_values(t)))
                        for t in first.trials]
        assert second.study.directions[0].name == "MAXIMIZE"


def test_run_benchmark_of_several_metrics(table, tmp_path):
    optuna = ["optuna_nsga2", "optuna_motpe"] if bench.baselines.optuna_available() else []
    assert bench.comparison_baselines(several=True) == ["random"] + optuna
    folder = tmp_path / "runs"
    result = bench.run_benchmark(
        table, ["nsga2", "grid"], budget=4, repeats=2, search_metric=SEARCHED,
        results_dir=folder, command="keras-nas bench",
    )
    assert list(result.strategies) == ["nsga2", "grid", "random"] + optuna
    assert result.report_metric == "hv_regret" and result.report_direction == "min"
    assert result.search_metric == "val_acc,params"
    assert result.pareto["front_size"] == 4
    grid = result["grid"]
    np.testing.assert_allclose(grid.picks, [run.curve[-1] for run in grid.runs])
    np.testing.assert_allclose(grid.regret_curve, grid.mean_curve)
    text = bench.format_comparison(result)
    assert "Pareto front of val_acc (max), params (min): 4 architectures" in text
    assert "hv_regret mean ± std" in text and "reference point 1.1" in text
    assert [line.split()[0] for line in text.splitlines()[5:-1]] == [
        s.name for s in result.ranked()
    ]
    path = tmp_path / "result.json"
    bench.to_json(result, path)
    assert bench.format_comparison(bench.read_json(path)) == text
    again = bench.run_benchmark(
        table, ["nsga2", "grid"], budget=4, repeats=2, search_metric=SEARCHED,
        results_dir=folder, command="keras-nas bench",
    )
    for name in result.strategies:
        np.testing.assert_array_equal(again[name].curves, result[name].curves)
    pytest.importorskip("matplotlib")
    png = bench.save_regret_plot(result, tmp_path / "hv.png")
    assert Path(png).read_bytes()[:4] == b"\x89PNG"


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_bench_several_metrics(tmp_path):
    pytest.importorskip("optuna")
    path = write_csv(tmp_path / "costs.csv")
    common = ("bench", "--table", path, "--space", "test_bench_pareto:tiny_mlp",
              "--budget", 3, "--repeats", 2)
    result = invoke(*common, "--strategy", "nsga2",
                    "--search-metric", "val_acc,params:min")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "--search-metric val_acc:max,params:min" in lines[0]
    assert "--report-metric" not in lines[0]
    rows = {line.split()[0] for line in lines[5:-1]}
    assert rows == {"nsga2", "random", "optuna_nsga2", "optuna_motpe"}
    for args, option, message in [
        (("--report-metric", "test_acc"), "--report-metric", "hypervolume"),
        (("--strategy", "kt_bayesian"), "--strategy", "several objectives"),
        (("--search-metric", "val_acc,nope"), "--search-metric", "nope"),
        (("--search-metric", "val_acc,:min"), "--search-metric", "NAME"),
    ]:
        if "--search-metric" not in args:
            args += ("--search-metric", "val_acc:max,params:min")
        bad = invoke(*common, *args)
        assert bad.exit_code == 2, bad.output
        output = bad.output.strip().splitlines()
        assert len(output) == 1 and option in output[0] and message in output[0]
    single = invoke(*common, "--strategy", "grid", "--search-metric", "params:min",
                    "--report-metric", "test_acc")
    assert single.exit_code == 0, single.output
    assert "--search-metric params:min --report-metric test_acc" in single.stdout
    assert "search on params (min)" in single.stdout


def test_optuna_nsga2_has_the_population_of_our_nsga2():
    pytest.importorskip("optuna")
    for budget in (50, 100, 300):
        ours = STRATEGIES["nsga2"](OBJECTIVES, max_trials=budget).population_size
        theirs = bench.OptunaNSGA2Oracle(OBJECTIVES, max_trials=budget, seed=0)
        assert theirs.population_size == ours
