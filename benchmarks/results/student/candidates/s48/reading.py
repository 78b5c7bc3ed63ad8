"""Session 48: does a student read the harness's tally? For each run of an evaluation, the line the harness wrote (or
would have written) after its first calculator result (``tally_note`` of the question and that input), whether the
item's worked solution uses a number that line lists (then going on is right, else answering is), and what the
student did: a 2x2 table per report, with how many of each cell were right.

    APPRENTICE_HOME=HOME python reading.py REPORT_DIR [REPORT_DIR ...]
"""
import collections
import json
import re
import sys
from pathlib import Path

from apprentice.agents.tally import tally_note
from apprentice.tasks import get_task
from apprentice.traces import open_store
from apprentice.training.replay import worked_steps

NUMBER = re.compile(r"\d+(?:\.\d+)?")
store = open_store()
for folder in sys.argv[1:]:
    report = json.loads((Path(folder) / "report.json").read_text())
    options = report.get("task_options") or {}
    level = re.search(r"--level (\d)", report["command"])
    task = get_task(report["task"], **({"level": int(level.group(1))} if level else {}))
    items = {item.id: item for item in task.load(split=report["split"])}
    cells, right = collections.Counter(), collections.Counter()
    for row in next(iter(report["items"].values())):
        run = store.get(row["run_id"])
        item = items[run.item_id]
        inputs = [s.tool_input for s in run.steps if s.kind == "action" and s.tool == "calculator"]
        seen = [s.observation for s in run.steps if s.kind == "observation" and s.tool == "calculator"]
        if not inputs or not seen:
            cells["no call"] += 1
            right["no call"] += bool(row["correct"])
            continue
        note = tally_note(item.question, f"Thought: x\nAction: calculator\nAction Input: {inputs[0]}\n"
                                         f"Observation: {seen[0]}\n") or ""
        listed = {float(n) for n in NUMBER.findall(note.split(":", 1)[-1])}
        gold = {float(n) for step in (worked_steps(task.name, item) or []) for n in NUMBER.findall(step.expression)}
        should = "should go on" if listed & gold else "should answer"
        did = "went on" if len(inputs) > 1 else "answered"
        cells[(should, did)] += 1
        right[(should, did)] += bool(row["correct"])
    print(folder)
    for key in sorted(cells, key=str):
        print(f"  {key}: {cells[key]} ({right[key]} right)")
