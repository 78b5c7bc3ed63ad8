"""How many CPU threads torch and llama.cpp should use, found at run time.

Both engines default to one thread per core the machine reports, and both spin at every barrier for the
thread that lost its core: on a 2-core machine a training step with 2 threads ran 3x slower (and a decode
15-60x slower) as soon as one other busy process shared the cores, while 1 thread lost almost nothing. So the
count is what this process may use (its CPU affinity and its container's CPU quota, not the host's core count)
less the cores other processes keep busy right now, measured from ``/proc/stat`` over a short window.
``APPRENTICE_THREADS`` overrides it. A long training re-measures as it goes (:class:`ThreadGovernor`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from apprentice.errors import ApprenticeError

__all__ = ["CpuSample", "ThreadGovernor", "busy_elsewhere", "cpu_threads", "sample", "usable_cores"]

_CGROUP = Path("/sys/fs/cgroup")


def usable_cores(cgroup: Path = _CGROUP) -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup CPU quota (v2 ``cpu.max`` or v1
    ``cpu.cfs_quota_us``) when one is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota(cgroup)
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def _cgroup_quota(root: Path) -> float | None:
    """The container's CPU limit in cores, or None when there is none (or no cgroup file to read)."""
    try:  # cgroup v2
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return _cgroup_v1_quota(root)


def _cgroup_v1_quota(root: Path) -> float | None:
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU time of the whole machine (busy) and of this process, in clock ticks, at ``wall``."""

    wall: float
    busy: int
    own: int


def sample(proc: Path = Path("/proc")) -> CpuSample | None:
    """The machine's busy ticks (user, nice, system, irq, softirq, steal) and this process's (user + system,
    its threads included); None where ``/proc`` is not there to read."""
    try:
        fields = [int(x) for x in (proc / "stat").read_text().split("\n", 1)[0].split()[1:]]
        # the command name (field 2) may hold spaces: the fields after it start past its closing parenthesis
        own = (proc / "self" / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    busy = sum(fields[i] for i in (0, 1, 2, 5, 6, 7) if i < len(fields))
    return CpuSample(time.monotonic(), busy, int(own[11]) + int(own[12]))


def busy_elsewhere(before: CpuSample, after: CpuSample, ticks_per_second: float | None = None) -> float:
    """Cores other processes kept busy between two samples (this process's own use left out)."""
    hz = ticks_per_second or _clock_ticks()
    seconds = after.wall - before.wall
    if seconds <= 0:
        return 0.0
    return max(0.0, ((after.busy - before.busy) - (after.own - before.own)) / hz / seconds)


def _clock_ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100.0


def _override() -> int | None:
    value = os.environ.get("APPRENTICE_THREADS", "").strip()
    if not value:
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ApprenticeError(f"APPRENTICE_THREADS must be a whole number of threads (1 or more), got {value!r}")
    return count


def threads_for(cores: int, busy: float) -> int:
    """Threads to use on ``cores`` usable cores while other processes keep ``busy`` of them busy: the idle ones,
    at least one (a core counts as busy from 0.5 of it on)."""
    return max(1, cores - int(busy + 0.5))


def cpu_threads(window_s: float = 0.25) -> int:
    """Threads for a model or a training loaded now: ``APPRENTICE_THREADS`` if set, else the usable cores that
    other processes leave idle over the next ``window_s`` seconds (all usable cores where that cannot be read)."""
    override = _override()
    if override is not None:
        return override
    cores = usable_cores()
    first = sample()
    if first is None or cores == 1:
        return cores
    time.sleep(window_s)
    second = sample()
    return threads_for(cores, busy_elsewhere(first, second)) if second is not None else cores


class ThreadGovernor:
    """Re-measures, every time it is asked, the cores other processes keep busy since it was last asked, and
    says how many threads to use from now on (None: keep the current count). ``APPRENTICE_THREADS`` pins the
    count. A training asks it every few steps and sets torch's thread count from it, so a job that starts
    beside it makes it step down to one thread instead of thrashing, and it steps back up when the job ends."""

    def __init__(self, threads: int, *, cores: int | None = None, reader=sample):
        self.threads = threads
        self.cores = cores or usable_cores()
        self._read = reader
        self._last = reader()
        self.pinned = _override() is not None
        #: cores other processes kept busy over the last interval measured
        self.busy = 0.0

    def update(self) -> int | None:
        now = self._read()
        before, self._last = self._last, now
        if self.pinned or now is None or before is None:
            return None
        self.busy = busy_elsewhere(before, now)
        wanted = threads_for(self.cores, self.busy)
        if wanted == self.threads:
            return None
        self.threads = wanted
        return wanted
