"""An LLM judge after the fact (issue 36, item 2): `traces judge` grades finished runs of any model with any
model spec, records each verdict beside its run as judge:SPEC, and harvest selects on them."""

from __future__ import annotations

import json

from apprentice.agents.judge import judge_runs
from apprentice.backends.scripted import ScriptedChatModel
from apprentice.cli import main
from apprentice.graphs import run_question
from apprentice.traces import open_store
from apprentice.traces.records import verdict_source


def _runs() -> list[str]:
    ids = []
    for question, answer in (("What is 2 + 3?", "5"), ("What is 4 + 4?", "9"), ("Capital of France?", "Paris")):
        model = ScriptedChatModel(script=[f" I know it.\nFinal Answer: {answer}"])
        ids.append(run_question(question, model=model, model_spec="teacher-x", tools=[]).run_id)
    return ids


def test_the_judge_grades_finished_runs_once_and_harvest_selects_on_it(tmp_path, capsys):
    ids = _runs()
    store = open_store()
    def grade(messages):
        text = messages[-1].text
        if "2 + 3" in text:
            return "Verdict: correct\nReason: 2 + 3 is 5."
        return "Verdict: incorrect\nReason: 4 + 4 is 8, not 9." if "4 + 4" in text else "I am not sure."

    grader = ScriptedChatModel(script=[grade], cycle=True)
    tally = judge_runs(grader, "grader-y", store, store.query(model="teacher-x"), redo=False)
    assert (tally.correct, tally.incorrect, tally.unreadable, tally.skipped) == (1, 1, 1, 0)
    verdicts = {store.get(i).question: [(v.verifier, v.correct, v.reason) for v in store.get(i).verdicts]
                for i in ids}
    assert verdicts["What is 2 + 3?"] == [("judge:grader-y", True, "2 + 3 is 5.")]
    assert verdicts["What is 4 + 4?"] == [("judge:grader-y", False, "4 + 4 is 8, not 9.")]
    assert verdicts["Capital of France?"] == []  # an unreadable verdict is none
    assert verdict_source("judge:grader-y") == "judge"
    # the grader read the answer (and any tool work) of each run
    asked = [p[-1].text for p in grader.prompts]
    assert any("Question: What is 4 + 4?" in a and "Final Answer: 9" in a for a in asked)
    # graded once: a second pass asks the grader nothing for the two it judged
    again = judge_runs(ScriptedChatModel(script=["Verdict: correct"]), "grader-y", store, store.query(model="teacher-x"))
    assert again.skipped == 2 and again.correct == 1  # only the unreadable one is asked again
    # harvest by the judge's verdicts keeps the run it accepted
    assert main(["harvest", "--out", str(tmp_path / "d"), "--verdict-source", "judge", "--model", "teacher-x",
                 "--eval-fraction", "0"]) == 0
    rows = (tmp_path / "d" / "train.jsonl").read_text().splitlines()
    kept = {json.loads(line)["metadata"]["question"] for line in rows}
    assert "What is 2 + 3?" in kept and "What is 4 + 4?" not in kept


def test_traces_judge_needs_a_model_and_says_so_in_one_line(capsys):
    _runs()
    assert main(["traces", "judge"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--judge-model SPEC" in err
    assert main(["traces", "judge", "--judge-model", "openai:x@http://127.0.0.1:9/v1"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:")
    assert main(["traces", "list", "--redo"]) == 2 and "go with 'traces judge'" in capsys.readouterr().err
