"""`NASTuner(strategy="darts")` and `keras-nas run --strategy darts`."""

import json

import keras
import numpy as np
import pytest
from cli_helpers import invoke

import keras_nas as kn
from keras_nas.darts import one_shot

OPERATIONS = ("none", "skip_connect", "nor_conv_3x3")


def _space(num_classes=3):
    return kn.spaces.NB201Cell(input_shape=(8, 8, 1), num_classes=num_classes,
                               operations=OPERATIONS, channels=2)


def _search(tuner, tiny_images, epochs=2):
    x, y = tiny_images
    tuner.search(x, y, validation_data=(x, y), epochs=epochs, batch_size=12)


def test_darts_searches_retrains_and_exports(tiny_images, tmp_path, capsys):
    tuner = kn.NASTuner(_space(), strategy="darts", directory=tmp_path,
                        project_name="p", seed=0)
    _search(tuner, tiny_images)
    out = capsys.readouterr().out
    assert "One-shot epoch 1/2" in out and "One-shot epoch 2/2" in out
    assert "parameter_free_fraction=" in out and "Trial 1/1" in out
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED"]
    run = tmp_path / "p"
    state = json.loads((run / one_shot.STATE_FILE).read_text())
    assert state["finished"] and state["epoch"] == 2
    assert state["architecture"] == trials[0].hyperparameters.values
    assert "none" not in state["architecture"].values()
    alphas = json.loads((run / one_shot.ALPHAS_FILE).read_text())
    epochs = alphas["decisions_by_epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert set(epochs[-1]["alphas"]) == {f"edge_{t}_{s}" for t, s in
                                         kn.spaces.nb201.EDGES}
    for weights in epochs[-1]["alphas"].values():
        assert set(weights) == set(OPERATIONS)
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-5)
    assert (run / one_shot.HEATMAP_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    path = tuner.export(tmp_path / "export")
    architecture = json.loads((path / "architecture.json").read_text())
    assert architecture["strategy"] == "darts"
    assert architecture["arch_str"] == _space().to_arch_str(state["architecture"])


class Interrupt(BaseException):
    """Stands for the process dying after an epoch was saved."""


def test_interrupted_one_shot_search_resumes_from_its_last_epoch(
    tiny_images, tmp_path, capsys, monkeypatch
):
    tuner = kn.NASTuner(_space(), strategy="darts", directory=tmp_path,
                        project_name="p", seed=0)

    def stop_after_first(epoch, epochs, logs, description):
        raise Interrupt()

    monkeypatch.setattr(tuner.progress, "on_one_shot_epoch", stop_after_first)
    with pytest.raises(Interrupt):
        _search(tuner, tiny_images, epochs=3)
    state = json.loads((tmp_path / "p" / one_shot.STATE_FILE).read_text())
    assert state["epoch"] == 1 and not state["finished"]
    capsys.readouterr()

    resumed = kn.NASTuner(_space(), strategy="darts", directory=tmp_path,
                          project_name="p", seed=0)
    _search(resumed, tiny_images, epochs=3)
    out = capsys.readouterr().out
    assert "One-shot epoch 1/3" not in out
    assert "One-shot epoch 2/3" in out and "One-shot epoch 3/3" in out
    state = json.loads((tmp_path / "p" / one_shot.STATE_FILE).read_text())
    assert state["finished"] and [h["epoch"] for h in state["history"]] == [1, 2, 3]
    assert [t.status for t in resumed.oracle.trials.values()] == ["COMPLETED"]

    resumed.oracle.architectures = []
    with pytest.raises(ValueError, match="started with epochs=3"):
        _search(resumed, tiny_images, epochs=4)


def test_several_searches_each_give_a_trial_and_resume_search_by_search(
    tiny_images, tmp_path, capsys, monkeypatch
):
    def make_tuner():
        oracle = kn.darts.DartsOracle(searches=2, seed=4)
        return kn.NASTuner(_space(), strategy=oracle, directory=tmp_path,
                           project_name="p")

    tuner = make_tuner()
    seen = []

    def stop_in_the_second(epoch, epochs, logs, description):
        seen.append(epoch)
        if len(seen) == 3:  # the second search's first epoch
            raise Interrupt()

    monkeypatch.setattr(tuner.progress, "on_one_shot_epoch", stop_in_the_second)
    with pytest.raises(Interrupt):
        _search(tuner, tiny_images)
    out = capsys.readouterr().out
    assert "One-shot DARTS search 1/2 (seed 4)" in out
    assert "One-shot DARTS search 2/2 (seed 5)" in out
    run = tmp_path / "p"
    folders = [run, run / "darts_search_2"]
    states = [json.loads((f / one_shot.STATE_FILE).read_text()) for f in folders]
    assert [s["finished"] for s in states] == [True, False]
    assert states[1]["epoch"] == 1

    resumed = make_tuner()
    _search(resumed, tiny_images)
    out = capsys.readouterr().out
    # The finished search is read back; only the second trains, from epoch 2.
    assert out.count("One-shot epoch") == 1 and "One-shot epoch 2/2" in out
    states = [json.loads((f / one_shot.STATE_FILE).read_text()) for f in folders]
    derived = [s["architecture"] for s in states]
    assert resumed.oracle.architectures == derived
    # Each search has its own seed: the logits it started from differ.
    alphas = [json.loads((f / one_shot.ALPHAS_FILE).read_text()) for f in folders]
    first = [a["decisions_by_epoch"][0]["alphas"] for a in alphas]
    assert first[0] != first[1]
    trials = list(resumed.oracle.trials.values())
    distinct = []
    for values in derived:
        if values not in distinct:
            distinct.append(values)
    assert [t.hyperparameters.values for t in trials] == distinct
    assert all(t.status == "COMPLETED" for t in trials)
    best = resumed.oracle.get_best_trials(1)[0]
    assert best.score == max(t.score for t in trials)


def test_a_seeded_one_shot_search_repeats_whatever_ran_before(
    tiny_images, tmp_path, monkeypatch
):
    def stop_after_the_one_shot_epoch(epoch, epochs, logs, description):
        raise Interrupt()  # Its weights are saved; the trial is not needed.

    alphas = []
    for name in ("a", "b"):
        keras.utils.set_random_seed(len(name) * 7 + ord(name))  # unrelated state
        tuner = kn.NASTuner(_space(), strategy="darts", directory=tmp_path,
                            project_name=name, seed=3)
        monkeypatch.setattr(tuner.progress, "on_one_shot_epoch",
                            stop_after_the_one_shot_epoch)
        with pytest.raises(Interrupt):
            _search(tuner, tiny_images, epochs=1)
        history = json.loads((tmp_path / name / one_shot.STATE_FILE).read_text())
        weights = history["history"][0]["alphas"]
        alphas.append([w for d in sorted(weights) for w in weights[d].values()])
    # Unseeded initial weights move these weights by about 4e-4.
    np.testing.assert_allclose(alphas[0], alphas[1], rtol=0, atol=1e-6)


def test_darts_oracle_reads_a_state_saved_before_several_searches():
    oracle = kn.darts.DartsOracle(seed=0)
    state = oracle.get_state()
    del state["architectures"]
    state["architecture"] = {"edge_1_0": "skip_connect"}
    oracle.set_state(state)
    assert oracle.architectures == [{"edge_1_0": "skip_connect"}]


def test_darts_needs_a_cell_or_convnet_space_and_validation_data(tiny_images, tmp_path):
    mlp = kn.spaces.MLP(input_shape=(8, 8, 1), num_classes=3)
    with pytest.raises(ValueError, match="NB201Cell or ConvNet"):
        kn.NASTuner(mlp, strategy="darts", directory=tmp_path)
    with pytest.raises(ValueError, match="time_limit"):
        kn.NASTuner(_space(), strategy="darts", time_limit=60, directory=tmp_path)
    with pytest.raises(ValueError, match="'orderr'"):
        kn.darts.DartsOracle(orderr=2)
    with pytest.raises(ValueError, match="searches=0"):
        kn.darts.DartsOracle(searches=0)
    tuner = kn.NASTuner(_space(), strategy="darts", directory=tmp_path, seed=0)
    x, y = tiny_images
    with pytest.raises(ValueError, match="validation_data"):
        tuner.search(x, y, epochs=1)


def test_cli_runs_darts_from_a_config(tmp_path, npz_images):
    config = tmp_path / "darts.yaml"
    config.write_text(
        "space: {name: nb201, channels: 2, operations: [none, skip_connect, "
        "nor_conv_3x3]}\nstrategy: {name: darts, order: 2}\n"
    )
    result = invoke("run", "--config", config, "--dataset", npz_images,
                    "--epochs", 1, "--directory", tmp_path / "runs",
                    "--name", "d", "--export-dir", tmp_path / "models",
                    "--no-final-fit", "--ensemble", 1)
    assert result.exit_code == 0, result.output
    assert "One-shot epoch 1/1" in result.output and "Trial 1/1" in result.output
    architecture = json.loads(
        (tmp_path / "models" / "d" / "architecture.json").read_text()
    )
    assert architecture["strategy"] == "darts" and "arch_str" in architecture
    assert (tmp_path / "runs" / "d" / one_shot.HEATMAP_FILE).exists()


def test_cli_refuses_darts_on_an_mlp(tmp_path, npz_dataset):
    result = invoke("run", "--dataset", npz_dataset, "--space", "mlp",
                    "--strategy", "darts", "--directory", tmp_path / "runs")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "NB201Cell or ConvNet" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_darts_is_a_registered_strategy_with_its_options():
    oracle = kn.strategies.get_oracle("darts", "val_loss", 5, seed=2, order=2,
                                   searches=2)
    assert isinstance(oracle, kn.darts.DartsOracle)
    assert oracle.search_options == {"order": 2} and oracle.searches == 2
    assert oracle.objective.name == "val_loss" and oracle.seed == 2
    with pytest.raises(ValueError, match="'darts' strategy: 'orderr'"):
        kn.strategies.get_oracle("darts", "val_loss", 5, orderr=2)


@pytest.mark.parametrize(
    "option, value, argument",
    [("--time-limit", "1m", "time_limit"), ("--workers", 2, "workers")],
)
def test_cli_refuses_darts_with_a_time_limit_or_workers(
    tmp_path, npz_images, option, value, argument
):
    result = invoke("run", "--dataset", npz_images, "--space", "nb201",
                    "--strategy", "darts", option, value,
                    "--directory", tmp_path / "runs")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"`{argument}`" in lines[0], result.output
    assert not (tmp_path / "runs").exists()
