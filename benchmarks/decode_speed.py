"""Decode speed of ``local`` (LlamaCppChatModel.stream) against raw llama-cpp-python, side by side.

Both run on the same loaded ``Llama`` (same GGUF, same n_threads, same n_ctx), on the same prompt
text (our chat template's rendering), greedy, for the same number of generated tokens. The runs
are interleaved (ours, raw, raw streamed, ours, ...) so that load on a shared machine hits all
three alike; each figure is the median over the repetitions. Target: ours / raw >= 0.9.

    .venv/bin/python benchmarks/decode_speed.py [--threads N] [--tokens 128] [--repeats 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

from langchain_core.messages import HumanMessage

PROMPT = [HumanMessage("Write a long story about a dragon who learns to count. Use many details.")]


def machine_info(threads: int) -> str:
    """Cores, load, date and versions, for the results file."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    libs = " ".join(f"{n}={version(n)}" for n in ("llama_cpp_python", "langchain-core", "langgraph"))
    return (f"date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} · host: {platform.node()} · "
            f"cpu cores: {os.cpu_count()} · load average (1/5/15 min): {load}\n"
            f"python {platform.python_version()} · {libs} · n_threads={threads}")


def ours(chat, n_tokens: int) -> tuple[float, str]:
    """Seconds for our streamed call, and its text."""
    started = time.perf_counter()
    text = "".join(chunk.text for chunk in chat.stream(PROMPT, max_tokens=n_tokens, temperature=0.0))
    return time.perf_counter() - started, text


def raw(llm, prompt_tokens: list[int], n_tokens: int, *, stream: bool) -> tuple[float, str]:
    """Seconds for llama-cpp-python's own completion of the same prompt tokens, and its text."""
    started = time.perf_counter()
    out = llm.create_completion(prompt_tokens, max_tokens=n_tokens, temperature=0.0, top_p=0.95, stream=stream)
    text = "".join(c["choices"][0]["text"] for c in out) if stream else out["choices"][0]["text"]
    return time.perf_counter() - started, text


def wrapper_overhead(chat, pieces: list[str], repeats: int = 20) -> float:
    """Seconds our streaming path adds to one call when the engine costs nothing.

    The engine is swapped (on this instance only) for the raw run's own pieces, so what is left is
    exactly our layer: template rendering, LangChain's stream/callback machinery, chunk objects,
    the closing token count.
    """
    object.__setattr__(chat, "_complete", lambda prompt, **kw: iter(pieces))
    try:
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            for _chunk in chat.stream(PROMPT, max_tokens=len(pieces), temperature=0.0):
                pass
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)
    finally:
        object.__delattr__(chat, "_complete")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=int(os.environ.get("APPRENTICE_THREADS") or os.cpu_count() or 1))
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    os.environ["APPRENTICE_THREADS"] = str(args.threads)  # read by load_llama when the model loads
    from apprentice.models import load_chat_model

    chat = load_chat_model("local", max_tokens=args.tokens)
    llm = chat.llm
    prompt_tokens = llm.tokenize(chat.render(PROMPT).encode("utf-8"), add_bos=False, special=True)
    ours(chat, args.tokens)  # warm-up: the prompt's KV cache, page faults
    times: dict[str, list[float]] = {"ours (stream)": [], "raw create_completion": [], "raw (stream=True)": []}
    texts: dict[str, str] = {}
    for _ in range(args.repeats):
        for name, fn in (("ours (stream)", lambda: ours(chat, args.tokens)),
                         ("raw create_completion", lambda: raw(llm, prompt_tokens, args.tokens, stream=False)),
                         ("raw (stream=True)", lambda: raw(llm, prompt_tokens, args.tokens, stream=True))):
            seconds, texts[name] = fn()
            times[name].append(seconds)
    pieces = [c["choices"][0]["text"] for c in llm.create_completion(
        prompt_tokens, max_tokens=args.tokens, temperature=0.0, top_p=0.95, stream=True)]
    overhead = wrapper_overhead(chat, pieces)
    n_out = len(llm.tokenize(texts["raw create_completion"].encode("utf-8"), add_bos=False, special=True))
    same = len(set(texts.values())) == 1
    lines = [machine_info(args.threads),
             f"prompt: {len(prompt_tokens)} tokens · generated: {n_out} tokens (greedy) · "
             f"repeats: {args.repeats} (interleaved) · identical text on all paths: {same}", ""]
    speed = {name: n_out / statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        lines.append(f"{name:<24} median {statistics.median(ts) * 1000:8.1f} ms  {speed[name]:7.1f} tokens/s  "
                     f"(min {min(ts) * 1000:.1f} ms, max {max(ts) * 1000:.1f} ms)")
    ratio = speed["ours (stream)"] / speed["raw create_completion"]
    best = min(times["raw create_completion"]) / min(times["ours (stream)"])
    raw_median = statistics.median(times["raw create_completion"])
    lines += ["", f"ratio ours / raw (medians) = {ratio:.3f}  (target >= 0.9: {'met' if ratio >= 0.9 else 'MISSED'})",
              f"ratio ours / raw (best of {args.repeats} each) = {best:.3f}",
              f"ratio ours / raw streamed (medians) = {speed['ours (stream)'] / speed['raw (stream=True)']:.3f}",
              "",
              f"our layer alone (engine swapped for the same {len(pieces)} pieces, no decoding): "
              f"{overhead * 1000:.2f} ms per call = {overhead / max(1, len(pieces)) * 1e6:.0f} us per token",
              f"=> expected ratio from the layer's cost alone: {raw_median / (raw_median + overhead):.3f} "
              "(independent of machine load; the measured ratios above move with it)"]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
