"""Session 48, candidate C22's pool: the GSM8K steps replays in the ``tally`` style (the harness writes the
question's numbers not used yet after each result; each later thought reads it) with every step's own thought in
the cue-word style the student writes (``replay.reason`` for the step's operations, as session 47's ``cue_steps.py``
did for C17 and C20), shuffled with SVAMP's ``tally`` replays into one SFT pool. A replay a pattern does not reach is
left out rather than half rewritten.

    python cue_tally.py GSM8K_TALLY_DATASET SVAMP_TALLY_DATASET OUT_DATASET
"""
import ast
import json
import random
import re
import shutil
import sys
from pathlib import Path

from apprentice.training.replay import _operations, reason

gsm, svamp, out = (Path(a) for a in sys.argv[1:4])
# a step: the reading of the harness's tally (a later step), its own thought, the calculator action and its input
STEP = re.compile(r"(?P<head>(?:\A|\n)Thought: (?:The calculator gave [^\n]*?(?:\. Still to use: [^\n]*?\.|"
                  r"; earlier results remain to combine\.) )?)(?P<thought>[^\n]*)"
                  r"(?P<action>\nAction: calculator\nAction Input: (?P<expr>[^\n]*))")


def cue(question: str, expression: str) -> str:
    ops = _operations(ast.parse(expression.replace(",", ""), mode="eval").body)
    return " ".join(dict.fromkeys(reason(question, op) + "." for op in ops))


def rewritten(path: Path) -> list[str]:
    rows = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        msgs = row["messages"]
        text, question = msgs[-1]["content"], next(m["content"] for m in msgs if m["role"] == "user")
        new = STEP.sub(lambda m: m["head"] + cue(question, m["expr"]) + m["action"], text)
        if new.count("The question says") + new.count("To find what is asked") < text.count("Action: calculator"):
            continue
        rows.append(json.dumps({**row, "messages": [*msgs[:-1], {**msgs[-1], "content": new}]}, ensure_ascii=False))
    return rows


out.mkdir(parents=True, exist_ok=True)
for split in ("train", "eval"):
    rows = rewritten(gsm / f"{split}.jsonl")
    print(split, len(rows), "GSM8K replays rewritten")
    rows += (svamp / f"{split}.jsonl").read_text().splitlines()
    random.Random(0).shuffle(rows)
    (out / f"{split}.jsonl").write_text("".join(r + "\n" for r in rows))
shutil.copy(svamp / "harvest.json", out / "harvest.json")
