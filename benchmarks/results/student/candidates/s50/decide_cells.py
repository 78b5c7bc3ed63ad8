"""Session 50. Per report (a run with ReAct's decide option): the gold cell after the first call (should go on / should answer / no decision), what the harness
decided, whether the run went on, and how many were right; the cells of a table.

    APPRENTICE_HOME=HOME python decide_cells.py REPORT_DIR [REPORT_DIR ...]"""
import collections, json, re, sys
from pathlib import Path
from apprentice.agents.verifier import unused_in
from apprentice.tasks import get_task
from apprentice.traces import open_store
from go_on_pool import gold_numbers, needed
store = open_store()
for folder in sys.argv[1:]:
    report = json.loads((Path(folder) / "report.json").read_text())
    level = re.search(r"--level (\d)", report["command"])
    task = get_task(report["task"], **({"level": int(level.group(1))} if level else {}))
    items = {i.id: i for i in task.load(split=report["split"])}
    cells, right = collections.Counter(), collections.Counter()
    for row in next(iter(report["items"].values())):
        run = store.get(row["run_id"]); item = items[run.item_id]
        inputs = [s.tool_input for s in run.steps if s.kind == "action" and s.tool == "calculator"]
        said = [s.observation for s in run.steps if s.kind == "observation" and s.tool == "decide"]
        if not inputs:
            key = ("no call",)
        else:
            unused = unused_in(item.question, inputs[:1], words=True)
            gold = gold_numbers(task.name, item)
            should = ("nothing unused" if not unused else
                      "should go on" if needed(unused, gold) == "yes" else "should answer")
            first = "asked: go on" if said and said[0].startswith("go on") else "asked: step" if said else "not asked"
            key = (should, first, "went on" if len(inputs) > 1 else "one call")
        cells[key] += 1; right[key] += bool(row["correct"])
    print(folder, sum(right.values()), "/", sum(cells.values()))
    for k in sorted(cells, key=str):
        print(f"  {k}: {cells[k]} ({right[k]} right)")
