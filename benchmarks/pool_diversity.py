"""How varied a pool of word problems is: distinct question skeletons, openings and frames per 1000 items, for
the generated ``arith`` and ``schema`` pools (levels 1-3, interleaved) and SVAMP's train split.

    python benchmarks/pool_diversity.py [--n 2000] [--data DIR] [--out benchmarks/results/pool_diversity.txt]

- skeleton: the question lower-cased, every number (``12``, ``$4.50``, ``twelve``, ``a dozen``) written ``#``
  and every name ``NAME``; a name is a capitalized word whose lower-case form the pool never uses, so "There"
  stays a word while "Ann", "Ann's" and "Baker" become NAME. Nouns are left as they are, so a generator's word
  lists count here (stickers and marbles make two skeletons).
- opening: a skeleton's first three words ("NAME has #", "there are #").
- frame: a skeleton with every word outside a short list of function and cue words (the, of, how, many, more,
  than, each, left, ...) written ``w``: the shape of the text, whatever its nouns and verbs. Whole questions
  soon all differ (a story of several sentences has many combinations), so frames are also counted per sentence
  (every sentence of the pool) and for the asking sentence alone: how many sentence shapes a pool draws on.

Distinct counts do not grow linearly with the number of items, so the pools are compared on the same number:
SVAMP's train split has 800 questions, so every pool is measured on its first 800 (scaled to per 1000); the
generated pools are also measured on all ``--n``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import chain, zip_longest
from pathlib import Path

from apprentice.tasks import get_task

_NUMBER = re.compile(r"\$?\s?\d[\d,]*(?:\.\d+)?")
_DOZEN = re.compile(r"\ba dozen\b", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*|#|[?.,!]")
_NUMBER_WORDS = frozenset("""two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty hundred dozen half twice thrice""".split())
_FRAME_WORDS = frozenset("""the a an of to in on at for with from by and or but than as is are was were be been
    has have had does do did will would can could how many much more fewer less each every some all them they he
    she his her him it its their there that this these those what which who if then after before now left still
    together total altogether times # NAME ? . , not only""".split())
_SENTENCE = re.compile(r"(?<=[.?!])\s+|(?<=\w)\s+(?=(?:How|What)\b)")
_LEVELS = (1, 2, 3)
_COLUMNS = ("skeletons", "openings", "frames", "sentence frames", "asking frames")


def skeletons(questions: list[str]) -> list[list[str]]:
    """Each question's skeleton as tokens (numbers ``#``, names ``NAME``), names judged over the whole pool."""
    tokens = [_TOKEN.findall(_NUMBER.sub(" # ", _DOZEN.sub(" # ", q))) for q in questions]
    lower = {t for words in tokens for t in words if t[0].islower()}
    names = {t for words in tokens for t in words if t[0].isupper() and t.lower() not in lower
             and t.lower().removesuffix("'s") not in lower}

    def word(t: str) -> str:
        low = t.lower()
        return "#" if low in _NUMBER_WORDS else "NAME" if t in names else low
    return [[word(t) for t in words] for words in tokens]


def _frames(shapes: list[list[str]]) -> set[str]:
    return {" ".join(t if t in _FRAME_WORDS else "w" for t in s) for s in shapes}


def _sentences(question: str) -> list[str]:
    """A question's sentences; an asking clause glued to its story ("If ... How many ...?") counts as its own."""
    return [s for s in _SENTENCE.split(question) if s.strip()]


def measure(questions: list[str]) -> tuple[int, ...]:
    """Distinct skeletons, openings (first three words) and frames of the questions, then distinct frames of their
    sentences and of their asking sentences."""
    shapes = skeletons(questions)
    sentences = skeletons([s for q in questions for s in _sentences(q)])
    asking = skeletons([_sentences(q)[-1] for q in questions])
    return (len({" ".join(s) for s in shapes}), len({" ".join(s[:3]) for s in shapes}), len(_frames(shapes)),
            len(_frames(sentences)), len(_frames(asking)))


def _interleaved(make: Callable[[int], list[str]], n: int) -> list[str]:
    """``n`` questions, levels 1-3 in turn (a pool's first items are of every level)."""
    per_level = [make(level) for level in _LEVELS]
    return [q for q in chain.from_iterable(zip_longest(*per_level)) if q is not None][:n]


def pools(n: int, data: str | None) -> dict[str, list[str]]:
    """The questions of each pool: the generated ones' train splits, SVAMP's train split."""
    per = -(-n // len(_LEVELS))

    def generated(name: str, **options: object) -> Callable[[int], list[str]]:
        return lambda level: [i.question for i in get_task(name, level=level, n=per, **options).load(split="train")]

    return {
        "arith (levels 1-3)": _interleaved(generated("arith"), n),
        "schema (levels 1-3)": _interleaved(generated("schema"), n),
        "schema, no words or distractors": _interleaved(generated("schema", words=0, distractors=0), n),
        "svamp train": [i.question for i in get_task("svamp").load(data, split="train")],
    }


def table(found: dict[str, list[str]], n: int) -> list[str]:
    """The report's rows: each pool on the same number of items, then the generated ones on all ``n``."""
    common = min(len(q) for q in found.values())
    head = f"{'pool':32} {'items':>5} " + " ".join(f"{c:>{max(len(c), 5)}} {'/1000':>5}" for c in _COLUMNS)
    rows = [head, "-" * len(head)]
    for size in dict.fromkeys((common, n)):
        for name, questions in found.items():
            if len(questions) < size:
                continue
            counts = measure(questions[:size])
            cells = " ".join(f"{c:>{max(len(name), 5)}} {1000 * c / size:>5.0f}"
                             for c, name in zip(counts, _COLUMNS, strict=True))
            rows.append(f"{name:32} {size:>5} {cells}")
        rows.append("")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="items per generated pool (default 2000)")
    parser.add_argument("--data", help="folder holding arithmetic/SVAMP.json (default: the task's data root)")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    started = time.time()
    found = pools(args.n, args.data)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False,
                            cwd=Path(__file__).parent).stdout.strip()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"date: {stamp} · commit {commit or '?'} · python benchmarks/pool_diversity.py --n {args.n}", "",
             *table(found, args.n)]
    lines.append(f"({time.time() - started:.1f} s)")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
