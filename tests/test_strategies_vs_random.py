"""Tests for benchmarks/strategies_vs_random.py: which strategies, what verdict."""

import numpy as np
import pytest
from bench_helpers import NB201_CSV
from bench_helpers import load_benchmark

from keras_nas import bench
from keras_nas.bench.results import RunResult
from keras_nas.bench.results import StrategyResult
from keras_nas.strategies import STRATEGIES


@pytest.fixture(scope="module")
def script():
    return load_benchmark("strategies_vs_random")


def strategy(name, picks):
    runs = [RunResult(name, seed, np.zeros(1), np.zeros(1), np.array([pick]),
                      1, 0, 0.0, 0.0) for seed, pick in enumerate(picks)]
    return StrategyResult(name, runs, best_report=10.0)


def test_every_tabular_strategy_but_random_is_compared(script):
    names = script.tabular_strategies()
    assert "darts" not in names and "random" not in names
    assert set(names) == {n for n, cls in STRATEGIES.items()
                          if not cls.needs_training_data} - {"random"}


def test_ahead_means_beyond_the_combined_standard_error(script):
    reference = strategy("random", [1.0, 2.0, 3.0])  # mean 2, SE 0.577
    delta, error, word = script.verdict(strategy("a", [2.0, 3.0, 4.0]), reference)
    assert delta == pytest.approx(1.0)
    assert error == pytest.approx(np.sqrt(2 / 3))  # sqrt(SE_a^2 + SE_random^2)
    assert word == "ahead"
    # 0.7 exceeds random's own SE (0.577) but not the combined 0.816.
    assert script.verdict(strategy("b", [1.7, 2.7, 3.7]), reference)[2] == "level"
    assert script.verdict(strategy("c", [0.0, 1.0, 2.0]), reference)[2] == "behind"


def test_landscapes_search_one_metric_and_report_another(script):
    table = bench.Table.from_csv(NB201_CSV)
    assert script.landscape("nb201-swapped", table)[1:] == ("test_acc", "val_acc")
    synthetic, searched, reported = script.landscape("interacting", table)
    assert (searched, reported) == ("search_score", "score")
    assert len(synthetic) == len(table)
