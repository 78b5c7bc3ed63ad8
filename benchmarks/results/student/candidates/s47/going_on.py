"""Session 47's "going on" column: how many of an evaluation's runs made one, two, ... calculator calls, and how
many of each were right, read from the report's run ids in the trace store of the home that ran it.

    python going_on.py HOME REPORT_DIR [REPORT_DIR ...]
"""
import collections
import json
import sqlite3
import sys
from pathlib import Path

home, reports = Path(sys.argv[1]), sys.argv[2:]
store = sqlite3.connect(f"file:{home / 'traces.db'}?mode=ro", uri=True)
for folder in reports:
    rows = next(iter(json.loads((Path(folder) / "report.json").read_text())["items"].values()))
    calls, right = collections.Counter(), collections.Counter()
    for row in rows:
        (n,) = store.execute("select count(*) from steps where run_id=? and kind='action'", (row["run_id"],)).fetchone()
        calls[n] += 1
        right[n] += bool(row["correct"])
    print(folder, {n: f"{right[n]}/{calls[n]} right" for n in sorted(calls)})
