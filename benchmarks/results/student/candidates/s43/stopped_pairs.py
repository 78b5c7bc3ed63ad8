"""Session 43, candidate C3's pool: GSM8K steps replays (two calculator calls) as chosen, against the same
trajectory stopped after its first observation with that result as the answer (the student's own way with these
problems), + SVAMP gold replays' quantity pairs (svq-r1).

    python stopped_pairs.py GSM8K_STEPS_DATASET SVQ_DATASET OUT_DATASET
"""
import json, re, sys
from pathlib import Path
gsm, svq, out = (Path(a) for a in sys.argv[1:4])
out.mkdir(parents=True, exist_ok=True)
rows = [json.loads(l) for l in (gsm / "train.jsonl").read_text().splitlines() if l.strip()]
first = re.compile(r"\AThought: .*?\nAction: calculator\nAction Input: .*?\nObservation: (.*?)\n", re.S)
pairs = []
for row in rows:
    msgs = row["messages"]; text = msgs[-1]["content"]
    if text.count("Action:") < 2:
        continue
    m = first.match(text)
    if not m:
        continue
    value = m.group(1).strip()
    rejected = m.group(0) + f"Thought: The calculator gave {value}, so this answers the question.\nFinal Answer: {value}"
    meta = row.get("metadata") or {}
    pairs.append({"prompt": msgs[:-1], "chosen": [msgs[-1]], "rejected": [{"role": "assistant", "content": rejected}],
                  "protocol": "react", "metadata": {"question": meta.get("question"), "chosen_run": meta.get("run_id"),
                                                   "rejected_run": None, "contrast": "stopped"}})
print(len(pairs), "stopped-early pairs")
for name in ("train.jsonl", "eval.jsonl", "README.md"):
    (out / name).write_text((svq / name).read_text())
with open(out / "pairs.jsonl", "w") as fh:
    fh.write((svq / "pairs.jsonl").read_text())
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
