"""The thread count found at run time: affinity and container quota, other processes' load, the override, and a
training stepping down when a job starts beside it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from apprentice import threads
from apprentice.errors import ApprenticeError
from apprentice.threads import CpuSample, ThreadGovernor, busy_elsewhere, threads_for, usable_cores


def _cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)


def test_the_container_quota_caps_the_cores_the_machine_reports(tmp_path, two_cores):
    assert usable_cores(_cgroup(tmp_path / "v2", {"cpu.max": "50000 100000\n"})) == 1  # half a core -> 1 thread
    assert usable_cores(_cgroup(tmp_path / "v2max", {"cpu.max": "max 100000\n"})) == 2
    v1 = {"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}
    assert usable_cores(_cgroup(tmp_path / "v1", v1)) == 1
    assert usable_cores(_cgroup(tmp_path / "v1none", {"cpu/cpu.cfs_quota_us": "-1\n",
                                                      "cpu/cpu.cfs_period_us": "100000\n"})) == 2
    assert usable_cores(tmp_path / "nothing") == 2
    assert usable_cores(_cgroup(tmp_path / "big", {"cpu.max": "800000 100000\n"})) == 2  # quota above affinity


def test_a_sample_reads_the_machine_and_this_process_even_with_odd_command_names(tmp_path):
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "stat").write_text("cpu  100 5 20 900 7 1 2 3 0 0\ncpu0 50 2 10 450 3 0 1 1 0 0\n")
    # the command name holds a space and a parenthesis; utime 40 and stime 2 are fields 14 and 15
    (proc / "self" / "stat").write_text("123 (py (x) y) R 1 1 1 0 -1 4194560 10 0 0 0 40 2 0 0 20 0 3 0\n")
    got = threads.sample(proc)
    assert (got.busy, got.own) == (100 + 5 + 20 + 1 + 2 + 3, 42)
    assert threads.sample(tmp_path / "absent") is None


def test_busy_elsewhere_leaves_this_process_out():
    before, after = CpuSample(0.0, 1000, 300), CpuSample(2.0, 1000 + 400, 300 + 200)
    # 400 ticks busy in 2 s at 100 ticks/s = 2 cores, 1 of them ours
    assert busy_elsewhere(before, after, 100) == pytest.approx(1.0)
    assert busy_elsewhere(after, after, 100) == 0.0
    assert [threads_for(2, b) for b in (0.0, 0.4, 0.6, 1.0, 2.0, 5.0)] == [2, 2, 1, 1, 1, 1]


def test_the_override_pins_the_count_and_a_bad_one_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("APPRENTICE_THREADS", "3")
    assert threads.cpu_threads() == 3
    assert ThreadGovernor(3, cores=2, reader=lambda: CpuSample(time.monotonic(), 0, 0)).update() is None
    for bad in ("two", "0", "-1", "1.5"):
        monkeypatch.setenv("APPRENTICE_THREADS", bad)
        with pytest.raises(ApprenticeError, match="APPRENTICE_THREADS must be a whole number"):
            threads.cpu_threads()


def test_the_governor_steps_down_when_a_job_starts_beside_it_and_back_up_when_it_ends(monkeypatch):
    monkeypatch.delenv("APPRENTICE_THREADS", raising=False)
    # (wall, machine busy ticks, own ticks) at 100 ticks/s: we use both cores, then another job takes one, then
    # it ends (our one thread leaves the second core idle)
    samples = iter([CpuSample(0, 0, 0), CpuSample(10, 2000, 2000), CpuSample(20, 4000, 3000),
                    CpuSample(30, 6000, 4000), CpuSample(40, 7000, 5000), CpuSample(50, 9000, 7000)])
    monkeypatch.setattr(threads, "_clock_ticks", lambda: 100.0)
    governor = ThreadGovernor(2, cores=2, reader=lambda: next(samples))
    assert [governor.update() for _ in range(5)] == [None, 1, None, 2, None]
    assert governor.busy == 0.0


def test_another_busy_process_is_seen(monkeypatch):
    monkeypatch.delenv("APPRENTICE_THREADS", raising=False)
    spin = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<4: pass"])
    try:
        time.sleep(0.5)
        first = threads.sample()
        time.sleep(1.5)
        assert busy_elsewhere(first, threads.sample()) >= 0.6
    finally:
        spin.kill()
        spin.wait()


def test_the_training_callback_sets_torch_threads_every_few_steps():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from types import SimpleNamespace

    from apprentice.training.callbacks import ThreadCallback

    class Governor:
        cores, busy, answers = 2, 1.0, iter([1, None, 2])

        def update(self):
            return next(self.answers)

    kept, lines = torch.get_num_threads(), []
    callback = ThreadCallback(every=5, governor=Governor(), out=SimpleNamespace(write=lines.append, flush=lambda: 0))
    try:
        for step in range(1, 16):
            callback.on_step_end(None, SimpleNamespace(global_step=step), None)
            if step == 5:
                assert torch.get_num_threads() == 1
        assert callback.changes == [(5, 1), (15, 2)] and torch.get_num_threads() == 2
        assert "step 5: 1 torch thread from now on (other processes kept 1.0 of the 2 cores busy)" in "".join(lines)
    finally:
        torch.set_num_threads(kept)
