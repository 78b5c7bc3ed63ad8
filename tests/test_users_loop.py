"""The story a newcomer follows (README, "Distil your own questions"), from an empty home, every step through the
real command line over real HTTP: a question file of one's own runs through a remote teacher that calls tools
natively (tests/fake_openai_server.py), ``distill`` trains a student on it for a few real SFT steps and reports
what the teacher cost, a person's ratings change what the next harvest keeps, and ``apprentice serve`` puts the
student behind the same OpenAI API, tool calls and strategies included, its runs in the store beside the
teacher's."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from apprentice.cli import main
from apprentice.traces import open_store

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import start_server

pytestmark = pytest.mark.slow

NAMES = ["Ann", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo"]
#: the teacher adds 10 + 4 and answers 14; the person who rates it knows the answer is 11
WRONG = {"id": "q20", "question": "Kim has 10 stickers and gets 4 more: 10 + 4. Then Kim gives 3 away. "
                                  "How many stickers now?"}
PRICE = (0.15, 0.60)  # USD per million tokens in, out
CALCULATOR = {"type": "function", "function": {
    "name": "calculator", "description": "Evaluate an arithmetic expression.",
    "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}}}


def _questions(path: Path) -> Path:
    """Twenty questions of one's own: q04, q08, q12, q16 and q20 without an answer."""
    rows = []
    for i in range(19):
        a, b = 3 + 2 * i, 5 + i
        row = {"id": f"q{i + 1:02d}",
               "question": f"{NAMES[i % 10]} has {a} stickers and gets {b} more: {a} + {b}. How many stickers now?"}
        rows.append(row if i % 4 == 3 else {**row, "answer": a + b})
    path.write_text("".join(json.dumps(row) + "\n" for row in [*rows, WRONG]), encoding="utf-8")
    return path


@pytest.fixture
def teacher() -> Iterator:
    server = start_server(tool_calls=True)
    yield server
    server.shutdown()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ids(folder: Path) -> set[str]:
    return {json.loads(line)["metadata"]["item_id"] for line in (folder / "train.jsonl").open(encoding="utf-8")}


def test_a_newcomers_questions_go_from_a_remote_teacher_to_a_served_student(teacher, tmp_path, apprentice_home,
                                                                           capsys):
    spec = f"openai:fake@{teacher.url}"
    questions = _questions(tmp_path / "questions.jsonl")
    runs = _batch(spec, questions, tmp_path, capsys)
    _distill(spec, questions, teacher, apprentice_home, capsys)
    _ratings(spec, runs, tmp_path, capsys)
    with _served("adapter:mine-r1", apprentice_home) as url:
        trace_id = _ask_the_student(url)
    assert main(["traces", "show", trace_id]) == 0
    shown = capsys.readouterr().out
    assert trace_id in shown and "adapter:mine-r1" in shown and "calculator" in shown
    assert main(["traces", "list", "--json", "--limit", "500"]) == 0
    by_model: dict[str, list[dict]] = {}
    for run in json.loads(capsys.readouterr().out):
        by_model.setdefault(run["model"], []).append(run)
    assert set(by_model) == {spec, "adapter:mine-r1"}  # teacher and student side by side, in one store
    for model_runs in by_model.values():
        assert all(run["tokens_in"] > 0 and run["tokens_out"] > 0 for run in model_runs)
    assert {run["strategy"] for run in by_model["adapter:mine-r1"]} == {"react"}


def _batch(spec: str, questions: Path, tmp_path: Path, capsys) -> dict[str, str]:
    """``batch`` over the file through the teacher: a traced run per row; returns run ids by question id."""
    results = tmp_path / "results.jsonl"
    assert main(["batch", str(questions), "--out", str(results), "--task", "jsonl", "--answer-kind", "number",
                 "--model", spec, "--no-progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["done"], summary["failed"], summary["checked"], summary["correct"]) == (20, 0, 15, 15)
    rows = {row["id"]: row for row in map(json.loads, results.open(encoding="utf-8"))}
    assert (rows["q20"]["prediction"], rows["q20"]["gold"], rows["q04"]["prediction"]) == ("14", None, "17")
    run = open_store().get(rows["q01"]["run_id"])
    assert run.model == spec and [s.kind for s in run.steps if s.kind in ("action", "observation")] == \
        ["action", "observation"]  # the teacher's native calculator call, traced
    return {key: row["run_id"] for key, row in rows.items()}


def _distill(spec: str, questions: Path, teacher, home: Path, capsys) -> None:
    """One round from the file: the teacher's 2 attempts per pool question vote where there is no answer, a few
    real SFT steps make ``mine-r1``; the report tallies the teacher's tokens and dollars as the server counted."""
    served_before = dict(teacher.usage)
    assert main(["distill", "--task", "jsonl", "--data", str(questions), "--answer-kind", "number",
                 "--teacher", spec, "--verdict-source", "vote", "--min-score", "0.6", "--attempts", "2",
                 "--teacher-price", ",".join(map(str, PRICE)), "--teacher-concurrency", "2", "--rounds", "1",
                 "--react-prompt", "student", "--max-steps", "2", "--batch-size", "2", "--no-qlora",
                 "--eval-limit", "1", "--baseline-limit", "0", "--name", "mine"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    report = json.loads((home / "reports" / "distill-mine" / "report.json").read_text())
    row = report["rounds"][0]
    # the file's fifth held out is drawn from the 15 answered rows (3); the pool is the other 12 and the 5 without
    assert (row["adapter"], row["teacher_items"], row["teacher_checked"]) == ("mine-r1", 17, 12)
    assert row["harvested"] == 17 and row["teacher_accuracy"] == 1.0
    held = report["teacher_eval"][spec]["sets"]["questions.jsonl"]
    tokens_in, tokens_out = row["teacher_tokens_in"], row["teacher_tokens_out"]
    assert tokens_in + held["tokens_in"] == teacher.usage["prompt_tokens"] - served_before["prompt_tokens"]
    assert tokens_out + held["tokens_out"] == teacher.usage["completion_tokens"] - served_before["completion_tokens"]
    assert row["teacher_cost_usd"] == pytest.approx((tokens_in * PRICE[0] + tokens_out * PRICE[1]) / 1e6)
    markdown = (home / "reports" / "distill-mine" / "report.md").read_text()
    dollars = f"{row['teacher_cost_usd']:.6f}".rstrip("0")
    assert f"{tokens_in:,} tokens in, {tokens_out:,} out, ${dollars} in all" in markdown
    assert "teacher $ / solved" in markdown
    examples = [json.loads(line) for line in (home / "datasets" / "mine-r1" / "train.jsonl").open(encoding="utf-8")]
    assert examples and "q20" in {e["metadata"]["item_id"] for e in examples}  # the vote taught the teacher's 14
    for example in examples:  # the student's text protocol, never a JSON tool call it could not write
        system, _, answer = example["messages"]
        assert answer["content"].startswith("Thought: ") and "\nAction: calculator\nAction Input: " in \
            answer["content"] and "\nFinal Answer: " in answer["content"]
        assert system["content"].endswith("Give the final answer as a number.")
    assert "tool_calls" not in json.dumps(examples) and '"expression"' not in json.dumps(examples)
    assert main(["adapters", "list", "--json"]) == 0
    assert "mine-r1" in {a["name"] for a in json.loads(capsys.readouterr().out)}


def _harvest(spec: str, out: Path, source: str, capsys) -> set[str]:
    """``harvest`` every run of the teacher (batch, distill and eval runs alike) by one verdict source."""
    extra = ["--min-score", "0.6"] if source == "vote" else []
    assert main(["harvest", "--out", str(out), "--model", spec, "--verdict-source", source, *extra,
                 "--react-prompt", "student", "--eval-fraction", "0"]) == 0
    capsys.readouterr()
    return _ids(out)


def _ratings(spec: str, batch: dict[str, str], tmp_path: Path, capsys) -> None:
    """A person finds the teacher's batch runs in ``traces list``, says its answer to q01 is bad, corrects its 14
    for q20 to 11, and confirms 17 for q04, which had no answer: the next harvests leave q01 and q20 out and let
    q04 teach by its gold answer."""
    vote_before, gold_before = (_harvest(spec, tmp_path / f"{s}-before", s, capsys) for s in ("vote", "gold"))
    assert main(["traces", "list", "--model", spec, "--json", "--limit", "500"]) == 0
    listed = json.loads(capsys.readouterr().out)
    runs = {run["item_id"]: run["id"] for run in listed if "batch" in run["meta"]}
    assert runs == batch and len(listed) > len(runs)  # the distill pass's runs are there too
    assert {"q01", "q04", "q20"} <= vote_before and "q01" in gold_before and not {"q04", "q20"} & gold_before
    assert main(["traces", "rate", runs["q01"], "bad"]) == 0
    assert main(["traces", "rate", runs["q20"], "bad", "--answer", "11"]) == 0
    assert main(["traces", "rate", runs["q04"], "good", "--answer", "17"]) == 0
    assert "gold answer set to 11" in capsys.readouterr().out
    vote_after, gold_after = (_harvest(spec, tmp_path / f"{s}-after", s, capsys) for s in ("vote", "gold"))
    assert vote_after == vote_before - {"q01", "q20"}  # every run that gave a rated-bad answer is left out
    assert gold_after == (gold_before - {"q01"}) | {"q04"}
    store = open_store()
    golds = {run.gold for run in store.query(model=spec, item_id="q20")}
    assert golds == {"11"}  # the correction, not the teacher's 14, is what every run of q20 now holds


@contextmanager
def _served(spec: str, home: Path) -> Iterator[str]:
    """``apprentice serve --model SPEC`` over ``home`` in a subprocess on a free port (one llama.cpp thread);
    yields its /v1 URL."""
    port = _free_port()
    code = "import sys; from apprentice.cli import main; sys.exit(main(sys.argv[1:]))"
    with open(home / "serve.log", "w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "serve", "--model", spec, "--port", str(port), "--log-level", "warning"],
            stderr=log, env={**os.environ, "APPRENTICE_HOME": str(home), "APPRENTICE_THREADS": "1",
                             "OMP_NUM_THREADS": "1"})
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                pytest.fail(f"the server did not start:\n{(home / 'serve.log').read_text()}")
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _ask_the_student(url: str) -> str:
    """The official client and ChatOpenAI talk to the student: plain text, a required tool call, and the ReAct
    strategy run server-side; returns the strategy run's trace id."""
    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=120)
    assert {"mine-r1", "mine-r1+react"} <= {model.id for model in client.models.list().data}
    question = [{"role": "user", "content": "Lu has 12 stickers and gets 30 more: 12 + 30. How many stickers now?"}]
    plain = client.chat.completions.create(model="mine-r1", messages=[{"role": "user", "content": "Say hello."}],
                                           max_tokens=16, temperature=0)
    assert plain.choices[0].message.content.strip() and plain.usage.completion_tokens > 0
    called = client.chat.completions.create(model="mine-r1", messages=question, tools=[CALCULATOR],
                                            tool_choice="required", max_tokens=60, temperature=0)
    (call,) = called.choices[0].message.tool_calls
    assert called.choices[0].finish_reason == "tool_calls" and call.function.name == "calculator"
    assert json.loads(call.function.arguments)["expression"].strip()
    chat = ChatOpenAI(base_url=url, api_key="none", model="mine-r1", max_tokens=16, temperature=0, max_retries=0)
    assert chat.invoke("Say hello.").content.strip()
    agent = client.chat.completions.create(model="mine-r1+react", messages=question, max_tokens=60)
    assert agent.choices[0].message.content.strip() and agent.trace_id
    return agent.trace_id
