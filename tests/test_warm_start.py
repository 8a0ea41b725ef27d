"""Warm starts: a search begins from an earlier run (`warm_start=`)."""

import json
import pathlib

import numpy as np
import pytest

import keras_nas as kn
from keras_nas.engine.tuner import NASTuner
from keras_nas.oracles import NASOracle


def _space(input_shape=(6,)):
    return kn.spaces.MLP(
        input_shape=input_shape, num_classes=2, max_layers=2, widths=(4, 8),
        activations=("relu", "tanh"), dropout_rates=(0.0,), batch_norm=(False,),
    )


def _data(seed=0, features=6):
    rng = np.random.default_rng(seed)
    y = np.arange(40) % 2
    x = rng.normal(size=(40, features)).astype("float32") + y[:, None]
    return x, y


class Counting(NASTuner):
    """Counts the trials it trains."""

    trained = 0

    def run_trial(self, trial, *args, **kwargs):
        Counting.trained += 1
        return super().run_trial(trial, *args, **kwargs)


def _search(tmp_path, name, strategy="random", max_trials=4, data=None,
            warm_start=None, tuner_class=NASTuner, epochs=1):
    x, y = data if data is not None else _data()
    tuner = tuner_class(
        _space(x.shape[1:]), strategy=strategy, max_trials=max_trials,
        directory=tmp_path, project_name=name, seed=1, verbose=0,
        warm_start=warm_start,
    )
    tuner.search(x, y, validation_data=(x, y), epochs=epochs, batch_size=16)
    return tuner


def _architectures(tuner, ids=None):
    trials = tuner.oracle.trials
    return [
        json.dumps(trials[t].hyperparameters.values, sort_keys=True)
        for t in (ids if ids is not None else trials)
    ]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A finished 5-trial random search, shared by the tests; its tuner."""
    return _search(tmp_path_factory.mktemp("runs"), "earlier", max_trials=5)


def test_same_data_trials_are_taken_over_and_not_trained_again(tmp_path, earlier):
    Counting.trained = 0
    tuner = _search(tmp_path, "warm", strategy="evolution", max_trials=3,
                    warm_start=earlier.project_dir, tuner_class=Counting)
    assert Counting.trained == 3
    oracle = tuner.oracle
    assert len(oracle.trials) == 5 + 3
    taken = list(oracle.trials)[:5]
    assert sorted(_architectures(tuner, taken)) == sorted(_architectures(earlier))
    new = _architectures(tuner, list(oracle.trials)[5:])
    assert not set(new) & set(_architectures(earlier))
    scores = sorted(t.score for t in earlier.oracle.trials.values())
    assert sorted(oracle.trials[t].score for t in taken) == scores


def test_population_is_seeded_with_the_earlier_trials(tmp_path, earlier):
    tuner = _search(tmp_path, "warm", strategy="evolution", max_trials=1,
                    warm_start=earlier.project_dir)
    oracle = tuner.oracle
    # The population (3) the new trial was bred from: the last earlier trials
    # (the new one joins when the next proposal is made).
    assert oracle.population == list(oracle.trials)[2:5]
    best = sorted(t.score for t in earlier.oracle.trials.values())[-3:]
    assert [oracle.trials[t].score for t in oracle.population] == best
    assert list(oracle.trials) == ["0", "1", "2", "3", "4", "5"]
    assert len(oracle.trials) == 6


def test_taken_over_best_trial_is_exported(tmp_path, earlier):
    tuner = _search(tmp_path, "warm", max_trials=1, warm_start=earlier.project_dir)
    best = earlier.oracle.get_best_trials(1)[0]
    x, y = _data()
    model = tuner.load_model(tuner.oracle.get_best_trials(1)[0])
    np.testing.assert_allclose(
        model.predict(x, verbose=0), earlier.load_model(best).predict(x, verbose=0),
        atol=1e-6,
    )


def test_other_data_proposes_the_earlier_best_first_and_trains_them(tmp_path, earlier):
    Counting.trained = 0
    tuner = _search(tmp_path, "other", strategy="evolution", max_trials=4,
                    data=_data(seed=5), warm_start=earlier.project_dir,
                    tuner_class=Counting)
    assert Counting.trained == 4 == len(tuner.oracle.trials)
    size = tuner.oracle.warm_start_size()
    ranked = sorted(earlier.oracle.trials.values(), key=lambda t: -t.score)
    expected = [json.dumps(t.hyperparameters.values, sort_keys=True)
                for t in ranked[:size]]
    assert _architectures(tuner)[:size] == expected


@pytest.mark.parametrize(
    "strategy", ["bayesian", "q_learning", "nsga2", "reinforce", "dls", "genetic"]
)
def test_learned_strategies_learn_from_the_earlier_trials(tmp_path, earlier, strategy):
    tuner = _search(tmp_path, strategy, strategy=strategy, max_trials=1,
                    warm_start=earlier.project_dir)
    oracle = tuner.oracle
    assert len(oracle.learnt()) >= 5
    assert set(list(oracle.trials)[:5]) <= set(oracle.learnt())


def test_resumed_warm_start_is_not_seeded_twice(tmp_path, earlier):
    _search(tmp_path, "warm", max_trials=2, warm_start=earlier.project_dir)
    resumed = _search(tmp_path, "warm", max_trials=2, warm_start=earlier.project_dir)
    assert len(resumed.oracle.trials) == 5 + 2
    values = _architectures(resumed)
    assert len(set(values)) == len(values)
    search = json.loads((tmp_path / "warm" / "search.json").read_text())
    assert search["warm_start"].endswith("earlier")
    assert search["data_fingerprint"] == json.loads(
        (pathlib.Path(earlier.project_dir) / "search.json").read_text()
    )["data_fingerprint"]


class Crash(BaseException):
    """Stands for the process dying."""


@pytest.mark.parametrize("ended", [5, 6])
def test_warm_start_killed_mid_search_resumes_without_seeding_twice(
    tmp_path, earlier, monkeypatch, ended
):
    # 5: killed before oracle.json recorded the warm start (the trial files
    # were written); 6: killed once the first new trial ended.
    original = NASOracle.save

    def save(oracle):
        if len(oracle.end_order) == ended:
            raise Crash()
        original(oracle)

    monkeypatch.setattr(NASOracle, "save", save)
    with pytest.raises(Crash):
        _search(tmp_path, "killed", max_trials=3, warm_start=earlier.project_dir)
    monkeypatch.undo()
    resumed = _search(tmp_path, "killed", max_trials=3,
                      warm_start=earlier.project_dir)
    oracle = resumed.oracle
    assert len(oracle.taken_over) == 5
    assert len(oracle.trials) == 5 + 3
    assert all(t.status == "COMPLETED" for t in oracle.trials.values())
    values = _architectures(resumed)
    assert len(set(values)) == len(values)


def test_other_input_shape_or_no_run_is_refused(tmp_path, earlier):
    with pytest.raises(ValueError, match=r"shape \(6,\).*\(5,\)"):
        _search(tmp_path, "wide", data=_data(features=5),
                warm_start=earlier.project_dir)
    with pytest.raises(ValueError, match="warm_start="):
        _search(tmp_path, "none", warm_start=tmp_path / "missing")


def test_cli_run_warm_start(tmp_path, earlier):
    from cli_helpers import invoke

    x, y = _data()
    np.savez(tmp_path / "toy.npz", x=x, y=y)
    result = invoke("run", "--dataset", tmp_path / "toy.npz", "--space",
                    "mlp", "--max-trials", 1, "--epochs", 1, "--directory",
                    tmp_path, "--name", "cli", "--export-dir", tmp_path / "out",
                    "--warm-start", tmp_path / "missing")
    assert result.exit_code == 2, result.output
    assert "Invalid value for --warm-start" in result.output
    assert "is not a folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
    common = ("--dataset", tmp_path / "toy.npz", "--space", "mlp", "--epochs", 1,
              "--directory", tmp_path, "--export-dir", tmp_path / "out")
    first = invoke("run", *common, "--max-trials", 2, "--name", "first")
    assert first.exit_code == 0, first.output
    second = invoke("run", *common, "--max-trials", 1, "--name", "second",
                    "--strategy", "evolution", "--warm-start", tmp_path / "first")
    assert second.exit_code == 0, second.output
    assert "2 taken over from an earlier run" in second.output


def test_progress_says_what_was_taken_over(tmp_path, earlier, capsys):
    x, y = _data()
    tuner = NASTuner(_space(), max_trials=1, directory=tmp_path, project_name="p",
                     seed=1, verbose=1, warm_start=earlier.project_dir)
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=16)
    out = capsys.readouterr().out
    assert "5 taken over from an earlier run" in out
    assert "resuming" not in out
    assert tuner.oracle.taken_over == list(tuner.oracle.trials)[:5]


def test_config_file_and_distributed_children_take_warm_start(tmp_path):
    from keras_nas_cli.config_file import load_config

    path = tmp_path / "search.json"
    path.write_text(json.dumps({"warm_start": "runs/earlier", "max_trials": 3}))
    assert load_config(path)["warm_start"] == "runs/earlier"
