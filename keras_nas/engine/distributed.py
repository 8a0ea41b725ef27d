"""Runs one search as a KerasTuner chief and workers on this machine.

KerasTuner's distributed mode is the engine: a process whose
`KERASTUNER_TUNER_ID` is `chief` serves the oracle over gRPC at
`KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT` from inside `tuner.search()`,
and processes with the ids `tuner0`, `tuner1`, ... ask it for trials, train
them and report back. This module only starts those processes with the three
variables set, relays their output, waits for them, and starts a worker that
died again under its id (KerasTuner's chief then hands it back the trial that
id was running).

Importing it also mutes a stray debug `print` of KerasTuner 1.4.x
(`conditions.Parent.to_proto`), which otherwise writes a line for every
conditional decision each time a trial crosses the wire.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from keras_nas import compat
from keras_nas import validation

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"

MAX_RESTARTS = 3
"""How many times `launch` starts a dead worker again, per worker."""

STOP_EXIT_CODE = 90
"""The exit code of a worker that stops the whole search on purpose.

`launch` does not restart such a worker: it stops every process and raises
`LaunchError`, as for a failed chief (for example when a worker has seen too
many consecutive failed trials).
"""

_POLL_SECONDS = 0.2
_STOP_SECONDS = 10.0
# KerasTuner's chief checks every 20 s whether it may leave its server loop.
_STUCK_SECONDS = 30.0


compat.mute_proto_print()


class LaunchError(RuntimeError):
    """A distributed search failed.

    Its chief died, a worker stopped the search (`STOP_EXIT_CODE`), or no
    worker was left.

    Attributes:
        tuner_id: `"chief"` or a worker's id (`"tuner0"`, ...).
        returncode: That process's last exit code.
        restarts: How many times that worker was started again before it was
            given up, or `None` when it was not given up.
    """

    def __init__(self, tuner_id, returncode, restarts=None, given_up=None):
        self.tuner_id = tuner_id
        self.returncode = returncode
        self.restarts = restarts
        if restarts is None:
            who = "chief" if tuner_id == "chief" else f"worker {tuner_id}"
            message = (
                f"the {who} exited with code {returncode}; the other "
                "processes were stopped."
            )
        else:
            given_up = given_up or {tuner_id: returncode}
            several = len(given_up) > 1
            ids = ", ".join(given_up)
            codes = ", ".join(str(code) for code in given_up.values())
            message = (
                f"no worker is left (worker{'s' * several} {ids} exited with "
                f"code{'s' * several} {codes} after {restarts} "
                f"restart{'' if restarts == 1 else 's'}{' each' * several}); "
                "the chief was stopped."
            )
        super().__init__(f"Distributed search failed: {message}")


def role(environ=None):
    """Tells what this process is in a distributed search.

    Reads the variables the way KerasTuner does: distributed mode is on when
    `KERASTUNER_ORACLE_IP` is set, and a tuner id containing `chief` marks
    the chief.

    Args:
        environ: The environment to read; `os.environ` by default.

    Returns:
        `"chief"`, `"worker"`, or `None` when not distributed.

    Raises:
        RuntimeError: If `KERASTUNER_ORACLE_IP` is set without
            `KERASTUNER_ORACLE_PORT` or `KERASTUNER_TUNER_ID`.
    """
    environ = os.environ if environ is None else environ
    if ORACLE_IP not in environ:
        return None
    for name in (ORACLE_PORT, TUNER_ID):
        if name not in environ:
            raise RuntimeError(
                f"Environment variable {ORACLE_IP} is set but {name} is not; "
                "a distributed search needs all of "
                f"{TUNER_ID}, {ORACLE_IP} and {ORACLE_PORT}."
            )
    return "chief" if "chief" in environ[TUNER_ID] else "worker"


def free_port(host="127.0.0.1"):
    """Returns a TCP port that is free on `host` at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def launch(
    command,
    workers,
    host="127.0.0.1",
    port=None,
    env=None,
    timeout=None,
    max_restarts=MAX_RESTARTS,
):
    """Runs `command` as one chief and `workers` workers, and waits for them.

    Every process runs the same command with `KERASTUNER_TUNER_ID` set to
    `chief`, `tuner0`, `tuner1`, ... and `KERASTUNER_ORACLE_IP`/`_PORT` set
    to `host` and `port`. The chief's output is passed through; each line of
    a worker is prefixed with its id (`[tuner0] ...`).

    A worker that dies (killed, or a non-zero exit code) while the chief
    runs is started again with the same id, up to `max_restarts` times
    (unless its exit code is `STOP_EXIT_CODE`, which stops the search);
    KerasTuner's chief then hands it the trial it was running, which it
    trains again from scratch, so the search keeps its trial ids and count.
    A worker out of restarts is given up and the others go on; if the chief
    then waits on it (it gives no trial away while the worker's id holds
    one), it is stopped once no worker is left and `LaunchError` raised.
    If the chief fails, the others are stopped; on Ctrl-C (or SIGTERM) all
    are. Once the chief has finished, a worker still running has no trial
    left (the chief only stops when no trial runs) and is stopped after a
    grace period.

    Args:
        command: The command to run, an argv list such as
            `[sys.executable, "-m", "keras_nas_cli.main", "run", ...]`.
        workers: Number of worker processes, a positive integer.
        host: The address the chief serves on and the workers connect to.
        port: The chief's port; a free one is picked when `None`.
        env: Optional mapping of extra environment variables for all
            processes, set over the current environment.
        timeout: Optional number of seconds after which every process is
            terminated and `TimeoutError` raised; no limit when `None`.
        max_restarts: How many times each worker may be started again, a
            non-negative integer (`MAX_RESTARTS` by default).

    Returns:
        The chief's exit code, 0, once every process has finished.

    Raises:
        ValueError: If an argument is invalid.
        LaunchError: If the chief exited with a non-zero code, a worker
            with `STOP_EXIT_CODE`, or no worker was left to finish the
            search; names the process.
        TimeoutError: If `timeout` passed first.
        KeyboardInterrupt: On Ctrl-C, after the processes are terminated.
    """
    if isinstance(command, str) or not command or not all(
        isinstance(arg, str) for arg in command
    ):
        raise ValueError(
            "Received an invalid value for `command`, expected a non-empty "
            f"list of strings (an argv list). Received: command={command!r}"
        )
    workers = validation.check_positive_int("workers", workers)
    if port is None:
        port = free_port(host)
    port = validation.check_positive_int("port", port)
    if timeout is not None:
        timeout = validation.check_positive_float("timeout", timeout)
    max_restarts = validation.check_non_negative_int("max_restarts", max_restarts)
    base = dict(os.environ)
    base.update(env or {})
    base.setdefault("PYTHONUNBUFFERED", "1")
    base[ORACLE_IP] = host
    base[ORACLE_PORT] = str(port)

    group = _Group(command, base)
    _log(
        group.lock,
        f"Distributed search: chief and {workers} worker(s) on {host}:{port}",
    )
    with _sigterm_as_exit():
        try:
            for tuner_id in ["chief"] + [f"tuner{i}" for i in range(workers)]:
                group.start(tuner_id)
            _wait(group, timeout, max_restarts, (host, port))
        except BaseException:
            group.terminate()
            raise
        finally:
            for relay in group.relays:
                relay.join(timeout=_STOP_SECONDS)
    return group.procs["chief"].returncode


class _Group:
    """The chief and workers: their processes, restarts and output relays."""

    def __init__(self, command, environ):
        self.command, self.environ = list(command), environ
        self.lock = threading.Lock()
        self.procs, self.relays = {}, []
        self.stopped = set()  # Terminated by us: not a failure.
        self.restarts = {}  # tuner_id -> times started again
        self.given_up = {}  # tuner_id -> last exit code

    def start(self, tuner_id):
        """Starts (or starts again) the process of `tuner_id`."""
        proc = subprocess.Popen(
            self.command,
            env={**self.environ, TUNER_ID: tuner_id},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.procs[tuner_id] = proc
        prefix = "" if tuner_id == "chief" else f"[{tuner_id}] "
        for pipe, stream in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
            relay = threading.Thread(
                target=_relay, args=(pipe, stream, prefix, self.lock), daemon=True
            )
            relay.start()
            self.relays.append(relay)

    def workers(self):
        return [i for i in self.procs if i != "chief"]

    def terminate(self):
        """Terminates the running processes, then kills those that linger."""
        alive = [(i, p) for i, p in self.procs.items() if p.poll() is None]
        for tuner_id, proc in alive:
            self.stopped.add(tuner_id)
            proc.terminate()
        deadline = time.monotonic() + _STOP_SECONDS
        for _, proc in alive:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait(group, timeout, max_restarts, address):
    """Polls the processes until all end, restarting dead workers.

    Raises on the chief's failure, on a timeout, or when no worker is left.
    """
    begin = time.monotonic()
    chief_done = stuck_since = None
    while True:
        now = time.monotonic()
        if timeout is not None and now - begin > timeout:
            raise TimeoutError(
                f"Distributed search still running after {timeout:g} seconds; "
                "the processes were stopped."
            )
        chief = group.procs["chief"].poll()
        if chief not in (None, 0) and "chief" not in group.stopped:
            raise LaunchError("chief", chief)
        running = [i for i in group.workers() if group.procs[i].poll() is None]
        for tuner_id in group.workers():
            code = group.procs[tuner_id].returncode
            if code == STOP_EXIT_CODE and chief is None and (
                tuner_id not in group.stopped
            ):
                raise LaunchError(tuner_id, code)
            if tuner_id not in running and chief is None:
                if _revive(group, tuner_id, max_restarts):
                    running.append(tuner_id)
        if chief is None and not running and group.given_up:
            # A worker given up while it held a trial (or had asked for
            # one) keeps KerasTuner's chief waiting in its server loop for
            # good; a chief that has left the loop closes its port.
            stuck_since = (stuck_since or now) if _serving(*address) else None
            if stuck_since is not None and now - stuck_since > _STUCK_SECONDS:
                first = next(iter(group.given_up))
                raise LaunchError(
                    first, group.given_up[first], group.restarts[first],
                    given_up=group.given_up,
                )
        if chief is not None and not running:
            return
        if chief == 0 and running:
            # KerasTuner's chief stops only once no trial runs, so a worker
            # still alive has nothing left to do (it may have connected
            # after the end, and would wait an hour for the chief).
            chief_done = chief_done or now
            if now - chief_done > _STOP_SECONDS:
                for tuner_id in running:
                    _log(
                        group.lock,
                        f"The chief has finished; stopping idle {tuner_id}.",
                    )
                group.terminate()
        time.sleep(_POLL_SECONDS)


def _revive(group, tuner_id, max_restarts):
    """Starts a dead worker again if it may; returns whether it did."""
    code = group.procs[tuner_id].returncode
    if code == 0 or tuner_id in group.stopped or tuner_id in group.given_up:
        return False
    done = group.restarts.get(tuner_id, 0)
    if done >= max_restarts:
        group.given_up[tuner_id] = code
        group.restarts[tuner_id] = done
        left = sum(
            1 for i in group.workers()
            if i not in group.given_up and group.procs[i].poll() is None
        )
        _log(
            group.lock,
            f"[launcher] worker {tuner_id} exited with code {code}; giving it "
            f"up after {done} restart{'' if done == 1 else 's'} "
            f"({left} worker{'' if left == 1 else 's'} left)",
        )
        return False
    group.restarts[tuner_id] = done + 1
    _log(
        group.lock,
        f"[launcher] worker {tuner_id} exited with code {code}; restarting it "
        f"({done + 1} of {max_restarts})",
    )
    group.start(tuner_id)
    return True


def _serving(host, port):
    """Tells whether something accepts TCP connections at `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _relay(pipe, stream, prefix, lock):
    """Copies a child's output line by line to this process's stream."""
    with pipe:
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            if not line.endswith("\n"):
                line += "\n"
            out = getattr(sys, stream)
            with lock:
                out.write(prefix + line)
                out.flush()


def _log(lock, message):
    with lock:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


class _sigterm_as_exit:
    """Turns SIGTERM into `SystemExit` (main thread only), so children stop."""

    def __enter__(self):
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc):
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous or signal.SIG_DFL)
        return False

    @staticmethod
    def _handle(signum, frame):
        raise SystemExit(128 + signum)
