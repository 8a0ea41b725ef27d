"""Runs benchmark tasks, in this process or in a pool of worker processes.

A task is one strategy and seed: `(label, factory, budget, seed, settings,
directory)`, run by `keras_nas.bench.driver.run_from_factory` with the
`settings` (metrics, direction, missing policy) as keyword arguments and
the oracle's trial files in a folder of `directory`, removed as it ends.
"""

import concurrent.futures
import contextlib
import multiprocessing
import os
import shutil
import sys

from keras_nas.bench.driver import run_from_factory

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The environment variables that size the BLAS and OpenMP thread pools."""


def run_tasks(table, tasks, jobs, finished):
    """Runs tasks on a table, calling `finished` with each `RunResult`.

    With `jobs=1` the tasks run here, in order. With more, they run in
    `jobs` worker processes (started with "spawn", each given the table once,
    with `worker_threads_limited(jobs)` and stderr on the null device), and
    `finished` is called here, in the order they end; an error in a task,
    or in `finished`, cancels the tasks not started yet.

    Args:
        table: The `Table`.
        tasks: A list of tasks (see the module docstring); with `jobs > 1`
            they must be picklable.
        jobs: The number of processes.
        finished: A callable taking one `RunResult`.
    """
    if jobs == 1:
        for task in tasks:
            finished(_run_task(task, table))
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_init_worker,
        initargs=(table,),
    ) as pool:
        with _workers_stderr_silenced(), worker_threads_limited(jobs):
            futures = [pool.submit(_run_task, task) for task in tasks]
        try:
            for future in concurrent.futures.as_completed(futures):
                finished(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


_WORKER_TABLE = None


def _init_worker(table):
    global _WORKER_TABLE
    _WORKER_TABLE = table


def _run_task(task, table=None):
    label, factory, budget, seed, settings, directory = task
    table = table if table is not None else _WORKER_TABLE
    try:
        return run_from_factory(table, label, factory, budget, seed,
                                directory=directory, **settings)
    finally:
        shutil.rmtree(os.path.join(directory, f"{label}-{seed}"),
                      ignore_errors=True)


@contextlib.contextmanager
def worker_threads_limited(jobs):
    """Caps the BLAS and OpenMP threads of worker processes started inside.

    `jobs` processes each running a BLAS pool of one thread per core
    oversubscribe the machine, and OpenBLAS's waiting threads spin: on
    KerasTuner's Bayesian optimisation this tripled the processor time of
    a run. Workers started inside get `cpu_count // jobs` threads (at least
    one) through `THREAD_VARIABLES`; a variable the user has set is kept.
    Nothing in a run depends on the thread count but the order of
    floating-point sums.

    Args:
        jobs: The number of worker processes.
    """
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    added = [name for name in THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = threads
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextlib.contextmanager
def _workers_stderr_silenced():
    """Starts worker processes with their stderr on the null device.

    Each worker imports TensorFlow, whose C++ start-up lines go to file
    descriptor 2 before any Python setting can stop them. Workers are
    started while the pool receives its tasks, and keep the stderr they were
    started with; their errors still reach this process as exceptions.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # No real descriptor 2: nothing to hide.
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
