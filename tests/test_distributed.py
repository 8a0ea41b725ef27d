"""Tests of distributed search on KerasTuner's chief/worker mode."""

import _thread
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
import pytest
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief
from keras_tuner.src.distribute import oracle_client

from keras_nas.engine import distributed
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.oracles import STRATEGIES
from oracle_helpers import OBJECTIVE
from oracle_helpers import assert_canonical
from oracle_helpers import declared
from oracle_helpers import nb201
from oracle_helpers import score
from oracle_helpers import small_mlp
from oracle_helpers import start

MAX_TRIALS = 12
WORKERS = 2


def _serve(oracle):
    """Serves `oracle` as KerasTuner's chief does, on a free loopback port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, servicer, port


class _Worker(threading.Thread):
    """A worker's loop of `BaseTuner.search`, with a score instead of training."""

    def __init__(self, client, tuner_id, in_flight):
        super().__init__(daemon=True)
        self.client, self.tuner_id, self.in_flight = client, tuner_id, in_flight
        self.trials, self.error = [], None

    def run(self):
        try:
            while True:
                trial = self.client.create_trial(self.tuner_id)
                if trial.status == "STOPPED":
                    return
                if trial.status == "IDLE":
                    time.sleep(0.01)
                    continue
                with self.in_flight["lock"]:
                    self.in_flight["now"] += 1
                    self.in_flight["max"] = max(
                        self.in_flight["max"], self.in_flight["now"]
                    )
                time.sleep(0.02)  # "training", so the two workers overlap
                values = dict(trial.hyperparameters.values)
                self.trials.append((trial.trial_id, values))
                self.client.update_trial(
                    trial.trial_id, {"val_accuracy": score(values)}
                )
                with self.in_flight["lock"]:
                    self.in_flight["now"] -= 1
                trial.status = "COMPLETED"
                self.client.end_trial(trial)
        except BaseException as e:  # reported by the test thread
            self.error = e


# Strategies that run their search in one process (DARTS's one-shot
# searches) refuse workers; every other one serves them.
ONE_PROCESS = {"darts"}


@pytest.mark.parametrize("strategy", sorted(ONE_PROCESS))
def test_one_process_strategies_refuse_workers(strategy):
    oracle = STRATEGIES[strategy](objective=OBJECTIVE, max_trials=MAX_TRIALS)
    oracle.check_search(nb201())
    with pytest.raises(ValueError, match=f"`workers`.*workers={WORKERS}"):
        oracle.check_search(nb201(), workers=WORKERS)


@pytest.mark.parametrize("strategy", sorted(set(STRATEGIES) - ONE_PROCESS))
def test_every_strategy_serves_two_workers_over_grpc(
    strategy, tmp_path, monkeypatch
):
    """KerasTuner's gRPC chief runs our oracle; two OracleClients share it."""
    space = small_mlp()  # 72 architectures
    oracle = STRATEGIES[strategy](
        objective=OBJECTIVE, max_trials=MAX_TRIALS, seed=1
    )
    oracle.check_search(space, workers=WORKERS)
    start(oracle, declared(space), tmp_path, space=space)
    server, servicer, port = _serve(oracle)
    try:
        monkeypatch.setenv(distributed.ORACLE_IP, "127.0.0.1")
        monkeypatch.setenv(distributed.ORACLE_PORT, str(port))
        in_flight = {"lock": threading.Lock(), "now": 0, "max": 0}
        workers = []
        for i in range(WORKERS):
            monkeypatch.setenv(distributed.TUNER_ID, f"tuner{i}")
            local = STRATEGIES[strategy](objective=OBJECTIVE, max_trials=MAX_TRIALS)
            client = oracle_client.OracleClient(local)
            workers.append(_Worker(client, f"tuner{i}", in_flight))
        assert distributed.role() == "worker"
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
            assert not worker.is_alive(), "a worker hung"
            if worker.error is not None:
                raise worker.error
    finally:
        server.stop(0)

    ran = [values for worker in workers for _, values in worker.trials]
    assert len(ran) == MAX_TRIALS
    assert all(worker.trials for worker in workers), "a worker got no trial"
    assert in_flight["max"] == WORKERS, "the workers never overlapped"
    keys = {json.dumps(values, sort_keys=True) for values in ran}
    assert len(keys) == MAX_TRIALS, "an architecture was evaluated twice"

    trials = oracle.trials
    assert len(trials) == MAX_TRIALS
    assert all(t.status == "COMPLETED" for t in trials.values())
    # What crossed the wire is exactly the chief's architecture, active
    # decisions only (keras-team/keras-tuner#342 would add defaults).
    enc = ArchitectureEncoding(declared(space))
    for worker in workers:
        for trial_id, values in worker.trials:
            assert trials[trial_id].hyperparameters.values == values
            assert_canonical(enc, values)
    # The chief's own stop condition holds: it would leave its server loop.
    assert servicer.stop_triggered and oracle_chief.exit_chief(oracle)
    files = glob.glob(str(tmp_path / "p" / "trial_*" / "trial.json"))
    assert len(files) == MAX_TRIALS


def test_keras_tuner_proto_debug_print_is_muted(capsys):
    from keras_tuner.src.engine import conditions

    conditions.Parent("num_layers", [2]).to_proto()
    assert capsys.readouterr().out == ""


def test_role_reads_the_environment():
    assert distributed.role({}) is None
    env = {
        distributed.ORACLE_IP: "127.0.0.1",
        distributed.ORACLE_PORT: "8000",
        distributed.TUNER_ID: "chief",
    }
    assert distributed.role(env) == "chief"
    assert distributed.role({**env, distributed.TUNER_ID: "tuner3"}) == "worker"
    with pytest.raises(RuntimeError, match=distributed.ORACLE_PORT):
        distributed.role({distributed.ORACLE_IP: "127.0.0.1"})


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2", None])
def test_launch_rejects_an_invalid_worker_count(workers):
    with pytest.raises(ValueError, match=f"workers={workers!r}"):
        distributed.launch([sys.executable, "-c", "pass"], workers)


def test_launch_rejects_a_command_that_is_not_an_argv_list():
    with pytest.raises(ValueError, match="command"):
        distributed.launch("python -c pass", 2)


_ECHO = (
    "import os, sys\n"
    "tid = os.environ['KERASTUNER_TUNER_ID']\n"
    "print('hello from', tid, os.environ['KERASTUNER_ORACLE_IP'],"
    " os.environ['KERASTUNER_ORACLE_PORT'])\n"
    "sys.exit(3 if tid == sys.argv[1] else 0)\n"
)


def test_launch_sets_the_variables_and_prefixes_worker_lines(capfd):
    code = distributed.launch(
        [sys.executable, "-c", _ECHO, "nobody"], 2, port=12345
    )
    assert code == 0
    out = capfd.readouterr().out.splitlines()
    assert "hello from chief 127.0.0.1 12345" in out
    assert "[tuner0] hello from tuner0 127.0.0.1 12345" in out
    assert "[tuner1] hello from tuner1 127.0.0.1 12345" in out


def test_launch_names_the_failed_process_and_stops_the_others():
    # tuner1 fails at once; the chief would otherwise sleep for a minute.
    command = [
        sys.executable,
        "-c",
        "import os, sys, time\n"
        "tid = os.environ['KERASTUNER_TUNER_ID']\n"
        "sys.exit(3) if tid == 'tuner1' else time.sleep(60)\n",
    ]
    begin = time.monotonic()
    message = "worker tuner1 exited with code 3"
    with pytest.raises(distributed.LaunchError, match=message) as info:
        distributed.launch(command, 2)
    assert info.value.tuner_id == "tuner1" and info.value.returncode == 3
    assert time.monotonic() - begin < 30


_SLEEPER = (
    "import os, sys, time\n"
    "path = os.path.join(sys.argv[1], os.environ['KERASTUNER_TUNER_ID'])\n"
    "open(path, 'w').write(str(os.getpid()))\n"
    "time.sleep(60)\n"
)


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(
    "signum, error", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)]
)
def test_an_interrupt_terminates_every_process(tmp_path, signum, error):
    def interrupt_when_all_started():
        deadline = time.monotonic() + 30
        while len(os.listdir(tmp_path)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        _thread.interrupt_main(signum)

    threading.Thread(target=interrupt_when_all_started, daemon=True).start()
    begin = time.monotonic()
    with pytest.raises(error):
        distributed.launch([sys.executable, "-c", _SLEEPER, str(tmp_path)], 2)
    assert time.monotonic() - begin < 30
    pids = [int((tmp_path / name).read_text()) for name in os.listdir(tmp_path)]
    assert len(pids) == 3 and all(_gone(pid) for pid in pids)


def test_a_worker_left_waiting_after_the_chief_is_stopped(tmp_path, monkeypatch):
    """A worker that connects after the chief ended would wait an hour."""
    monkeypatch.setattr(distributed, "_STOP_SECONDS", 2.0)
    command = [
        sys.executable, "-c",
        "import os, sys\n"
        "if os.environ['KERASTUNER_TUNER_ID'] != 'chief':\n"
        f"    exec({_SLEEPER!r})\n",
        str(tmp_path),
    ]
    begin = time.monotonic()
    assert distributed.launch(command, 1) == 0
    assert time.monotonic() - begin < 20
    assert _gone(int((tmp_path / "tuner0").read_text()))


def test_launch_stops_everything_after_its_timeout(tmp_path):
    with pytest.raises(TimeoutError, match="1 seconds"):
        distributed.launch(
            [sys.executable, "-c", _SLEEPER, str(tmp_path)], 1, timeout=1
        )


def test_cli_runs_a_search_as_a_chief_and_two_workers(tmp_path, npz_dataset):
    """`keras-nas run --workers 2 --early-stopping asha` on loopback."""
    dataset = npz_dataset
    max_trials = 4
    result = subprocess.run(
        [sys.executable, "-m", "keras_nas_cli.main", "run",
         "--dataset", str(dataset), "--space", "mlp", "--strategy", "evolution",
         "--max-trials", str(max_trials), "--epochs", "3", "--early-stopping", "asha",
         "--directory", str(tmp_path / "runs"), "--name", "toy",
         "--export-dir", str(tmp_path / "models"), "--workers", str(WORKERS)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    files = glob.glob(str(tmp_path / "runs" / "toy" / "trial_*" / "trial.json"))
    trials = [json.load(open(f)) for f in files]
    assert len(trials) == max_trials
    assert all(t["status"] == "COMPLETED" for t in trials)
    values = {
        json.dumps(t["hyperparameters"]["values"], sort_keys=True) for t in trials
    }
    assert len(values) == max_trials
    # Both workers trained; the chief printed the leaderboard and exported.
    assert "[tuner0] Search: RegularizedEvolutionOracle" in out
    assert "[tuner1] Search: RegularizedEvolutionOracle" in out
    assert f"{max_trials} completed, 0 failed" in out
    trained = sum(len(t["metrics"]["metrics"]["loss"]["observations"]) for t in trials)
    earlier = sum(
        t["metrics"]["metrics"].get("epochs_before_promotion", {"observations": [
            {"value": [0]}]})["observations"][0]["value"][0]
        for t in trials
    )
    assert f"Epochs trained: {trained + earlier:.0f} of {max_trials} trials x 3" in out
    assert (tmp_path / "models" / "toy" / "saved_model.pb").exists()
    assert "\n1\n" not in out  # KerasTuner's debug print is muted
