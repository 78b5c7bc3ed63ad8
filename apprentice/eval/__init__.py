"""The evaluation harness: strategy x model grids over a task, with resumable traces and reports."""

from apprentice.eval.harness import (
           EvalConfig,
           EvalReport,
           cell_key,
           options_hash,
           run_eval,
           write_report,
)
from apprentice.eval.report import (
           PRICES,
           CellStats,
           ItemResult,
           cell_stats,
           price_of,
           wilson_interval,
)

__all__ = ["EvalConfig", "EvalReport", "CellStats", "ItemResult", "PRICES", "cell_key", "cell_stats",
           "options_hash", "price_of", "run_eval", "wilson_interval", "write_report"]
