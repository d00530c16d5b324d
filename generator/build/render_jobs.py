"""Rendering in worker processes: one job per technique, its results read back from the cache.

A render job names everything a renderer needs -- the technique, its
settings, the cache keys of its units, the photos (without their tensors),
the model labels -- and a worker reads the results from the result cache,
where the build stored them before submitting the job.  The in-process path
(``--jobs 1``) runs the very same function, so a renderer sees identical
inputs whatever the number of workers, and the figures are byte-identical for
every ``--jobs`` (``tests/test_parallel_render.py`` builds with 1 and 3).

Workers are forked from a *forkserver* that imported the renderers once, so
starting one costs milliseconds, and none inherits the build's torch thread
pool.  They run one torch thread each.  On a GPU they render beside the
build's compute; on a CPU they wait until it is done (:class:`RenderPool`).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("generator")


@dataclass(frozen=True)
class RenderJob:
    technique: str
    settings: dict  # compute and render settings, merged (what captions state)
    keys: dict  # (image id or None, model) -> unit key in the result cache
    render_key: str
    out_dir: Path
    cache_dir: Path
    profile: object  # generator.config.Profile
    images: list  # ImageInput without tensors
    labels: dict  # model name -> label


def light_images(images: list) -> list:
    """The photos as a renderer sees them: everything but the model's input tensor (which needs torch to unpickle)."""
    return [dataclasses.replace(i, tensor=None) for i in images]


def run_job(job: RenderJob) -> tuple[dict, float]:
    """Render one technique from its cached results; return its state and the seconds it took."""
    from generator.build.cache import ResultCache
    from generator.build.output import render_technique
    from generator.build.state import StateStore

    t0 = time.perf_counter()
    cache = ResultCache(job.cache_dir)
    results = {}
    for unit, key in job.keys.items():
        result = cache.get(job.technique, key)
        if result is None:
            raise RuntimeError(
                f"internal error: the result of {'/'.join(p for p in unit if p)} vanished from the "
                f"cache ({cache.path(job.technique, key)}) before it was rendered; rerun the build"
            )
        results[unit] = result
    state = render_technique(
        job.technique,
        job.settings,
        results,
        job.render_key,
        job.out_dir,
        job.profile,
        job.images,
        StateStore(job.out_dir),
        labels=job.labels,
    )
    return state, time.perf_counter() - t0


def _worker_init(build_pid: int | None = None) -> None:
    """A worker logs like the command line and draws with Agg; torch (imported by the renderers) gets one thread.
    It dies with the build that started it (``build_pid``), even one killed with SIGKILL, which leaves it no
    chance to say so: the worker's parent is the forkserver, not the build, so it watches the build itself."""
    from generator.cli import configure_logging

    if build_pid is not None:
        threading.Thread(target=_die_with, args=(build_pid,), name="die-with-the-build", daemon=True).start()
    os.environ.setdefault("MPLBACKEND", "Agg")
    configure_logging(verbose=logging.getLogger("generator").level == logging.DEBUG)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


WATCH_SECONDS = 0.5
"""How often a render worker checks that its build is still alive."""


def _die_with(pid: int) -> None:
    """Exit this process at once when process ``pid`` is gone (so it never writes into an output folder whose
    lock its build no longer holds)."""
    while True:
        time.sleep(WATCH_SECONDS)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # alive, another user's: cannot happen for our own parent, but not dead
            pass


def preload_modules() -> list[str]:
    """What the forkserver imports once (the renderers and the cache), so that every worker forked from it
    starts warm."""
    from generator.chapters import registry

    return ["generator.build.render_jobs", "generator.build.cache", "generator.build.output"] + [
        tech.render_module for tech in registry().values()
    ]


MAX_DEFAULT_JOBS = 8
"""A build has eleven render jobs, one per technique, and each worker holds its own matplotlib (and torch)."""


def default_jobs() -> int:
    """The number of CPU cores this process may use, at most :data:`MAX_DEFAULT_JOBS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_JOBS))


class RenderPool:
    """Runs render jobs in ``jobs`` worker processes (started on the first job), or in this process for 1.

    With ``defer`` the jobs wait until :meth:`start`: on a CPU the models' compute keeps every core busy,
    and worker processes beside it would only slow its threads down (a descheduled OpenMP thread stalls
    the others at every barrier), so a CPU build renders once the compute is done, all workers at once.
    On a GPU the build's own cores are idle while the GPU computes, and renders start right away.
    """

    def __init__(self, jobs: int, defer: bool = False):
        self.jobs = max(1, int(jobs))
        self.defer = defer
        self._executor: ProcessPoolExecutor | None = None
        self._waiting: list[tuple[RenderJob, Future]] = []

    def submit(self, job: RenderJob) -> Future:
        if self.defer:
            fut: Future = Future()
            self._waiting.append((job, fut))
            return fut
        return self._run(job)

    def start(self) -> None:
        """Run the deferred jobs (in the order they were submitted). A single job runs in this process: a
        worker would cost its start (seconds: the forkserver imports torch and matplotlib) and share nothing."""
        waiting, self._waiting = self._waiting, []
        inline = len(waiting) <= 1
        for job, placeholder in waiting:
            _chain(self._run(job, inline=inline), placeholder)

    def _run(self, job: RenderJob, inline: bool = False) -> Future:
        if self.jobs == 1 or inline:
            fut: Future = Future()
            try:
                fut.set_result(run_job(job))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the future
                if isinstance(exc, KeyboardInterrupt):
                    raise
                fut.set_exception(exc)
            return fut
        if self._executor is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(preload_modules())
            else:
                ctx = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                max_workers=self.jobs, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
            )
        return self._executor.submit(run_job, job)

    def close(self, cancel: bool = False, terminate: bool = False) -> None:
        """Wait for the running jobs (``cancel``: drop the queued ones), or with ``terminate`` (the build was
        interrupted) stop the workers at once instead of letting them finish what they were drawing."""
        for _, placeholder in self._waiting:
            placeholder.cancel()
        self._waiting = []
        if self._executor is None:
            return
        if terminate:
            workers = list((getattr(self._executor, "_processes", None) or {}).values())
            self._executor.shutdown(wait=False, cancel_futures=True)
            for proc in workers:
                proc.terminate()
            for proc in workers:
                proc.join(timeout=2)
                if proc.is_alive():
                    proc.kill()
        else:
            self._executor.shutdown(wait=True, cancel_futures=cancel)
        self._executor = None


def _chain(source: Future, target: Future) -> None:
    """Settle ``target`` with ``source``'s outcome once that is known."""

    def settle(done: Future) -> None:
        if done.cancelled():
            target.cancel()
        elif done.exception() is not None:
            target.set_exception(done.exception())
        else:
            target.set_result(done.result())

    source.add_done_callback(settle)
