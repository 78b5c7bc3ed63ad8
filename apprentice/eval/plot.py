"""The eval plot: accuracy per (strategy, model) with Wilson 95% error bars, and seconds per item."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from apprentice.eval.report import CellStats

__all__ = ["plot_cells"]


def plot_cells(cells: Sequence[CellStats], path: Path, title: str) -> None:
    """Write a PNG with two panels: accuracy (with CI) and mean seconds per item."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{c.strategy}\n{c.model}" for c in cells]
    accuracy = [100 * c.accuracy for c in cells]
    errors = [[100 * (c.accuracy - c.ci_low) for c in cells], [100 * (c.ci_high - c.accuracy) for c in cells]]
    figure, (left, right) = plt.subplots(1, 2, figsize=(max(6.0, 1.6 * len(cells) + 3), 4))
    positions = range(len(cells))
    left.bar(positions, accuracy, yerr=errors, capsize=4, color="#4c72b0")
    left.set_xticks(list(positions), labels, fontsize=8)
    left.set_ylim(0, 100)
    left.set_ylabel("accuracy (%), Wilson 95% CI")
    right.bar(positions, [c.seconds for c in cells], color="#dd8452")
    right.set_xticks(list(positions), labels, fontsize=8)
    right.set_ylabel("seconds per item")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
