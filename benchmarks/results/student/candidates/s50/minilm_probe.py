"""Session 50: can another reader make the decision? MiniLM sentence embeddings + logistic regression, trained on SVAMP train's
decision examples (gold prefixes and other pairs), scored on SVAMP test after the shipped student's first call.

    APPRENTICE_HOME=HOME python minilm_probe.py SHIPPED_SVAMP_REPORT_DIR"""
import itertools, json, random, re, sys
from pathlib import Path
import numpy as np
from apprentice.agents.verifier import unused_in
from apprentice.embeddings import embed
from apprentice.tasks import get_task
from apprentice.traces import open_store
from apprentice.training.replay import worked_steps, _asked
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from go_on_pool import gold_numbers, needed
NUMBER = re.compile(r"\d+(?:\.\d+)?")
SENT = re.compile(r"(?<=[.?!])\s+")

def clause(question, number):
    for s in SENT.split(question):
        if re.search(r"(?<![\d.])" + re.escape(number) + r"(?![\d])", s.replace(",", "")):
            return s
    return question

def feats(question, inputs, unused):
    asked = _asked(question)
    cl = [clause(question, u) for u in unused]
    used = [n for e in inputs for n in NUMBER.findall(e)]
    ucl = [clause(question, u) for u in used] or [question]
    E = embed([asked, question] + cl + ucl)
    a, q, c, uc = E[0], E[1], E[2:2 + len(cl)], E[2 + len(cl):]
    sim_a = c @ a; sim_u = (c @ uc.T).max(axis=1)
    words_a = set(re.findall(r"[a-z]+", asked.lower()))
    lex = [len(set(re.findall(r"[a-z]+", x.lower())) & words_a) / max(1, len(words_a)) for x in cl]
    same = [x == asked for x in cl]
    return np.array([sim_a.max(), sim_a.mean(), sim_u.max(), max(lex), float(any(same)), len(unused), len(inputs),
                     *(c.mean(axis=0) - a)[:0]])

def label(unused, gold):
    return int(needed(unused, gold) == "yes")

rng = random.Random(0)
X, y = [], []
for item in get_task("svamp").load(split="train"):
    steps = worked_steps("svamp", item)
    if not steps: continue
    gold = gold_numbers("svamp", item)
    hist = [[s.expression for s in steps[:k]] for k in range(1, len(steps) + 1)]
    nums = unused_in(item.question, [], words=True)
    pairs = list(itertools.combinations(nums, 2)); rng.shuffle(pairs)
    hist += [[f"{a} + {b}"] for a, b in pairs[:3]]
    for h in hist:
        u = unused_in(item.question, h, words=True)
        if u:
            X.append(feats(item.question, h, u)); y.append(label(u, gold))
X, y = np.array(X), np.array(y)
print("train", len(y), y.mean())
clf = LogisticRegression(max_iter=1000).fit(X, y)
print("train AUC", roc_auc_score(y, clf.predict_proba(X)[:, 1]))
store = open_store(); task = get_task("svamp"); items = {i.id: i for i in task.load(split="test")}
report = json.loads((Path(sys.argv[1]) / "report.json").read_text())
Xt, yt, ok = [], [], []
for row in next(iter(report["items"].values())):
    run = store.get(row["run_id"]); item = items[run.item_id]
    inputs = [s.tool_input for s in run.steps if s.kind == "action" and s.tool == "calculator"]
    if not inputs: continue
    u = unused_in(item.question, inputs[:1], words=True)
    if not u: continue
    gold = gold_numbers("svamp", item)
    Xt.append(feats(item.question, inputs[:1], u)); yt.append(label(u, gold)); ok.append(row["correct"])
p = clf.predict_proba(np.array(Xt))[:, 1]; yt = np.array(yt); ok = np.array(ok)
print("test", len(yt), yt.sum(), "AUC", roc_auc_score(yt, p))
for t in (0.5, 0.6, 0.7, 0.8, 0.9):
    go = p >= t
    print(f" t={t}: go on {go.sum()}, should {int((go & (yt == 1)).sum())}, should not {int((go & (yt == 0)).sum())}, right answers at risk {int((go & ok).sum())}")
