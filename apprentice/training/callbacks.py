"""Trainer callbacks of every apprentice training (SFT and DPO)."""

from __future__ import annotations

import sys
from typing import Any

import torch
from transformers import TrainerCallback

from apprentice.threads import ThreadGovernor

__all__ = ["ThreadCallback"]


class ThreadCallback(TrainerCallback):
    """Every ``every`` steps on a CPU, set torch's thread count to the cores other processes leave idle
    (:class:`~apprentice.threads.ThreadGovernor`): a job that starts beside the training makes it step down
    instead of thrashing, and the training takes the cores back when the job ends. ``changes`` lists
    ``(step, threads)``; ``APPRENTICE_THREADS`` pins the count."""

    def __init__(self, every: int = 5, governor: ThreadGovernor | None = None, out: Any = None):
        self.every = every
        self.governor = governor or ThreadGovernor(torch.get_num_threads())
        self.changes: list[tuple[int, int]] = []
        self._out = out

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every or torch.cuda.is_available():
            return
        threads = self.governor.update()
        if threads is not None:
            torch.set_num_threads(threads)
            self.changes.append((state.global_step, threads))
            print(f"step {state.global_step}: {threads} torch thread{'s' * (threads > 1)} from now on (other "
                  f"processes kept {self.governor.busy:.1f} of the {self.governor.cores} cores busy)",
                  file=self._out or sys.stderr)
