"""C6's pool: the GSM8K one-expression replays with their first thought rewritten in the cue-word style the student
writes (replay.reason for each operation, as SVAMP's equation replays have), then their quantity and partial
contrast pairs, + SVAMP gold replays' quantity pairs (svq-r1).

    python cue_thoughts.py GSM8K_EQUATION_DATASET SVQ_DATASET OUT_DATASET
"""
import ast, json, re, shutil, sys
from pathlib import Path
from apprentice.training.contrast import contrast_pairs
from apprentice.training.replay import _operations, reason
gsm, svq, out = (Path(a) for a in sys.argv[1:4])
shutil.rmtree(out, ignore_errors=True); shutil.copytree(svq, out)
rows, changed = [], 0
for line in (gsm / "train.jsonl").read_text().splitlines():
    row = json.loads(line)
    msgs = row["messages"]; text = msgs[-1]["content"]
    question = next(m["content"] for m in msgs if m["role"] == "user")
    m = re.match(r"Thought: [^\n]*\nAction: calculator\nAction Input: ([^\n]*)\n", text)
    if m:
        ops = _operations(ast.parse(m.group(1).replace(",", ""), mode="eval").body)
        thought = " ".join(dict.fromkeys(reason(question, op) + "." for op in ops))
        text = re.sub(r"\AThought: [^\n]*", lambda _: "Thought: " + thought, text, count=1)
        msgs[-1] = {**msgs[-1], "content": text}; changed += 1
    rows.append(row)
pairs = contrast_pairs(rows, per_example=1, seed=0, kinds=("quantity", "partial"))
print(changed, "thoughts rewritten;", len(pairs), "gsm8k pairs")
with open(out / "pairs.jsonl", "a") as fh:
    fh.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
