"""Tests for keras_nas.bench: tables, runs without training, reports, CLI."""

import csv
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pytest
from bench_helpers import NB201_CSV
from click.testing import CliRunner
from keras_nas_cli.main import app

from keras_nas import bench
from keras_nas.bench.optuna_oracle import optuna_distribution
from keras_nas.bench.parallel import THREAD_VARIABLES
from keras_nas.bench.parallel import worker_threads_limited
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.strategies import STRATEGIES
from keras_nas.spaces import MLP
from keras_nas.spaces import NB201Cell


pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def tiny_mlp():
    """6 architectures: 2 of one layer, 4 of two."""
    return MLP(
        (4,), 3, min_layers=1, max_layers=2, widths=(4, 8),
        activations=("relu",), dropout_rates=(0.0,), batch_norm=(False,),
        skip_connections=False,
    )


def score(values):
    """A deterministic number in [0, 1) per architecture."""
    text = json.dumps(values, sort_keys=True)
    return zlib.crc32(text.encode()) / 2**32


def tiny_architectures():
    hp = kt.HyperParameters()
    tiny_mlp().declare_hyperparameters(hp)
    encoding = ArchitectureEncoding(hp)
    return [encoding.decode(vector) for vector in encoding.enumerate()]


COLUMNS = ["arch_index", "num_layers", "units_0", "activation_0", "dropout_0",
           "units_1", "activation_1", "dropout_1", "note", "val_acc",
           "test_acc", "val_loss"]


def write_tiny_csv(path, skip=()):
    """A generic table of `tiny_mlp`: one column per decision, 3 metrics."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for index, values in enumerate(tiny_architectures()):
            if index in skip:
                continue
            val = round(60 + 30 * score(values), 3)
            cells = [values.get(name, "") for name in COLUMNS[1:8]]
            writer.writerow([index, *cells, f"arch {index}", val,
                             round(val - 1 + score([values]), 3),
                             round(1 - val / 100, 4)])
    return str(path)


@pytest.fixture(scope="module")
def nb201_table():
    return bench.Table.from_csv(NB201_CSV)


@pytest.fixture
def tiny_table(tmp_path):
    return bench.Table.from_csv(write_tiny_csv(tmp_path / "tiny.csv"),
                                space=tiny_mlp())


def nb201_row(index):
    with open(NB201_CSV) as f:
        for row in csv.DictReader(f):
            if int(row["arch_index"]) == index:
                return row
    raise AssertionError(index)


# ------------------------------------------------------------------ tables


def test_nb201_table_reads_the_real_csv(nb201_table):
    table = nb201_table
    assert len(table) == 15625 and table.skipped == 0
    assert table.metric_names == ("val_acc", "test_acc")  # not arch_index
    assert table.best("val_acc") == (84.892, 13714)
    assert table.best("test_acc") == (89.16, 5374)
    values = NB201Cell((32, 32, 3), 10).from_arch_str(nb201_row(13714)["arch_str"])
    assert table.lookup(values) == {"val_acc": 84.892, "test_acc": 89.03}
    assert table.architecture(13714) == values
    # Order, NumPy strings and stray inactive keys do not matter.
    reordered = {k: np.str_(v) for k, v in reversed(list(values.items()))}
    assert table.lookup({**reordered, "unused": 3})["test_acc"] == 89.03
    assert table.structure.kind == "cell"


def test_nb201_table_restricted_space_skips_rows(tmp_path):
    path = tmp_path / "part.csv"
    with open(NB201_CSV) as src, open(path, "w") as dst:
        dst.writelines(line for _, line in zip(range(400), src))
    space = NB201Cell((8, 8, 1), 3, operations=("none", "skip_connect",
                                                 "nor_conv_1x1", "nor_conv_3x3"))
    with pytest.raises(ValueError, match="skip_outside=True"):
        bench.Table.from_csv(path, space=space)
    table = bench.Table.from_csv(path, space=space, skip_outside=True)
    assert 0 < len(table) < 399 and table.skipped == 399 - len(table)


def test_generic_table_parses_values_to_the_space_types(tiny_table):
    assert len(tiny_table) == 6
    assert tiny_table.metric_names == ("val_acc", "test_acc", "val_loss")
    two = {"num_layers": 2, "units_0": 8, "activation_0": "relu",
           "dropout_0": 0.0, "batch_norm_0": False, "units_1": 4,
           "activation_1": "relu", "dropout_1": 0.0, "batch_norm_1": False}
    assert tiny_table.architecture(tiny_table.row(two)) == two
    for row in range(len(tiny_table)):
        values = tiny_table.architecture(row)
        assert type(values["num_layers"]) is int
        assert type(values["units_0"]) is int
        assert type(values["dropout_0"]) is float
        assert values["batch_norm_0"] is False  # Fixed, no column needed
    # Floats, NumPy ints: still the same architecture.
    assert tiny_table.lookup({**two, "units_0": np.int64(8), "num_layers": 2.0})
    one = {"num_layers": 1, "units_0": 4, "units_1": 8}  # units_1 inactive
    assert tiny_table.key(one) == tiny_table.key({"num_layers": 1, "units_0": 4})


def test_table_errors_name_what_is_wrong(tmp_path, tiny_table):
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        bench.Table.from_csv(tmp_path / "missing.csv")
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no usable columns"):
        bench.Table.from_csv(odd)
    odd.write_text("num_layers,val_acc\n1,2\n")
    with pytest.raises(ValueError, match="hyperparameters .*'units_0'"):
        bench.Table.from_csv(odd, space=tiny_mlp())
    odd.write_text("arch_str,note\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,x\n")
    with pytest.raises(ValueError, match="no numeric metric"):
        bench.Table.from_csv(odd)
    with pytest.raises(ValueError, match="search_metric='nope'"):
        tiny_table.check_metric("nope", "search_metric")
    with pytest.raises(ValueError, match="`metrics`"):
        bench.Table.from_csv(write_tiny_csv(tmp_path / "t.csv"),
                             space=tiny_mlp(), metrics=["note"])
    with pytest.raises(bench.ArchitectureNotInTable, match="units_0': 16"):
        tiny_table.lookup({"num_layers": 1, "units_0": 16})
    bad = tmp_path / "bad.csv"
    rows = Path(write_tiny_csv(tmp_path / "b.csv")).read_text()
    bad.write_text(rows.replace(",4,relu", ",5,relu", 1))
    with pytest.raises(ValueError, match=r"Line 2 .*units_0=.*'5'"):
        bench.Table.from_csv(bad, space=tiny_mlp())


def test_duplicate_rows_are_refused(tmp_path):
    path = write_tiny_csv(tmp_path / "dup.csv")
    lines = Path(path).read_text().splitlines()
    with open(path, "a") as f:
        f.write(lines[1] + "\n")
    with pytest.raises(ValueError, match="same architecture"):
        bench.Table.from_csv(path, space=tiny_mlp())


def test_partial_table_missing_policy(tmp_path):
    table = bench.Table.from_csv(
        write_tiny_csv(tmp_path / "part.csv", skip=(0, 3)), space=tiny_mlp()
    )
    assert len(table) == 4
    with pytest.raises(bench.ArchitectureNotInTable, match="missing='fail'"):
        bench.run_oracle(table, "grid", 6, search_metric="val_acc",
                         report_metric="test_acc")
    run = bench.run_oracle(table, "grid", 6, search_metric="val_acc",
                           report_metric="test_acc", missing="fail")
    assert run.queries == 6
    assert np.isnan(run.search[[0, 3]]).all()
    assert not np.isnan(run.search[[1, 2, 4, 5]]).any()
    assert not np.isnan(run.curve[1:]).any()


# ------------------------------------------------------------------- runs


def test_pick_curve_best_so_far_first_of_ties():
    search = [1.0, 3.0, 3.0, np.nan, 2.0, 5.0]
    report = [10, 30, 31, 99, 20, 50]
    np.testing.assert_array_equal(
        bench.pick_curve(search, report, "max", budget=8),
        [10, 30, 30, 30, 30, 50, 50, 50],
    )
    np.testing.assert_array_equal(
        bench.pick_curve(search, report, "min"), [10, 10, 10, 10, 10, 10]
    )
    assert np.isnan(bench.pick_curve([np.nan], [1.0], "max")).all()


def test_run_oracle_reports_the_pick(nb201_table):
    run = bench.run_oracle(nb201_table, "random", 30, seed=0,
                           search_metric="val_acc", report_metric="test_acc")
    assert run.strategy == "random" and run.seed == 0
    assert run.queries == len(run.search) == 30 and run.repeated == 0
    picked_search = []
    for k in range(30):
        best = int(np.argmax(run.search[: k + 1]))  # first of ties
        assert run.curve[k] == run.report[best]
        picked_search.append(run.search[best])
    assert np.all(np.diff(picked_search) >= 0)


def test_run_oracle_validates_arguments(tiny_table):
    with pytest.raises(ValueError, match="budget=0"):
        bench.run_oracle(tiny_table, "random", 0)
    with pytest.raises(ValueError, match="seed=-1"):
        bench.run_oracle(tiny_table, "random", 3, seed=-1)
    with pytest.raises(ValueError, match="report_metric='acc'"):
        bench.run_oracle(tiny_table, "random", 3, report_metric="acc")
    with pytest.raises(ValueError, match="strategy='nope'"):
        bench.run_oracle(tiny_table, "nope", 3)
    with pytest.raises(ValueError, match="missing='skip'"):
        bench.run_oracle(tiny_table, "random", 3, missing="skip")


@pytest.mark.parametrize("strategy", ["random", "kt_random", "optuna_tpe"])
def test_seeded_runs_are_reproducible(nb201_table, strategy):
    if strategy == "optuna_tpe":
        pytest.importorskip("optuna")

    def run(seed):
        return bench.run_oracle(nb201_table, strategy, 12, seed=seed,
                                search_metric="val_acc", report_metric="test_acc")

    first, again, other = run(0), run(0), run(1)  # seed 0 is a seed
    np.testing.assert_array_equal(first.search, again.search)
    np.testing.assert_array_equal(first.curve, again.curve)
    assert not np.array_equal(first.search, other.search)


def test_custom_factory_and_min_direction(tiny_table):
    def make(objective, max_trials, seed):
        return kt.oracles.RandomSearchOracle(objective, max_trials, seed=seed + 1)

    run = bench.run_oracle(tiny_table, make, 4, seed=2, search_metric="val_loss",
                           report_metric="test_acc")
    assert run.strategy == "make" and run.queries == 4
    best = int(np.argmin(run.search))
    assert run.curve[-1] == run.report[best]


# -------------------------------------------------------------- baselines


def test_strategy_names_and_comparison():
    names = bench.strategy_names()
    assert names[:3] == ["kt_random", "kt_bayesian", "optuna_tpe"]
    tabular = {n for n, cls in STRATEGIES.items() if not cls.needs_training_data}
    assert tabular <= set(names)
    assert bench.comparison_strategies(["random", "grid"])[:2] == [
        "random", "grid"
    ]
    compared = bench.comparison_strategies(["kt_random", "grid", "grid"])
    assert compared[:3] == ["kt_random", "grid", "random"]
    assert "kt_bayesian" not in compared
    assert len(compared) == len(set(compared))
    with pytest.raises(ValueError, match="strategy='nope'") as info:
        bench.comparison_strategies(["nope"])
    assert "kt_bayesian" in str(info.value) and "random" in str(info.value)


@pytest.mark.parametrize(
    "strategy", ["random", "grid", "kt_random", "kt_bayesian", "optuna_tpe"]
)
def test_each_strategy_runs_a_few_queries(tiny_table, strategy):
    if strategy == "optuna_tpe":
        pytest.importorskip("optuna")
    oracle = bench.make_oracle(strategy, "val_acc", 4, seed=0,
                               hyperparameters=tiny_table.hyperparameters)
    assert isinstance(oracle, kt.Oracle)
    assert oracle.seed == (bench.kerastuner_seed(0) if strategy.startswith("kt_")
                           else 0)
    run = bench.run_oracle(tiny_table, strategy, 4, seed=0,
                           search_metric="val_acc", report_metric="test_acc")
    assert run.queries == 4
    assert not np.isnan(run.curve).any()


def test_kerastuner_seeds_are_spread():
    """KerasTuner's seed s + 1 would replay seed s's values shifted by one."""
    seeds = [bench.kerastuner_seed(s) for s in range(200)]
    assert len(set(seeds)) == 200
    assert all(1 <= s < 2**31 for s in seeds)
    assert min(abs(a - b) for a in seeds for b in seeds if a != b) > 10_000
    oracle = bench.make_oracle("kt_random", "val_acc", 5, seed=0)
    assert oracle.seed == seeds[0]
    assert bench.kerastuner_seed(None) is None


def test_kt_bayesian_defaults_follow_the_budget(nb201_table):
    hp = nb201_table.hyperparameters
    assert bench.make_oracle("kt_bayesian", "val_acc", 100, 1, hp).num_initial_points == 18
    assert bench.make_oracle("kt_bayesian", "val_acc", 20, 1, hp).num_initial_points == 5
    assert bench.make_oracle("kt_bayesian", "val_acc", 4, 1, hp).num_initial_points == 2


def test_kt_bayesian_without_scikit_learn(monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sklearn" else
                        find_spec(name, *a))
    with pytest.raises(ImportError, match=r'pip install "keras-nas\[bench\]"'):
        bench.make_oracle("kt_bayesian", "val_acc", 10, 0)


# ------------------------------------------------------------ Optuna TPE


def test_optuna_tpe_never_repeats_on_a_tiny_space(tiny_table):
    pytest.importorskip("optuna")
    run = bench.run_oracle(tiny_table, "optuna_tpe", 20, seed=3,
                           search_metric="val_acc", report_metric="test_acc")
    assert run.queries == 6 and run.repeated == 0  # all 6, then stopped
    assert run.curve[-1] == tiny_table.lookup(
        tiny_table.architecture(tiny_table.best("val_acc")[1]))["test_acc"]


def test_optuna_tpe_draws_untried_architectures_when_tpe_repeats(tiny_table):
    pytest.importorskip("optuna")

    def impatient(objective, max_trials, seed):
        return bench.OptunaTPEOracle(objective, max_trials, seed=seed,
                                     n_startup_trials=1, max_collisions=1)

    run = bench.run_oracle(tiny_table, impatient, 20, seed=0,
                           search_metric="val_acc", report_metric="test_acc")
    assert run.queries == 6 and run.repeated == 0


def test_optuna_distributions_follow_the_hyperparameters():
    optuna = pytest.importorskip("optuna")
    dists = optuna.distributions
    hp = kt.HyperParameters()
    hp.Choice("c", ["a", "b"])
    hp.Boolean("b")
    hp.Int("i", 8, 30, step=8)
    hp.Int("l", 8, 32, step=2, sampling="log")
    hp.Float("f", 1e-4, 1e-1, sampling="log")
    hp.Float("s", 0, 1, step=0.25)
    hp.Float("t", 0, 1, step=0.3)
    mapped = {p.name: optuna_distribution(p) for p in hp.space}
    assert mapped["c"] == dists.CategoricalDistribution(["a", "b"])
    assert mapped["b"] == dists.CategoricalDistribution([False, True])
    assert mapped["i"] == dists.IntDistribution(8, 24, step=8)
    assert mapped["l"] == dists.CategoricalDistribution([8, 16, 32])
    assert mapped["f"] == dists.FloatDistribution(1e-4, 1e-1, log=True)
    assert mapped["s"] == dists.FloatDistribution(0.0, 1.0, step=0.25)
    # fmod(0.9, 0.3) is not 0: Optuna would cut the range to [0, 0.6].
    assert mapped["t"] == dists.CategoricalDistribution([0.0, 0.3, 0.6, 0.9])


def test_optuna_tpe_honours_conditions_and_reloads(tmp_path):
    pytest.importorskip("optuna")
    hp = kt.HyperParameters()
    tiny_mlp().declare_hyperparameters(hp)
    objective = kt.Objective("val_acc", "max")

    def oracle():
        made = bench.OptunaTPEOracle(objective, max_trials=6, seed=1,
                                     n_startup_trials=2)
        made._set_project_dir(str(tmp_path), "tpe")
        made.verbose = 0
        made.update_space(hp.copy())
        return made

    def drive(tpe, count):
        proposals = []
        for _ in range(count):
            trial = tpe.create_trial("tuner0")
            if trial.status == "STOPPED":
                break
            values = dict(trial.hyperparameters.values)
            assert ("units_1" in values) == (values["num_layers"] == 2)
            proposals.append(values)
            tpe.update_trial(trial.trial_id, {"val_acc": score(values)})
            trial.status = "COMPLETED"
            tpe.end_trial(trial)
        return proposals

    first = oracle()
    before = drive(first, 3)
    first.save()
    json.dumps(first.get_state())  # JSON-safe
    second = oracle()
    second.reload()
    assert len(second.study.trials) == 3  # rebuilt from the finished trials
    # ... in the order they started, whatever order the files are listed in.
    rebuilt = [trial.params for trial in second.study.trials]
    assert rebuilt == [{k: v[k] for k in params} for v, params in zip(before, rebuilt)]
    after = drive(second, 10)
    keys = [json.dumps(v, sort_keys=True) for v in before + after]
    assert len(keys) == 6 == len(set(keys))


# ----------------------------------------------------- benchmarks, reports


def test_run_benchmark_statistics_json_and_plot(tiny_table, tmp_path):
    progress = []
    result = bench.run_benchmark(
        tiny_table, ["random", "grid"], budget=3, repeats=3, seed=5,
        baselines=False, progress=lambda s, t: progress.append(s.name),
        command="keras-nas bench --table tiny.csv",
    )
    assert list(result.strategies) == progress == ["random", "grid"]
    best, _ = tiny_table.best("test_acc")
    assert result.best_report == best
    random = result["random"]
    assert random.seeds == [5, 6, 7]
    picks = random.picks
    assert random.mean == pytest.approx(picks.mean())
    assert random.std == pytest.approx(picks.std(ddof=1))
    assert random.sem == pytest.approx(picks.std(ddof=1) / np.sqrt(3))
    np.testing.assert_allclose(random.regret_curve, best - random.mean_curve)
    assert random.final_regret == pytest.approx(best - random.mean)
    assert result["grid"].std == 0.0  # a grid ignores its seed

    text = bench.format_comparison(result)
    assert text.splitlines()[0] == "$ keras-nas bench --table tiny.csv"
    assert "test_acc mean ± std" in text and "vs random" in text
    assert "val_acc (max)" in text

    path = tmp_path / "result.json"
    bench.to_json(result, path)
    loaded = bench.read_json(path)
    assert bench.format_comparison(loaded) == text

    pytest.importorskip("matplotlib")
    png = bench.save_regret_plot(result, tmp_path / "regret.png")
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_dir_resumes_an_interrupted_benchmark(tiny_table, tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    first = bench.run_benchmark(tiny_table, ["random"], budget=3, repeats=2,
                                seed=5, baselines=False, results_dir=folder)
    assert sorted(p.name for p in folder.iterdir()) == ["random-5.json", "random-6.json"]
    (folder / "random-6.json").unlink()  # as if stopped before seed 6 ended

    from keras_nas.bench import parallel

    ran = []
    original = parallel._run_task
    monkeypatch.setattr(parallel, "_run_task",
                        lambda task, table=None: ran.append(task[3]) or original(task, table))
    again = bench.run_benchmark(tiny_table, ["random"], budget=3, repeats=2,
                                seed=5, baselines=False, results_dir=folder)
    assert ran == [6]
    for old, new in zip(first["random"].runs, again["random"].runs):
        assert old.seed == new.seed
        np.testing.assert_array_equal(old.report, new.report)
        np.testing.assert_array_equal(old.curve, new.curve)
    assert again["random"].mean == first["random"].mean

    with pytest.raises(ValueError, match="results_dir"):
        bench.run_benchmark(tiny_table, ["random"], budget=2, repeats=2,
                            seed=5, baselines=False, results_dir=folder)


def test_default_metrics(tmp_path, tiny_table):
    assert bench.default_metrics(tiny_table) == ("val_acc", "test_acc")
    assert bench.default_metrics(tiny_table, "val_loss") == ("val_loss", "test_acc")
    path = tmp_path / "other.csv"
    path.write_text(
        "arch_str,valid_accuracy,latency_ms\n"
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10.0,1.5\n"
    )
    other = bench.Table.from_csv(path)
    assert bench.default_metrics(other) == ("valid_accuracy", "valid_accuracy")
    path.write_text(
        "arch_str,top1,latency_ms\n"
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10.0,1.5\n"
    )
    with pytest.raises(ValueError, match="`search_metric`.*'top1'"):
        bench.default_metrics(bench.Table.from_csv(path))
    assert bench.results.infer_direction("latency_ms") == "min"
    assert bench.results.infer_direction("top1") == "max"


def test_run_benchmark_validates_arguments(tiny_table):
    for name, value in (("budget", 0), ("repeats", -1), ("jobs", 0)):
        with pytest.raises(ValueError, match=f"{name}={value}"):
            bench.run_benchmark(tiny_table, **{name: value})
    with pytest.raises(ValueError, match="search_direction='up'"):
        bench.run_benchmark(tiny_table, search_direction="up")


# -------------------------------------------------------------------- CLI


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def write_tiny_space_module(path):
    """A module whose `space()` returns `tiny_mlp()`, for `--space`."""
    path.write_text(
        "from keras_nas.spaces import MLP\n\n"
        "def space():\n"
        "    return MLP((4,), 3, min_layers=1, max_layers=2, widths=(4, 8),\n"
        "               activations=('relu',), dropout_rates=(0.0,),\n"
        "               batch_norm=(False,), skip_connections=False)\n"
    )


def test_cli_bench_prints_the_comparison(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    pytest.importorskip("matplotlib")
    table = write_tiny_csv(tmp_path / "tiny.csv")
    write_tiny_space_module(tmp_path / "tiny_bench_space.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    png, saved = tmp_path / "regret.png", tmp_path / "result.json"
    result = invoke("bench", "--table", table, "--space", "tiny_bench_space:space",
                    "--strategy", "grid,random", "--budget", 4, "--repeats", 2,
                    "--plot", png, "--json", saved)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("$ keras-nas bench --table ")
    assert "--strategy grid,random --budget 4 --repeats 2 --seed 0" in lines[0]
    assert "--space tiny_bench_space:space" in lines[0]
    assert "--search-metric val_acc --report-metric test_acc" in lines[0]
    rows = {line.split()[0] for line in lines[5:-1]}
    assert rows == {"grid", "random", "kt_random", "optuna_tpe"}
    assert "kt_random: 2 seeds" in result.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert json.loads(saved.read_text())["budget"] == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (("--table", "missing.csv"), "--table"),
        (("--budget", 0), "--budget"),
        (("--repeats", 0), "--repeats"),
        (("--strategy", "random,nope"), "nope"),
        (("--search-metric", "nope"), "--search-metric"),
        (("--report-metric", "nope"), "--report-metric"),
        (("--missing", "skip"), "--missing"),
        (("--plot", "no/such/folder/r.png"), "--plot"),
        (("--space", "no_such_module:x"), "--space"),
        (("--space", "keras_nas.spaces:NB201Cell"), "--space"),
        (("--space", "tiny_ops_space:space"), "--skip-outside"),
    ],
)
def test_cli_bench_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, args,
                                                   message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny_ops_space.py").write_text(
        "from keras_nas.spaces import NB201Cell\n\n"
        "def space():\n"
        "    return NB201Cell((8, 8, 1), 3, operations=('none', 'skip_connect'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    if "--table" not in args:
        with open(NB201_CSV) as src, open("nb201_head.csv", "w") as dst:
            dst.writelines(line for _, line in zip(range(50), src))
        args = ("--table", "nb201_head.csv", *args)
    result = invoke("bench", *args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and message in lines[0]


def test_workers_started_with_jobs_get_a_share_of_the_blas_threads(monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")  # The user's choice is kept.
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    child = [
        sys.executable,
        "-c",
        "import os; print(os.environ['OPENBLAS_NUM_THREADS'], "
        "os.environ['MKL_NUM_THREADS'])",
    ]
    with worker_threads_limited(jobs=3):
        assert os.environ["OMP_NUM_THREADS"] == "2"
        started = subprocess.run(child, capture_output=True, text=True, check=True)
    assert started.stdout.split() == ["2", "7"]
    assert "OPENBLAS_NUM_THREADS" not in os.environ
    assert "OMP_NUM_THREADS" not in os.environ
    assert os.environ["MKL_NUM_THREADS"] == "7"
    with worker_threads_limited(jobs=16):
        assert os.environ["OPENBLAS_NUM_THREADS"] == "1"


def test_strategies_that_train_before_proposing_are_not_benchmarked():
    from keras_nas.strategies import STRATEGIES

    assert STRATEGIES["darts"].needs_training_data
    assert "darts" not in bench.strategy_names()
    assert {"random", "evolution", "q_learning"} <= set(bench.strategy_names())


# ------------------------------------------------------- chosen baselines


def test_baselines_can_be_chosen():
    check = bench.baselines.check_baselines
    default = check(True)
    assert default[:2] == ["random", "kt_random"] and "kt_bayesian" not in default
    assert check("default") == default == bench.comparison_baselines()
    assert check("all")[:3] == ["random", "kt_random", "kt_bayesian"]
    assert check("none") == check(False) == []
    # A list always holds random, the reference of the comparison.
    assert check("kt_bayesian,kt_random") == ["random", "kt_bayesian", "kt_random"]
    assert check(["random", "random"]) == ["random"]
    assert check("all", several=True) == check(True, several=True)
    with pytest.raises(ValueError, match=r"baselines='nope'"):
        check("nope")
    with pytest.raises(ValueError, match="several objectives"):
        check("kt_random", several=True)


def test_run_benchmark_with_chosen_baselines_reports_each_run(tiny_table):
    ended = []
    result = bench.run_benchmark(
        tiny_table, ["grid"], budget=3, repeats=2, baselines=["kt_random"],
        run_progress=lambda run, elapsed: ended.append((run.strategy, run.seed)),
    )
    assert list(result.strategies) == ["grid", "random", "kt_random"]
    assert sorted(ended) == sorted(
        (name, seed) for name in result.strategies for seed in (0, 1)
    )
    alone = bench.run_benchmark(tiny_table, ["grid"], budget=3, repeats=1,
                                baselines="none")
    assert list(alone.strategies) == ["grid"]


@pytest.fixture
def tiny_bench(tmp_path, monkeypatch):
    """The `keras-nas bench` arguments of the tiny table and its space."""
    table = write_tiny_csv(tmp_path / "tiny.csv")
    write_tiny_space_module(tmp_path / "tiny_baselines_space.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    return ("bench", "--table", table, "--space", "tiny_baselines_space:space",
            "--strategy", "grid", "--budget", 3, "--repeats", 2)


def test_cli_bench_baselines(tiny_bench):
    result = invoke(*tiny_bench, "--baselines", "none")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "--baselines none" in lines[0]
    assert [line.split()[0] for line in lines[5:-1]] == ["grid"]
    result = invoke(*tiny_bench, "--baselines", "kt_random")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0] for line in result.stdout.splitlines()[5:-1]}
    assert rows == {"grid", "random", "kt_random"}


@pytest.mark.parametrize("value, message", [
    ("nope", "received 'nope'"),
    ("random,kt_bayes", "received 'random,kt_bayes'"),
    ("optuna_motpe", "one objective"),
])
def test_cli_bench_bad_baselines_exit_2_with_one_line(tiny_bench, value, message):
    result = invoke(*tiny_bench, "--baselines", value)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and "--baselines" in lines[0]
    assert message in lines[0]


def test_cli_bench_reports_slow_runs_seed_by_seed(tiny_bench, monkeypatch):
    from keras_nas_cli import bench_command

    monkeypatch.setattr(bench_command, "SLOW_RUN_SECONDS", 0.0)
    result = invoke(*tiny_bench, "--baselines", "none")
    assert result.exit_code == 0, result.output
    assert "grid seed 0: " in result.stderr and "grid seed 1: " in result.stderr


def _additive_fit_residual(table, metric):
    """The residual spread of a least-squares fit, one weight per edge and op."""
    architectures = [table.architecture(r) for r in range(len(table))]
    columns = sorted({(k, v) for values in architectures for k, v in values.items()})
    index = {c: i for i, c in enumerate(columns)}
    features = np.zeros((len(architectures), len(columns)))
    for row, values in enumerate(architectures):
        for item in values.items():
            features[row, index[item]] = 1.0
    y = table.column(metric)
    weights, *_ = np.linalg.lstsq(features, y, rcond=None)
    return float(np.std(y - features @ weights) / np.std(y))


def test_synthetic_landscape_has_the_structure_asked(nb201_table):
    from keras_nas.bench import synthetic

    additive = synthetic.landscape(nb201_table, seed=3)
    assert len(additive) == len(nb201_table)
    assert _additive_fit_residual(additive, "score") < 1e-9
    assert 0.05 < _additive_fit_residual(additive, "search_score") < 0.15
    interacting = synthetic.landscape(nb201_table, seed=3, interaction=0.5)
    assert _additive_fit_residual(interacting, "score") > 0.3
    again = synthetic.landscape(nb201_table, seed=3, interaction=0.5)
    np.testing.assert_array_equal(again.column("score"), interacting.column("score"))
    with pytest.raises(ValueError, match="interaction=-1"):
        synthetic.landscape(nb201_table, interaction=-1)
