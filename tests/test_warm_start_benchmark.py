"""Tests for benchmarks/warm_start.py: the mean curves over seeds and --combine."""

import json
import sys

import pytest
from bench_helpers import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("warm_start")


def two_seeds(second_warm):
    """Curves of two seeds: the warm search has 0 to 3 new trials, the cold 3."""
    return [
        {"seed": 0, "taken_over": 0, "cold": [0.5, 0.6, 0.7],
         "warm": [float("-inf"), 0.6, 0.7, 0.7]},
        {"seed": 1, "taken_over": 0, "cold": [0.4, 0.6, 0.8],
         "warm": [float("-inf")] + second_warm},
    ]


def test_mean_curves_pair_the_seeds_and_find_where_each_mean_reaches(script, capsys):
    script.print_mean_curves(two_seeds([0.7, 0.8, 0.8]))
    out = capsys.readouterr().out
    # k = 1: warm - cold is 0.1 and 0.3 over the seeds: 0.2 ± 0.1414 / sqrt(2).
    assert "  1   0.4500   0.6500    +0.2000 ± 0.1000" in out
    assert "  2   0.6000   0.7500    +0.1500 ± 0.0500" in out
    assert ("the cold searches' mean best 0.7500: reached by the cold mean after "
            "3 trials, by the warm mean after 2 new trials") in out


def test_mean_curves_say_when_the_warm_mean_never_reaches(script, capsys):
    script.print_mean_curves(two_seeds([0.6, 0.6, 0.7]))
    assert "by the warm mean after not reached" in capsys.readouterr().out


def test_combine_reads_the_seeds_of_several_json_files(script, tmp_path, monkeypatch,
                                                       capsys):
    first, second = two_seeds([0.7, 0.8, 0.8])
    paths = []
    for name, curves in (("a.json", [first]), ("b.json", [second])):
        path = tmp_path / name
        path.write_text(json.dumps({"args": {}, "seeds": curves}))
        paths.append(str(path))
    monkeypatch.setattr(sys, "argv", ["warm_start.py", "--combine", *paths])
    script.main()
    out = capsys.readouterr().out
    assert "mean over 2 seeds (seeds 0,1)" in out
    assert "by the warm mean after 2 new trials" in out
