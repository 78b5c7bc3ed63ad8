"""The eval harness: statistics, the grid with scripted models, resume, the CLI, and a real run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from apprentice.backends import ScriptedChatModel
from apprentice.cli import main
from apprentice.eval import EvalConfig, price_of, run_eval, wilson_interval
from apprentice.tasks import get_task
from apprentice.traces import open_store

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import start_server  # noqa: E402


def test_wilson_interval_matches_known_values():
    assert wilson_interval(0, 0) == (0.0, 0.0)
    low, high = wilson_interval(5, 10)
    assert round(low, 4) == 0.2366 and round(high, 4) == 0.7634
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and round(high, 4) == 0.1611
    assert wilson_interval(20, 20)[1] == 1.0
    # every interval holds its proportion (rounding once put 1.0 above the upper end at n = 4 and 10, and the
    # report's plot failed on a negative error bar)
    assert all(low <= k / n <= high for n in range(1, 400) for k in range(n + 1)
               for low, high in [wilson_interval(k, n)])


def test_prices_only_for_known_openai_models():
    assert price_of("openai:gpt-4o-mini") == (0.15, 0.60)
    assert price_of("openai:gpt-4o-2024-08-06") == (2.50, 10.00)
    assert price_of("local") is None and price_of("openai:gpt-4o@http://localhost:8000/v1") is None
    assert price_of("openai:my-own-model") is None


def oracle(task):
    """A scripted model that knows every arith answer (by question)."""
    answers = {item.question: item.answer for item in task.load(limit=3)}

    def reply(messages):
        text = messages[-1].text
        return next((f"Final Answer: {a}" for q, a in answers.items() if q in text), "Final Answer: 0")
    return ScriptedChatModel(script=[reply], cycle=True)


def test_grid_writes_three_files_and_resumes(tmp_path):
    task = get_task("arith")
    right, wrong = oracle(task), ScriptedChatModel(script=["Final Answer: -1"], cycle=True)
    config = EvalConfig(task="arith", strategies=["cot", "cot-sc"], models=["right", "wrong"], limit=3,
                        options={"samples": 2, "fewshot": 0}, report_dir=tmp_path / "report")
    report = run_eval(config, progress=False, models={"right": right, "wrong": wrong})
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"report.json", "report.md", "report.png"}
    cells = {(c.strategy, c.model): c for c in report.cells}
    assert cells["cot", "right"].accuracy == 1.0 and cells["cot-sc", "wrong"].accuracy == 0.0
    assert cells["cot-sc", "right"].calls == 2.0 and cells["cot", "right"].cost_usd is None
    data = json.loads((tmp_path / "report" / "report.json").read_text())
    run_ids = [r["run_id"] for r in data["items"]["cot / right"]]
    assert len(run_ids) == 3 and all(run_ids)
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert all(run_id in markdown for run_id in run_ids) and "Wilson" in markdown
    assert markdown.startswith("# Eval: arith, level 2\n")  # the task's default level, though none was given
    stored = open_store().get(run_ids[0])
    assert stored.meta["eval_cell"].startswith(f"arith|{stored.item_id}|cot|right|")

    calls_before = len(right.prompts) + len(wrong.prompts)
    again = run_eval(config, progress=False, models={"right": right, "wrong": wrong})
    assert len(right.prompts) + len(wrong.prompts) == calls_before
    assert all(c.resumed == 3 for c in again.cells)
    assert [c.accuracy for c in again.cells] == [c.accuracy for c in report.cells]

    # an option that only ToT reads does not invalidate the cot cells
    config.options["breadth"] = 5
    third = run_eval(config, progress=False, models={"right": right, "wrong": wrong})
    assert all(c.resumed == 3 for c in third.cells)
    # a verifier weighs cot-sc's vote: those cells run again, cot's resume
    config.options["verifier"] = "rules"
    fourth = run_eval(config, progress=False, models={"right": right, "wrong": wrong})
    assert {c.strategy: c.resumed for c in fourth.cells} == {"cot": 3, "cot-sc": 0}


def test_cli_rejects_bad_input_with_one_line(capsys):
    assert main(["eval", "--task", "arith", "--strategy", "nope"]) == 2
    assert main(["eval", "--task", "nope", "--limit", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error:") for line in err)
    assert "unknown task" in err[1]


@pytest.mark.timeout(600)
def test_real_model_eval_on_arith(local_model, tmp_path):
    config = EvalConfig(task="arith", strategies=["cot"], models=["local"], limit=2,
                        options={"fewshot": 0, "max_tokens": 32}, report_dir=tmp_path / "real")
    report = run_eval(config, progress=False, models={"local": local_model})
    (cell,) = report.cells
    assert cell.n == 2 and cell.errors == 0 and cell.tokens_out > 0 and cell.calls == 1.0
    assert all(p.stat().st_size > 0 for p in report.files.values())
    run = open_store().get(cell.run_ids[0])
    assert run.model == "local" and run.task == "arith" and run.verdicts  # checked by the task


def test_the_report_title_names_the_task_options(tmp_path):
    from apprentice.eval.report import write_markdown

    header = {"task": "arith", "task_options": {"level": 3, "n": 200, "seed": None}, "options": {}}
    write_markdown(tmp_path / "report.md", header, [], {}, None)
    assert (tmp_path / "report.md").read_text().startswith("# Eval: arith, level 3, n 200\n")


def test_cli_evaluates_a_question_file_of_ones_own(tmp_path, capsys):
    """A MAWPS-style JSON list (sQuestion, lSolutions as a list of one, iIndex) through `apprentice eval --task
    jsonl` and its field flags; a second file numbering its items the same way runs, not resumes the first."""
    def write(name, rows):
        path = tmp_path / name
        path.write_text(json.dumps([{"iIndex": i, "sQuestion": q, "lSolutions": [a]} for i, (q, a) in
                                    enumerate(rows, 1)]), encoding="utf-8")
        return path

    server = start_server(latency_s=0.0)
    try:
        first = write("addsub.json", [("Tom has 7 + 5 apples. How many?", 12), ("What is 2 + 2?", 5)])
        second = write("singleeq.json", [("Ann has 30 + 4 pens. How many?", 34.0), ("What is 1 + 1?", 2.0)])
        flags = ["--task", "jsonl", "--question-field", "sQuestion", "--answer-field", "lSolutions",
                 "--id-field", "iIndex", "--answer-kind", "number", "--strategy", "cot", "--fewshot", "0",
                 "--model", f"openai:fake@{server.url}", "--no-progress"]
        assert main(["eval", "--data", str(first), "--report", str(tmp_path / "a"), *flags]) == 0
        assert main(["eval", "--data", str(second), "--report", str(tmp_path / "b"), *flags]) == 0
        assert main(["eval", "--data", str(first), "--report", str(tmp_path / "c"), *flags]) == 0
        text = [*flags[:flags.index("number")], "text", *flags[flags.index("number") + 1:]]
        assert main(["eval", "--data", str(first), "--report", str(tmp_path / "d"), *text]) == 0
    finally:
        server.shutdown()
    reports = [json.loads((tmp_path / name / "report.json").read_text()) for name in ("a", "b")]
    rows = [[(r["item_id"], r["prediction"], r["correct"]) for r in report["items"][f"cot / openai:fake@{server.url}"]]
            for report in reports]
    assert rows == [[("1", "12", True), ("2", "4", False)], [("1", "34", True), ("2", "2", True)]]
    assert reports[0]["task_options"]["kind"] == "number"
    again, as_text = ([r["resumed"] for r in json.loads((tmp_path / name / "report.json").read_text())["items"][
        f"cot / openai:fake@{server.url}"]] for name in ("c", "d"))
    assert again == [True, True] and as_text == [False, False]  # another --answer-kind is another checker: runs again

    capsys.readouterr()
    assert main(["eval", "--task", "svamp", "--question-field", "sQuestion", "--limit", "1"]) == 2
    assert main(["eval", "--task", "jsonl", "--data", str(first), "--level", "2", "--limit", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error:") for line in err)
    assert "--question-field: for a question file of your own" in err[0] and "level" in err[1]


def test_an_adapter_retrained_under_its_name_or_run_with_another_prompt_does_not_resume_the_old_results(
        register_adapter_x, tmp_path):
    """An eval resumes an adapter's finished items only while the adapter is the same registration and prompt:
    `distill --from-step train` retrains under the same name, and its evaluation resumed the old weights' results;
    an adapter whose recorded prompt was mended resumed the runs made with the wrong one."""
    task = get_task("arith")

    def resumed() -> int:
        config = EvalConfig(task="arith", strategies=["cot"], models=["adapter:x"], limit=3, options={"fewshot": 0},
                            report_dir=tmp_path / "report")
        return run_eval(config, progress=False, models={"adapter:x": oracle(task)}).cells[0].resumed

    register_adapter_x(1.0)
    assert [resumed(), resumed()] == [0, 3]
    register_adapter_x(2.0)  # trained again under the same name
    assert [resumed(), resumed()] == [0, 3]
    register_adapter_x(2.0, "full")  # the same weights run with another prompt
    assert resumed() == 0
