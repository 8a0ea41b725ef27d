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
from keras_nas.strategies import STRATEGIES
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


@pytest.mark.parametrize("max_restarts", [-1, 1.5, None])
def test_launch_rejects_an_invalid_restart_count(max_restarts):
    with pytest.raises(ValueError, match=f"max_restarts={max_restarts!r}"):
        distributed.launch([sys.executable, "-c", "pass"], 1, max_restarts=max_restarts)


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


def test_a_dead_chief_stops_every_process():
    # The chief fails at once; the workers would otherwise sleep a minute.
    command = [
        sys.executable,
        "-c",
        "import os, sys, time\n"
        "tid = os.environ['KERASTUNER_TUNER_ID']\n"
        "sys.exit(3) if tid == 'chief' else time.sleep(60)\n",
    ]
    begin = time.monotonic()
    message = "the chief exited with code 3; the other processes were stopped"
    with pytest.raises(distributed.LaunchError, match=message) as info:
        distributed.launch(command, 2)
    assert info.value.tuner_id == "chief" and info.value.returncode == 3
    assert time.monotonic() - begin < 30


def test_a_worker_that_stops_the_search_stops_every_process():
    code = distributed.STOP_EXIT_CODE
    command = [
        sys.executable,
        "-c",
        "import os, sys, time\n"
        "tid = os.environ['KERASTUNER_TUNER_ID']\n"
        f"sys.exit({code}) if tid == 'tuner1' else time.sleep(60)\n",
    ]
    begin = time.monotonic()
    message = f"worker tuner1 exited with code {code}; the other processes were"
    with pytest.raises(distributed.LaunchError, match=message) as info:
        distributed.launch(command, 2)
    assert info.value.tuner_id == "tuner1" and info.value.restarts is None
    assert time.monotonic() - begin < 30


# Each process counts its starts in FOLDER/<id>. In MODE "kill", tuner1
# kills itself on its first N starts, and the chief waits for the workers'
# FOLDER/<id>.done. In "fail", tuner1 always exits with code 3, and the
# chief waits for tuner0's file and N starts of tuner1 (and a second); in
# "fail+serve" it listens on its port for a minute instead, as KerasTuner's
# chief does while it waits on a lost worker.
_FLAKY = """
import os, signal, socket, sys, time
folder, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tid = os.environ["KERASTUNER_TUNER_ID"]
def starts(tuner_id):
    path = os.path.join(folder, tuner_id)
    return len(open(path).read()) if os.path.exists(path) else 0
def done(tuner_id):
    return os.path.exists(os.path.join(folder, tuner_id + ".done"))
with open(os.path.join(folder, tid), "a") as f:
    f.write("x")
if tid == "chief":
    if mode == "fail+serve":
        server = socket.create_server(
            ("127.0.0.1", int(os.environ["KERASTUNER_ORACLE_PORT"])))
        time.sleep(60)
    deadline = time.time() + 30
    while time.time() < deadline and not (
        done("tuner0") and (done("tuner1") if mode == "kill" else starts("tuner1") >= n)
    ):
        time.sleep(0.05)
    time.sleep(1)  # For the launcher to see tuner1's last exit.
    sys.exit(0 if time.time() < deadline else 5)
print(tid, "start", starts(tid))
if tid == "tuner1" and mode.startswith("fail"):
    sys.exit(3)
if tid == "tuner1" and starts(tid) <= n:
    os.kill(os.getpid(), signal.SIGKILL)
open(os.path.join(folder, tid + ".done"), "w").close()
"""


def _starts(folder, tuner_id):
    return len((folder / tuner_id).read_text())


def test_a_dead_worker_is_started_again_with_its_id(tmp_path, capfd):
    command = [sys.executable, "-c", _FLAKY, str(tmp_path), "2", "kill"]
    assert distributed.launch(command, 2) == 0
    captured = capfd.readouterr()
    assert _starts(tmp_path, "tuner1") == 3 and _starts(tmp_path, "tuner0") == 1
    assert _starts(tmp_path, "chief") == 1
    assert "[tuner1] tuner1 start 3" in captured.out.splitlines()
    lines = captured.err.splitlines()
    for count in (1, 2):
        assert (
            f"[launcher] worker tuner1 exited with code -9; restarting it "
            f"({count} of {distributed.MAX_RESTARTS})"
        ) in lines


def test_a_worker_out_of_restarts_leaves_the_others_to_finish(tmp_path, capfd):
    # tuner1 always fails; the chief ends once tuner1 started twice.
    command = [sys.executable, "-c", _FLAKY, str(tmp_path), "2", "fail"]
    assert distributed.launch(command, 2, max_restarts=1) == 0
    assert _starts(tmp_path, "tuner0") == 1 and _starts(tmp_path, "tuner1") == 2
    lines = capfd.readouterr().err.splitlines()
    restart = "[launcher] worker tuner1 exited with code 3; restarting it (1 of 1)"
    assert restart in lines
    assert any(
        line.startswith("[launcher] worker tuner1 exited with code 3; giving it up "
                        "after 1 restart")
        for line in lines
    )


def test_no_worker_left_stops_a_chief_that_waits_on_one(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "_STUCK_SECONDS", 0.5)
    command = [sys.executable, "-c", _FLAKY, str(tmp_path), "0", "fail+serve"]
    begin = time.monotonic()
    message = (
        r"no worker is left \(worker tuner1 exited with code 3 after 1 "
        r"restart\); the chief was stopped"
    )
    with pytest.raises(distributed.LaunchError, match=message) as info:
        distributed.launch(command, 2, max_restarts=1)
    assert info.value.tuner_id == "tuner1" and info.value.restarts == 1
    assert _starts(tmp_path, "tuner1") == 2 and _starts(tmp_path, "tuner0") == 1
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

    # `interrupt_main` does nothing unless Python handles the signal: make
    # sure it does, whatever an earlier test in this worker process left.
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=interrupt_when_all_started, daemon=True).start()
    begin = time.monotonic()
    try:
        with pytest.raises(error):
            distributed.launch([sys.executable, "-c", _SLEEPER, str(tmp_path)], 2)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
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


def _child(parent, tuner_id):
    """The pid of `parent`'s child process of `tuner_id`, or `None`."""
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if f"{distributed.TUNER_ID}={tuner_id}".encode() in environ:
            return int(name)
    return None


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):  # Not there yet, or being written.
        return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_search_goes_on_after_a_worker_is_killed(tmp_path, npz_dataset, capfd):
    """SIGKILL a worker once the chief hands it a trial; the trial is retried.

    Runs `launch` here, as `keras-nas run --workers 2` does in its process.
    """
    max_trials = 3
    run_dir = tmp_path / "runs" / "toy"
    command = [
        sys.executable, "-m", "keras_nas_cli.main", "run",
        "--dataset", str(npz_dataset), "--space", "mlp",
        "--max-trials", str(max_trials), "--epochs", "1", "--no-final-fit",
        "--ensemble", "1", "--directory", str(tmp_path / "runs"), "--name", "toy",
        "--export-dir", str(tmp_path / "models"),
    ]
    killed = {}

    def kill_a_worker_in_its_first_trial():
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state = _read_json(run_dir / "oracle.json") or {}
            if state.get("ongoing_trials"):
                break
            time.sleep(0.05)
        else:
            return
        victim, trial_id = sorted(state["ongoing_trials"].items())[0]
        os.kill(_child(os.getpid(), victim), signal.SIGKILL)
        trial = _read_json(run_dir / f"trial_{trial_id}" / "trial.json")
        killed.update(victim=victim, trial_id=trial_id, status=trial["status"])

    killer = threading.Thread(target=kill_a_worker_in_its_first_trial, daemon=True)
    killer.start()
    code = distributed.launch(
        command, WORKERS, env={"CUDA_VISIBLE_DEVICES": ""}, timeout=300
    )
    killer.join(timeout=10)
    captured = capfd.readouterr()
    out = captured.out + captured.err
    assert code == 0
    # Killed mid-trial: the chief still counted the trial as running.
    assert killed.get("status") == "RUNNING", (killed, out)
    assert (
        f"[launcher] worker {killed['victim']} exited with code -9; restarting "
        f"it (1 of {distributed.MAX_RESTARTS})"
    ) in captured.err.splitlines()
    trials = [
        json.load(open(f)) for f in glob.glob(str(run_dir / "trial_*" / "trial.json"))
    ]
    assert sorted(t["trial_id"] for t in trials) == [str(i) for i in range(max_trials)]
    assert all(t["status"] == "COMPLETED" for t in trials)
    values = {
        json.dumps(t["hyperparameters"]["values"], sort_keys=True) for t in trials
    }
    assert len(values) == max_trials
    assert f"{max_trials} completed, 0 failed" in out
