"""Runs one search as a KerasTuner chief and workers on this machine.

KerasTuner's distributed mode is the engine: a process whose
`KERASTUNER_TUNER_ID` is `chief` serves the oracle over gRPC at
`KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT` from inside `tuner.search()`,
and processes with the ids `tuner0`, `tuner1`, ... ask it for trials, train
them and report back. This module only starts those processes with the three
variables set, relays their output and waits for them.

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

_POLL_SECONDS = 0.2
_STOP_SECONDS = 10.0


compat.mute_proto_print()


class LaunchError(RuntimeError):
    """A process of a distributed search failed.

    Attributes:
        tuner_id: `"chief"` or the worker's id (`"tuner0"`, ...).
        returncode: The process's exit code.
    """

    def __init__(self, tuner_id, returncode):
        self.tuner_id = tuner_id
        self.returncode = returncode
        who = "chief" if tuner_id == "chief" else f"worker {tuner_id}"
        super().__init__(
            f"Distributed search failed: the {who} exited with code "
            f"{returncode}; the other processes were stopped."
        )


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


def launch(command, workers, host="127.0.0.1", port=None, env=None, timeout=None):
    """Runs `command` as one chief and `workers` workers, and waits for them.

    Every process runs the same command with `KERASTUNER_TUNER_ID` set to
    `chief`, `tuner0`, `tuner1`, ... and `KERASTUNER_ORACLE_IP`/`_PORT` set
    to `host` and `port`. The chief's output is passed through; each line of
    a worker is prefixed with its id (`[tuner0] ...`). If a process fails,
    the others are terminated; on Ctrl-C (or SIGTERM) all are terminated.
    Once the chief has finished, a worker still running has no trial left
    (the chief only stops when no trial runs) and is stopped after a grace
    period.

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

    Returns:
        The chief's exit code, 0, once every process has finished.

    Raises:
        ValueError: If an argument is invalid.
        LaunchError: If a process exited with a non-zero code; names it.
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
    base = dict(os.environ)
    base.update(env or {})
    base.setdefault("PYTHONUNBUFFERED", "1")
    base[ORACLE_IP] = host
    base[ORACLE_PORT] = str(port)

    ids = ["chief"] + [f"tuner{i}" for i in range(workers)]
    lock = threading.Lock()
    procs, stopped, relays = {}, set(), []
    _log(lock, f"Distributed search: chief and {workers} worker(s) on {host}:{port}")
    with _sigterm_as_exit():
        try:
            for tuner_id in ids:
                proc = subprocess.Popen(
                    list(command),
                    env={**base, TUNER_ID: tuner_id},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
                procs[tuner_id] = proc
                prefix = "" if tuner_id == "chief" else f"[{tuner_id}] "
                for pipe, stream in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
                    relay = threading.Thread(
                        target=_relay, args=(pipe, stream, prefix, lock), daemon=True
                    )
                    relay.start()
                    relays.append(relay)
            _wait(procs, stopped, lock, timeout)
        except BaseException:
            _terminate(procs, stopped)
            raise
        finally:
            for relay in relays:
                relay.join(timeout=_STOP_SECONDS)
    return procs["chief"].returncode


def _wait(procs, stopped, lock, timeout):
    """Polls the processes until all end; raises on a failure or timeout."""
    begin = time.monotonic()
    chief_done = None
    while True:
        if timeout is not None and time.monotonic() - begin > timeout:
            raise TimeoutError(
                f"Distributed search still running after {timeout:g} seconds; "
                "the processes were stopped."
            )
        running = []
        for tuner_id, proc in procs.items():
            code = proc.poll()
            if code is None:
                running.append(tuner_id)
            elif code != 0 and tuner_id not in stopped:
                raise LaunchError(tuner_id, code)
        if not running:
            return
        if procs["chief"].returncode == 0:
            # KerasTuner's chief stops only once no trial runs, so a worker
            # still alive has nothing left to do (it may have connected
            # after the end, and would wait an hour for the chief).
            chief_done = chief_done or time.monotonic()
            if time.monotonic() - chief_done > _STOP_SECONDS:
                for tuner_id in running:
                    _log(lock, f"The chief has finished; stopping idle {tuner_id}.")
                _terminate(procs, stopped)
        time.sleep(_POLL_SECONDS)


def _terminate(procs, stopped):
    """Terminates the running processes, then kills those that linger."""
    alive = [(i, p) for i, p in procs.items() if p.poll() is None]
    for tuner_id, proc in alive:
        stopped.add(tuner_id)
        proc.terminate()
    deadline = time.monotonic() + _STOP_SECONDS
    for _, proc in alive:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
