"""Time to first token and frame rate of the chat UI while it streams, with the real embedded model.

Side by side, on the same question and the same loaded model:
  * headless library call: ``run_question`` with a token callback on a worker thread (no UI);
  * the chat UI: ``ChatApp`` driven by a Textual pilot (headless terminal, 120x40); the clock
    starts when Enter is pressed and stops when the first token is shown on screen.
Frames are counted at ``App._display`` (one per compositor update the terminal would get)
while tokens stream (from the first to the last token shown of each model call). Tokens cross
from the worker through a buffer that the UI drains 30 times a second.
Run: ``.venv/bin/python benchmarks/tui_latency.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# one llama.cpp thread: with 2 threads on a loaded 2-core machine, ggml's thread barrier makes
# decode speed swing 20x from run to run, drowning what this measures
os.environ.setdefault("APPRENTICE_THREADS", "1")

from apprentice.models import load_chat_model  # noqa: E402
from apprentice.tui.agent import TurnListener  # noqa: E402
from apprentice.tui.app import ChatApp  # noqa: E402
from apprentice.tui.widgets import AnswerBlock  # noqa: E402

QUESTION = "What is 12 times 7?"


def _fresh_home() -> None:
    """Each turn starts in an empty data folder, so every run asks the same first question."""
    os.environ["APPRENTICE_HOME"] = tempfile.mkdtemp(prefix="tui-bench-")


def _streaming(calls: list[list[float]]) -> tuple[float, list[tuple[float, float]]]:
    """Tokens per second while tokens flow (gaps between model calls left out) and the windows."""
    windows = [(c[0], c[-1]) for c in calls if len(c) > 1]
    span = sum(b - a for a, b in windows) or 1e-9
    return sum(len(c) - 1 for c in calls if len(c) > 1) / span, windows


def headless_run(model, max_steps: int) -> dict:
    """One turn through the library alone: seconds to the first token and the streaming rate."""
    from apprentice.tui.agent import ChatAgent

    _fresh_home()
    agent = ChatAgent(model, "react", max_steps=max_steps)
    calls: list[list[float]] = []
    listener = TurnListener(on_token=lambda t: calls[-1].append(time.perf_counter()),
                            on_call=lambda: calls.append([]), cancel=threading.Event())
    out: dict = {}

    def turn() -> None:
        out["result"] = agent.ask(QUESTION, thread_id="bench", listener=listener, sink=lambda s: None)

    # on a worker thread, as in the UI, so that both sides call llama.cpp the same way
    started = time.perf_counter()
    worker = threading.Thread(target=turn)
    worker.start()
    worker.join()
    result = out["result"]
    first = next(c[0] for c in calls if c)
    rate, _ = _streaming(calls)
    return {"ttft": first - started, "tokens": sum(map(len, calls)), "total": time.perf_counter() - started,
            "tok_s": rate, "status": result.status}


async def ui_run(model, max_steps: int) -> dict:
    """One turn through the chat UI: first token on screen, frames per second while streaming."""
    _fresh_home()
    app = ChatApp(model)
    app.agent.max_steps = max_steps
    frames: list[float] = []
    calls: list[list[float]] = []
    original_display, original_apply = app._display, AnswerBlock._apply_tokens

    def display(screen, renderable):
        if renderable is not None:
            frames.append(time.perf_counter())
        return original_display(screen, renderable)

    def apply_tokens(block, items):
        shown = time.perf_counter()  # every token of a flush reaches the screen together
        for item in items:
            if item is None:
                calls.append([])
            else:
                calls[-1].append(shown)
        return original_apply(block, items)

    app._display = display
    AnswerBlock._apply_tokens = apply_tokens
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.screen.query_one("#prompt").value = QUESTION
            started = time.perf_counter()
            await pilot.press("enter")
            await pilot.pause()
            block = app.screen.query(AnswerBlock).last()
            while block.running:
                await pilot.pause(0.02)
            total = time.perf_counter() - started
    finally:
        AnswerBlock._apply_tokens = original_apply
    rate, windows = _streaming(calls)
    shown = [f for f in frames if any(a <= f <= b for a, b in windows)]
    span = sum(b - a for a, b in windows) or 1e-9
    gaps = [b - a for a, b in itertools.pairwise(shown) if any(x <= a and b <= y for x, y in windows)]
    first = next(c[0] for c in calls if c)
    return {"ttft": first - started, "tokens": sum(map(len, calls)), "total": total, "fps": len(shown) / span,
            "tok_s": rate, "max_gap": max(gaps, default=0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--max-steps", type=int, default=2, help="ReAct steps per turn (keeps a run short)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "tui_latency.txt"))
    args = parser.parse_args()
    model = load_chat_model("local", max_tokens=args.max_tokens)
    headless_run(model, args.max_steps)  # warm-up: first llama.cpp call pays for allocation
    lib, ui = [], []
    for _ in range(args.repeats):
        lib.append(headless_run(model, args.max_steps))
        ui.append(asyncio.run(ui_run(model, args.max_steps)))
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    lines = [
        f"tui_latency: embedded SmolLM2-135M (llama.cpp), strategy react, question {QUESTION!r}, "
        f"max_tokens {args.max_tokens}, max_steps {args.max_steps}, {args.repeats} repeats (medians), "
        f"{os.cpu_count()} CPUs, "
        f"{os.environ['APPRENTICE_THREADS']} llama.cpp thread(s)",
        f"  library only : first token {med(lib, 'ttft') * 1000:7.0f} ms · {med(lib, 'tok_s'):6.1f} tok/s streaming · "
        f"turn {med(lib, 'total'):5.2f} s · {med(lib, 'tokens'):.0f} tokens streamed",
        f"  chat UI      : first token {med(ui, 'ttft') * 1000:7.0f} ms · {med(ui, 'tok_s'):6.1f} tok/s streaming · "
        f"turn {med(ui, 'total'):5.2f} s · {med(ui, 'tokens'):.0f} tokens shown",
        f"  UI frames while streaming: {med(ui, 'fps'):.1f} frames/s (longest gap {med(ui, 'max_gap') * 1000:.0f} ms)",
        f"  ratio UI/library: first token {med(ui, 'ttft') / med(lib, 'ttft'):.2f}x · "
        f"throughput {med(ui, 'tok_s') / med(lib, 'tok_s'):.2f}x",
        f"  load average at the end: {os.getloadavg()[0]:.1f} (shared machine; the two sides alternate, so "
        "they see the same load)",
        "  per run (library ttft ms, UI ttft ms, UI fps): " + ", ".join(
            f"({a['ttft'] * 1000:.0f}, {b['ttft'] * 1000:.0f}, {b['fps']:.1f})" for a, b in zip(lib, ui, strict=True)),
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
