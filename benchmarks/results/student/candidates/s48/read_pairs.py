"""Session 48, candidate C23's pairs: going on and answering set against each other where only the harness's tally
line tells them apart. (a) SVAMP's one-call tally replays whose line lists numbers the question does not need
("Not used yet: 21 and 7", answered "21 and 7 are not needed"): the rejected side goes on with the first number the
line lists, by the same operation (the student's habit), and answers the second result. (b) GSM8K's replays of two
calls or more in the filtered pool (C22b: no "earlier results remain" branch): the rejected side stops after the
first result although the line lists a number the replay goes on to use. DPO sees both directions, each decided by
the line.

    python read_pairs.py SVAMP_TALLY_DATASET POOL OUT_DATASET
"""
import json
import re
import shutil
import sys
from pathlib import Path

from apprentice.agents.tally import with_tally
from apprentice.tools.calculator import CalculatorError, calculate
from apprentice.training.replay import reason

svamp, pool, out = (Path(a) for a in sys.argv[1:4])
FIRST = re.compile(r"\AThought: .*?\nAction: calculator\nAction Input: (?P<expr>.*?)\nObservation: (?P<value>.*?)\n"
                   r"Not used yet: (?P<listed>.*?)\n", re.S)
OP = re.compile(r"[-+*/]")


def pair(row, rejected, kind):
    msgs, meta = row["messages"], row.get("metadata") or {}
    return {"prompt": msgs[:-1], "chosen": [msgs[-1]], "rejected": [{"role": "assistant", "content": rejected}],
            "protocol": "react", "metadata": {"question": meta.get("question"), "chosen_run": meta.get("run_id"),
                                              "rejected_run": None, "contrast": kind}}


pairs = []
for line in (svamp / "train.jsonl").read_text().splitlines():  # (a) answering is right: the rejected side goes on
    row = json.loads(line)
    text, question = row["messages"][-1]["content"], row["messages"][1]["content"]
    first = FIRST.match(text)
    if text.count("Action: calculator") != 1 or not first or first["listed"] == "none":
        continue
    extra = first["listed"].replace(" and ", ", ").split(", ")[0]
    op = (OP.findall(first["expr"]) or ["+"])[0]
    second = f"{first['value']} {op} {extra}"
    try:
        result = calculate(second).strip()
    except CalculatorError:
        continue
    rejected = with_tally(question, first.group(0) + f"Thought: The calculator gave {first['value']}. Still to use: "
                          f"{extra}. {reason(question, op)}: {second}.\nAction: calculator\nAction Input: {second}\n"
                          f"Observation: {result}\nThought: The calculator gave {result}, so this answers the "
                          f"question.\nFinal Answer: {result}")
    pairs.append(pair(row, rejected, "went-on"))
went_on = len(pairs)
for line in (pool / "train.jsonl").read_text().splitlines():  # (b) going on is right: the rejected side stops
    row = json.loads(line)
    text, question = row["messages"][-1]["content"], row["messages"][1]["content"]
    first = FIRST.match(text)
    if (row.get("metadata") or {}).get("task") != "gsm8k" or "Still to use:" not in text or not first:
        continue
    value = first["value"].strip()
    rejected = with_tally(question, text[:first.end()] + f"Thought: The calculator gave {value}, so this answers the "
                                                          f"question.\nFinal Answer: {value}")
    pairs.append(pair(row, rejected, "stopped"))
print(went_on, "went-on pairs,", len(pairs) - went_on, "stopped pairs")
shutil.rmtree(out, ignore_errors=True)
out.mkdir(parents=True)
for name in ("train.jsonl", "eval.jsonl", "harvest.json"):
    shutil.copy(svamp / name, out / name)
(out / "pairs.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
