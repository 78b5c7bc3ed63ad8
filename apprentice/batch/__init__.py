"""Batch jobs: a JSONL file of questions through a strategy, resumable, on threads or on Ray."""

from apprentice.batch.inputs import BatchItem, TaskConfig, read_items
from apprentice.batch.job import BatchJob, load_batch_model, pending_items, run_batch
from apprentice.batch.output import FIELDS, OutputFile, load_done
from apprentice.batch.progress import BatchSummary, Tracker
from apprentice.batch.worker import (
    RetryPolicy,
    WorkerConfig,
    is_transient,
    job_identity,
    process_item,
)

__all__ = [
    "FIELDS",
    "BatchItem",
    "BatchJob",
    "BatchSummary",
    "OutputFile",
    "RetryPolicy",
    "TaskConfig",
    "Tracker",
    "WorkerConfig",
    "is_transient",
    "job_identity",
    "load_batch_model",
    "load_done",
    "pending_items",
    "process_item",
    "read_items",
    "run_batch",
]
