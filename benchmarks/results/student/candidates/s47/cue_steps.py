"""Session 47, candidate C17's pool: session 43's C3 (GSM8K steps replays, two calculator calls, as the chosen side
against the same trajectory stopped after its first observation and answered with that result, + SVAMP gold replays'
quantity pairs) with every step's thought in the cue-word style the student writes (`replay.reason` for the step's
operation, as SVAMP's replays have) instead of GSM8K's worked prose. The tally after each observation ("The
calculator gave 21. Of 3, 7 and 13, still to use: 13.") stays. C3's chosen side opened with prose the student cannot
write for a problem it has not seen; here its first step is what the student itself writes, so what follows the
first observation is learned after a beginning the student reaches. With ROWS, the rewritten replays themselves
(every one, one call or more) are written there too, for C18's SFT pool.

    python cue_steps.py GSM8K_STEPS_DATASET SVQ_DATASET OUT_DATASET [ROWS]
"""
import ast
import json
import re
import shutil
import sys
from pathlib import Path

from apprentice.training.replay import _operations, reason

gsm, svq, out = (Path(a) for a in sys.argv[1:4])
rows_out = Path(sys.argv[4]) if len(sys.argv) > 4 else None
# a step: its thought (after the tally, for a later one), the calculator action and its input
STEP = re.compile(r"(?P<head>(?:\A|\nObservation: [^\n]*\n)Thought: (?:The calculator gave [^\n]*?\. "
                  r"(?:Of [^\n]*?, )?[Ss]till to use: [^\n]*?\. )?)(?P<thought>[^\n]*)"
                  r"(?P<action>\nAction: calculator\nAction Input: (?P<expr>[^\n]*))")
FIRST = re.compile(r"\AThought: .*?\nAction: calculator\nAction Input: .*?\nObservation: (.*?)\n", re.S)


def cue(question: str, expression: str) -> str:
    ops = _operations(ast.parse(expression.replace(",", ""), mode="eval").body)
    return " ".join(dict.fromkeys(reason(question, op) + "." for op in ops))


pairs, rewritten, rows = [], 0, []
for line in (gsm / "train.jsonl").read_text().splitlines():
    row = json.loads(line)
    msgs = row["messages"]
    text, question = msgs[-1]["content"], next(m["content"] for m in msgs if m["role"] == "user")
    new = STEP.sub(lambda m: m["head"] + cue(question, m["expr"]) + m["action"], text)
    if new.count("The question says") + new.count("To find what is asked") < text.count("Action: calculator"):
        continue  # a thought the pattern did not reach: left out rather than half rewritten
    rows.append({**row, "messages": [*msgs[:-1], {**msgs[-1], "content": new}]})
    if text.count("Action: calculator") < 2:
        continue
    rewritten += 1
    first = FIRST.match(new)
    value = first.group(1).strip()
    rejected = first.group(0) + f"Thought: The calculator gave {value}, so this answers the question.\nFinal Answer: {value}"
    meta = row.get("metadata") or {}
    pairs.append({"prompt": msgs[:-1], "chosen": [{**msgs[-1], "content": new}],
                  "rejected": [{"role": "assistant", "content": rejected}], "protocol": "react",
                  "metadata": {"question": meta.get("question"), "chosen_run": meta.get("run_id"),
                               "rejected_run": None, "contrast": "stopped"}})
print(rewritten, "steps replays rewritten;", len(pairs), "stopped-early pairs")
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(svq, out)
with open(out / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
if rows_out:
    rows_out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(len(rows), "rewritten replays to", rows_out)
