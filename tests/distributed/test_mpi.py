"""graphc.distributed under `mpiexec -n 2` running tests/distributed/mpi_worker.py: the cases
that pass share one job; each failing job (a rank raises, dies or hangs) is a launch of its own.

Skipped cleanly where mpi4py or an MPI launcher is missing or cannot start two processes.
The worker checks its own numbers (N ranks with batch B against one process with batch
N*B); a test here checks that every rank passed, or that a failing job ends quickly with
the expected message instead of hanging.
"""
from __future__ import annotations

import contextlib
import functools
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi_worker.py")


def _mpiexec():
    found = shutil.which("mpiexec")
    if found:
        return found
    scripts = os.path.join(sysconfig.get_path("scripts"), "mpiexec")  # the mpich wheel's
    return scripts if os.path.exists(scripts) else None


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    env.update(extra)
    return env


@functools.lru_cache(maxsize=None)
def _launcher():
    """The mpiexec path if it can start 2 processes of this Python with mpi4py, else why not."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None, "mpi4py is not installed (pip install 'graphc[distributed]')"
    mpiexec = _mpiexec()
    if mpiexec is None:
        return None, "no mpiexec found (pip install mpich)"
    probe = "from mpi4py import MPI; assert MPI.COMM_WORLD.Get_size() == 2"
    try:
        done = subprocess.run([mpiexec, "-n", "2", sys.executable, "-c", probe], env=_env(),
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"mpiexec cannot start: {e}"
    if done.returncode != 0:
        return None, f"mpiexec -n 2 failed: {(done.stderr or done.stdout)[-300:]}"
    return mpiexec, None


SEGMENTS = "/dev/shm/mpich_shm_*"  # MPICH's shared memory on Linux


@pytest.fixture(autouse=True)
def remove_segments_of_aborted_jobs():
    """An aborted or killed MPI job leaves its shared-memory segment in /dev/shm (MPICH
    unlinks it only at MPI_Finalize; a scheduler cleans up after failed jobs): the failing
    jobs here would fill a container's small /dev/shm run after run. Removes the segments
    that appeared during the test and that no live process maps."""
    before = set(glob.glob(SEGMENTS))
    yield
    new = set(glob.glob(SEGMENTS)) - before
    for _ in range(10):  # (the ranks of a killed job may take a moment to exit)
        for path in new - _mapped_files():
            with contextlib.suppress(OSError):
                os.unlink(path)
        new = {path for path in new if os.path.exists(path)}
        if not new:
            break
        time.sleep(0.2)


def _mapped_files():
    mapped = set()
    for maps in glob.glob("/proc/[0-9]*/maps"):
        with contextlib.suppress(OSError):
            with open(maps) as f:
                mapped.update(line.split(None, 5)[-1].strip() for line in f
                              if "/dev/shm/" in line)
    return mapped


def launch(case, *args, timeout=120, **env):
    mpiexec, why = _launcher()
    if mpiexec is None:
        pytest.skip(why)
    start = time.monotonic()
    done = subprocess.run([mpiexec, "-n", "2", sys.executable, WORKER, case, *args],
                          env=_env(**env), capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - start


# The cases that pass run in one job (a launch costs seconds: mpiexec and 2 Pythons with graphc
# and Numba); each test below checks its own case's lines. The job's deadline is the generous
# one the cpu-compiled case needs (the ranks compile at their own pace before the first
# allreduce). "compiled_steps_that_differ_between_ranks_raise" leaves the ranks in step (one
# agreed allreduce), so later cases are unaffected; it runs last all the same.
PASSING = ["collectives", "ddp_eager", "ddp_unused_parameters", "ddp_bucket_view",
           "ddp_compiled_reference", "ddp_compiled_cpu", "shared_memory_buckets",
           "jit_distributed",
           "compile_distributed", "uneven_batches", "bucket_cap_mb_in_compiled_steps",
           "ddp_batchnorm_compiled_equals_eager",
           "sync_batchnorm", "symbolic_all_reduce", "ddp_no_sync_in_a_static_graph_raises",
           "sampler", "checkpoint", "compiled_steps_that_differ_between_ranks_raise"]


@pytest.fixture(scope="module")
def passing_job(tmp_path_factory):
    checkpoints = tmp_path_factory.mktemp("mpi_checkpoint")
    done, _ = launch(*PASSING, timeout=400, WORKER_TIMEOUT="300", CHECKPOINT_DIR=str(checkpoints))
    return done, checkpoints


def assert_passed(job, case):
    done, _ = job
    output = done.stdout + done.stderr
    for rank in range(2):
        assert f"PASS {case} rank {rank}" in done.stdout, output[-4000:]


def test_the_job_of_passing_cases_exits_cleanly(passing_job):
    done, _ = passing_job
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def test_collectives_on_eager_tensors(passing_job):
    assert_passed(passing_job, "collectives")


def test_ddp_eager_matches_one_process_with_the_whole_batch(passing_job):
    assert_passed(passing_job, "ddp_eager")  # several buckets, momentum, no_sync accumulation


def test_ddp_parameters_unused_on_some_ranks(passing_job):
    assert_passed(passing_job, "ddp_unused_parameters")


def test_ranks_that_compile_different_steps_raise(passing_job):
    assert_passed(passing_job, "compiled_steps_that_differ_between_ranks_raise")


def test_ddp_gradient_as_bucket_view_with_adam(passing_job):
    assert_passed(passing_job, "ddp_bucket_view")


def test_ddp_compiled_reference_target_matches_one_process(passing_job):
    assert_passed(passing_job, "ddp_compiled_reference")


def test_ddp_compiled_cpu_target_matches_one_process(passing_job):
    assert_passed(passing_job, "ddp_compiled_cpu")


def test_compiled_buckets_through_shared_memory_and_through_mpi(passing_job):
    assert_passed(passing_job, "shared_memory_buckets")


def test_jit_distributed_matches_one_process(passing_job):
    # reference and cpu targets, with a DDP model inside, and two backward() per step
    assert_passed(passing_job, "jit_distributed")


def test_compile_distributed_and_a_ddp_static_graph_match_one_process(passing_job):
    # graphc.compile(loss, inputs, updates=opt.updates(loss), distributed=True), and a DDP
    # model called on placeholders: reference and cpu targets, symbolic batch dim
    assert_passed(passing_job, "compile_distributed")


def test_uneven_last_batch_trains_as_the_mean_of_the_ranks_losses(passing_job):
    # eager DDP, jit(distributed=True) on both targets and compile(distributed=True) on cpu,
    # with the last batches smaller on one rank only
    assert_passed(passing_job, "uneven_batches")


def test_bucket_cap_mb_sets_the_buckets_of_compiled_steps(passing_job):
    assert_passed(passing_job, "bucket_cap_mb_in_compiled_steps")


def test_a_step_communicating_differently_on_one_rank_fails_clearly():
    done, seconds = launch("new_communication_on_one_rank_fails_clearly", WORKER_TIMEOUT="3")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "rank 1 compiled a step for new input shapes [[3, 3]] whose communication was " \
        "never agreed" in output, output[-3000:]
    assert seconds < 50, seconds  # the deadline ended it, then the abort


def test_ddp_compiled_cpu_with_the_mpi_progress_thread():
    done, _ = launch("ddp_compiled_cpu", timeout=400, WORKER_TIMEOUT="300",
                     GRAPHC_PROGRESS_THREAD="1",  # an environment of its own: a job of its own
                     GRAPHC_SHM_ALLREDUCE="0")    # (the thread serves MPI_Iallreduce only)
    assert_passed((done, None), "ddp_compiled_cpu")


def test_ddp_batchnorm_buffers_from_rank_zero_compiled_as_eager(passing_job):
    assert_passed(passing_job, "ddp_batchnorm_compiled_equals_eager")


def test_sync_batchnorm_matches_batchnorm_on_the_whole_batch(passing_job):
    assert_passed(passing_job, "sync_batchnorm")


def test_all_reduce_of_a_symbolic_value_is_a_graph_node(passing_job):
    assert_passed(passing_job, "symbolic_all_reduce")


def test_ddp_in_a_hand_built_graph_raises(passing_job):
    assert_passed(passing_job, "ddp_no_sync_in_a_static_graph_raises")


def test_distributed_sampler_covers_the_dataset_once_per_epoch(passing_job):
    assert_passed(passing_job, "sampler")


def test_checkpoint_written_by_rank_zero_only(passing_job):
    assert_passed(passing_job, "checkpoint")
    _, checkpoints = passing_job
    assert sorted(os.listdir(checkpoints)) == ["ckpt.graphc"]  # no temporary left behind


def test_a_rank_that_raises_aborts_the_job():
    done, seconds = launch("raise", WORKER_TIMEOUT="60")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "rank 1 fails on purpose" in output, (done.returncode, output)
    assert "rank 1 of 2 raised ValueError; aborting all 2 ranks" in output
    assert seconds < 50, seconds  # ended by the abort, not by the 60 s collective timeout


def test_a_rank_that_dies_ends_the_job():
    done, seconds = launch("die", WORKER_TIMEOUT="60")
    assert done.returncode != 0, done.stdout + done.stderr
    assert seconds < 50, seconds


def test_a_rank_that_hangs_makes_the_others_time_out():
    done, _ = launch("hang", WORKER_TIMEOUT="2")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "DistributedTimeoutError" in output and "all_reduce on rank 0 of 2 timed out " \
        "after 2 s" in output, output[-3000:]


def _example(n, *args):
    mpiexec, why = _launcher()
    if mpiexec is None:
        pytest.skip(why)
    done = subprocess.run([mpiexec, "-n", str(n), sys.executable, "ddp_mnist.py", "--epochs",
                           "1", "--samples", "256", "--target", "reference", *args],
                          cwd=os.path.join(ROOT, "examples"), env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    line = [x for x in done.stdout.splitlines() if "final loss" in x][0]
    return float(line.split("final loss ")[1].split(",")[0])


def test_example_two_ranks_equal_one_rank_with_double_batch_in_all_modes():
    eager = _example(2, "--mode", "eager", "--batch-size", "16")
    static = _example(2, "--mode", "static", "--batch-size", "16")
    graph = _example(2, "--mode", "static", "--api", "compile", "--batch-size", "16")
    single = _example(1, "--mode", "static", "--batch-size", "32")
    assert static == pytest.approx(eager, rel=1e-4)
    assert graph == pytest.approx(eager, rel=1e-4)
    assert single == pytest.approx(static, rel=1e-4)
