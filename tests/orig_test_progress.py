"""`SearchProgress`: a bar redrawn in place in a terminal, one line per trial elsewhere."""

import io
import re

import numpy as np
import pytest
from cli_helpers import invoke
from cli_helpers import run_args

import keras_nas as kn
from keras_nas.engine.progress import ERASE_LINE
from keras_nas.engine.progress import SearchProgress

CONTROL = re.compile(r"[\r\x1b]")


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def _search(tmp_path, stream, verbose=1):
    rng = np.random.default_rng(0)
    y = np.arange(30) % 2
    x = rng.normal(size=(30, 4)).astype("float32") + y[:, None]
    tuner = kn.NASTuner(kn.spaces.MLP((4,), num_classes=2, max_layers=1),
                        max_trials=2, seed=1, directory=tmp_path, project_name="p",
                        latency=False, verbose=verbose)
    tuner.progress.stream = stream
    tuner.search(x[:20], y[:20], validation_data=(x[20:], y[20:]), epochs=2)
    return stream.getvalue()


def test_terminal_gets_a_bar_redrawn_in_place(tmp_path, monkeypatch):
    # The bar is cut to the terminal's width: fix it, as a pytest-xdist worker
    # may otherwise see a narrow one and cut off the epoch counts.
    monkeypatch.setenv("COLUMNS", "120")
    output = _search(tmp_path, FakeTerminal())
    redraws = output.split(ERASE_LINE)
    bars = [r for r in redraws if r.startswith("Trial 2/2 [")]
    # Redrawn at its start, after each epoch, and under its own trial line.
    assert [re.search(r"epoch (\d)/2", b).group(1) for b in bars] == ["0", "1", "2", "2"]
    assert all("ETA" in b and "best 0." in b for b in bars)
    assert re.search(r"\r\x1b\[2KTrial 1/2 val_accuracy=\d\.\d{4} \| best", output)
    assert "\r\x1b[2KEpochs trained: 4 of 2 trials" in output


def test_a_file_gets_one_line_per_trial_and_no_control_characters(tmp_path):
    output = _search(tmp_path, io.StringIO())
    assert not CONTROL.search(output)
    lines = output.splitlines()
    assert [line.split(" ")[1] for line in lines if line.startswith("Trial")] == [
        "1/2", "2/2"]
    assert len(lines) == 4 and lines[0].startswith("Search:")
    assert lines[-1].startswith("Epochs trained")


def test_verbose_2_adds_a_line_per_epoch(tmp_path):
    output = _search(tmp_path, io.StringIO(), verbose=2)
    epochs = [line for line in output.splitlines() if " epoch " in line]
    assert [line.split()[:4] for line in epochs] == [
        ["Trial", "1", "epoch", "1/2"], ["Trial", "1", "epoch", "2/2"],
        ["Trial", "2", "epoch", "1/2"], ["Trial", "2", "epoch", "2/2"]]
    assert all("val_accuracy=" in line for line in epochs)


def test_bar_is_only_drawn_in_a_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    for stream, drawn in ((FakeTerminal(), True), (io.StringIO(), False)):
        progress = SearchProgress(stream=stream)
        progress.on_search_begin("Search")
        progress.on_trial_begin(1, 4, 2, "val_accuracy")
        progress.on_epoch_end(0, {"val_accuracy": 0.5})
        tail = stream.getvalue().split("\n")[-1]
        last = tail.split(ERASE_LINE)[-1]
        assert (last.startswith("Trial 1/4 [##---") and
                last.endswith("epoch 1/2 [#####-----] val_accuracy=0.5000")) == drawn
        assert (tail == "") == (not drawn)


def test_bar_fits_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    stream = FakeTerminal()
    progress = SearchProgress(stream=stream)
    progress.on_search_begin("Search")
    progress.on_trial_begin(1, 4, 2, "val_accuracy")
    assert max(map(len, stream.getvalue().split(ERASE_LINE))) == 39


def test_verbose_must_be_0_1_or_2():
    with pytest.raises(ValueError, match="verbose=3"):
        SearchProgress(verbose=3)


def test_run_quiet_and_verbose(tmp_path, npz_dataset):
    quiet = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 1, "--quiet"))
    assert quiet.exit_code == 0, quiet.output
    assert "Trial 1/1" not in quiet.output and "Leaderboard" in quiet.output
    loud = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 1, "--verbose",
                            "--overwrite"))
    assert loud.exit_code == 0, loud.output
    assert "Trial 1 epoch 1/1 " in loud.output and "Trial 1/1 " in loud.output
    assert not CONTROL.search(loud.output)
    both = invoke(*run_args(tmp_path, npz_dataset, "--quiet", "--verbose"))
    assert both.exit_code == 2 and "--quiet and --verbose" in both.output


def test_config_files_take_quiet_and_verbose(tmp_path):
    from keras_nas_cli.config_file import ConfigError
    from keras_nas_cli.config_file import load_config

    good = tmp_path / "good.yaml"
    good.write_text("quiet: true\nverbose: false\ntensorboard: logs\n")
    assert load_config(good) == {"quiet": True, "verbose": False, "tensorboard": "logs"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("quiet: 'yes'\n")
    with pytest.raises(ConfigError, match="quiet must be true or false, received 'yes'"):
        load_config(bad)
