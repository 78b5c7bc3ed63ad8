"""Session 50: does a student make the harness's decision (ReAct's ``decide=ask``)? P(yes) of the decision question on
SVAMP's test problems after the shipped student's first calculator call (its report's runs), against the worked
solution (yes is right when the tally lists a number it uses): AUC, and at each threshold how many go on where
they should, where they should not, and how many of the shipped student's right answers a go on puts at risk.
(Session 51: ``decisions`` for another split's report, read by ``candidates/s51/threshold.py``.)

    APPRENTICE_HOME=HOME python decision_probe.py ADAPTER SHIPPED_SVAMP_REPORT_DIR"""
import json, math, sys
from pathlib import Path
from llama_cpp import Llama
from apprentice.tasks import get_task
from apprentice.traces import open_store
from apprentice.training.registry import get_adapter
from apprentice.agents.verifier import unused_in
from apprentice.agents.decide import decision_prompt as prompt
from go_on_pool import gold_numbers, needed

THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


def scorer(adapter):
    """P(yes) of the adapter's merged GGUF for one decision question (yes against no, the first token's scores)."""
    rec = get_adapter(adapter)
    llm = Llama(model_path=str(rec.path / rec.gguf), n_ctx=1024, n_threads=1, verbose=False, logits_all=True)
    yes = llm.tokenize(b"yes", add_bos=False, special=False)[0]
    no = llm.tokenize(b"no", add_bos=False, special=False)[0]

    def p_yes(text):
        chat = f"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
        toks = llm.tokenize(chat.encode(), add_bos=False, special=True)
        llm.reset(); llm.eval(toks)
        s = llm.scores[llm.n_tokens - 1]
        a, b = float(s[yes]), float(s[no])
        return 1 / (1 + math.exp(b - a))
    return p_yes


def auc(ps, ys):
    pos = [p for p, y in zip(ps, ys) if y]; neg = [p for p, y in zip(ps, ys) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / max(1, len(pos) * len(neg))


def table(name, ps, ys):
    print(f"{name}: n={len(ys)} yes={sum(ys)} AUC={auc(ps, ys):.3f}")
    for t in THRESHOLDS:
        go = [p >= t for p in ps]
        tp = sum(g and y for g, y in zip(go, ys)); fp = sum(g and not y for g, y in zip(go, ys))
        print(f"  t={t}: go on {sum(go)}, right {tp}, wrong {fp} (recall {tp/max(1,sum(ys)):.2f})")


def decisions(adapter, report_dir, split="test"):
    """One row per run of the report whose first calculator call leaves a question number unused: the item, P(yes),
    whether yes is right, whether the run was right."""
    p_yes = scorer(adapter)
    task = get_task("svamp"); items = {i.id: i for i in task.load(split=split)}
    store = open_store()
    report = json.loads((Path(report_dir) / "report.json").read_text())
    rows = []
    for row in next(iter(report["items"].values())):
        run = store.get(row["run_id"]); item = items[run.item_id]
        inputs = [s.tool_input for s in run.steps if s.kind == "action" and s.tool == "calculator"]
        seen = [s.observation for s in run.steps if s.kind == "observation" and s.tool == "calculator"]
        if not inputs or not seen:
            continue
        unused = unused_in(item.question, inputs[:1], words=True)
        if not unused:
            continue
        p = p_yes(prompt(item.question, [(inputs[0], seen[0])], unused))
        rows.append({"item": item.id, "p": p, "yes": needed(unused, gold_numbers("svamp", item)) == "yes",
                     "correct": row["correct"]})
    return rows


if __name__ == "__main__":
    rows = decisions(sys.argv[1], sys.argv[2])
    table("SVAMP test after the shipped student's first call", [r["p"] for r in rows], [r["yes"] for r in rows])
    right = [r for r in rows if r["correct"]]
    print("  of which the shipped student was right:", len(right), "max p among them", max(r["p"] for r in right))
    for t in (0.5, 0.7, 0.8, 0.9, 0.95):
        print(f"  t={t}: right answers put at risk {sum(r['p'] >= t for r in right)}")
