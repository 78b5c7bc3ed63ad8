"""Inference speed of a trained student vs its base, side by side in one run.

Three seats on the same prompt, greedy, same max tokens: the base (`local`, llama.cpp on the Q4_1
GGUF), the student as `adapter:NAME` (the merged Q8_0 GGUF on llama.cpp) and the student on
transformers + PEFT (the fallback path). Prints tokens/s (median of repeats) and the ratios.

    python benchmarks/student_speed.py [--adapter NAME] [--repeats 5] [--tokens 96]

Without --adapter it trains a throwaway 4-step adapter on replayed arith traces first (in a
temporary APPRENTICE_HOME), so the script runs on a fresh machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

PROMPT = [SystemMessage("You are a helpful assistant."),
          HumanMessage("Tell a short story about a robot who learns arithmetic."), AIMessage("Once")]


def _tokens_per_second(model, repeats: int) -> tuple[float, int]:
    rates, n_out = [], 0
    model.invoke(PROMPT)  # warm-up (load, caches)
    for _ in range(repeats):
        started = time.perf_counter()
        reply = model.invoke(PROMPT)
        elapsed = time.perf_counter() - started
        n_out = reply.usage_metadata["output_tokens"]
        rates.append(n_out / elapsed)
    return statistics.median(rates), n_out


def _train_throwaway() -> str:
    from apprentice.tasks import get_task
    from apprentice.training.harvest import HarvestConfig, harvest
    from apprentice.training.sft import SFTArgs, main
    from apprentice.training.teachers import parse_teacher, solve_pool

    task = get_task("arith", level=2, n=20)
    solve_pool(parse_teacher("dataset"), task, task.load(split="train")[:8], student="local", meta={})
    out = Path(os.environ["APPRENTICE_HOME"]) / "datasets" / "bench"
    harvest(HarvestConfig(out=out, task="arith", eval_fraction=0.0, pairs=False))
    return main(SFTArgs(data=out, name="bench", max_steps=4, batch_size=2)).name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=96)
    args = parser.parse_args()
    if not args.adapter:
        os.environ["APPRENTICE_HOME"] = tempfile.mkdtemp(prefix="apprentice-bench-")
        args.adapter = _train_throwaway()

    from apprentice.backends.hf import TransformersChatModel
    from apprentice.models import load_chat_model
    from apprentice.training.base_model import resolve_base
    from apprentice.training.registry import get_adapter

    record = get_adapter(args.adapter)
    seats = {
        "base (local, llama.cpp Q4_1)": load_chat_model("local", max_tokens=args.tokens),
        f"student (adapter:{args.adapter}, llama.cpp merged Q8_0)": load_chat_model(
            f"adapter:{args.adapter}", max_tokens=args.tokens),
        f"student (adapter:{args.adapter}, transformers+PEFT)": TransformersChatModel(
            model_dir=str(resolve_base(record.base).folder), adapter_dir=str(record.path), spec="peft",
            max_tokens=args.tokens),
    }
    print(f"# student_speed  {time.strftime('%Y-%m-%d %H:%M')}  {platform.machine()}  cores={os.cpu_count()}  "
          f"python {sys.version.split()[0]}")
    print(f"# greedy, {args.tokens} max new tokens, median of {args.repeats}")
    results = {}
    for name, model in seats.items():
        rate, n_out = _tokens_per_second(model, args.repeats)
        results[name] = rate
        print(f"{name:<58} {rate:7.1f} tok/s  ({n_out} tokens)")
    base = next(iter(results.values()))
    for name, rate in list(results.items())[1:]:
        print(f"ratio {name} / base: {rate / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
