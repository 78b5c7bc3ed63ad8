"""The trace store: every run leaves one trace (SQLite), queried by harvest, eval and the UI."""

from apprentice.traces.records import STEP_KINDS, Run, Step, Verdict
from apprentice.traces.store import TraceStore, open_store

__all__ = ["STEP_KINDS", "Run", "Step", "TraceStore", "Verdict", "open_store"]
