"""A remote teacher over real HTTP (a scripted OpenAI-compatible server on 127.0.0.1 that answers with native tool
calls), questions of one's own, and what a distillation round pays for."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from apprentice.backends import ScriptedChatModel
from apprentice.cli import main
from apprentice.tasks import get_task
from apprentice.training.examples import SILENT_THOUGHT, learned_spans
from apprentice.training.harvest import HarvestConfig, harvest
from apprentice.training.teachers import load_teacher_model, parse_teacher, solve_pool

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import start_server  # noqa: E402

QUESTIONS = [
    {"id": "a", "question": "Ann has 12 apples and buys 30 more: 12 + 30. How many apples?", "answer": "42"},
    {"id": "b", "question": "Bo reads 7 pages, then 5: 7 + 5. How many pages? [silent]", "answer": "12"},
    {"id": "c", "question": "A shop sells 20 cups and 13 plates: 20 + 13. How many items?"},
    {"id": "d", "question": "Di saves 9 coins and finds 8: 9 + 8. How many coins?", "answer": None},
]


@pytest.fixture
def server():
    """The scripted teacher: native calculator calls; 429 and 5xx answers ask for a 1 ms wait."""
    server = start_server(tool_calls=True, retry_after_ms=1)
    yield server
    server.shutdown()


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _pool(tmp_path: Path, rows: list[dict] = QUESTIONS) -> tuple:
    task = get_task("jsonl", kind="number", require_answer=False)
    return task, task.load(_write(tmp_path / "mine.jsonl", rows))


def _teacher(server, retries: int = 2):
    teacher = parse_teacher(f"openai:teacher@{server.url}")
    return teacher, load_teacher_model(teacher, retries=retries)


def test_native_tool_calls_become_the_students_text_protocol(server, tmp_path):
    """The teacher called the calculator natively; the student learns Thought / Action / Action Input /
    Observation / Final Answer text, with the teacher's own words as its thoughts (and a plain one where the
    teacher wrote none), under the student's own prompt: it never sees a JSON tool call."""
    task, items = _pool(tmp_path)
    teacher, chat = _teacher(server)
    counts = solve_pool(teacher, task, items, student="local", meta={"distill": "remote"}, chat=chat,
                        rationalize="none", verdicts="rules")
    assert counts["items"] == 4 and counts["checked"] == 2 and counts["solved"] == 2 and counts["runs"] == 4
    result = harvest(HarvestConfig(out=tmp_path / "d", run_ids=counts["run_ids"], verdict_source="rules",
                                   react_prompt="student", eval_fraction=0.0, tools=["calculator"]))
    assert result.train == 4  # the rules accept every computed answer, with or without a gold one
    rows = {row["metadata"]["item_id"]: row for row in map(json.loads, (tmp_path / "d" / "train.jsonl").open())}
    assert rows["a"]["messages"][-1]["content"] == (
        "Thought: I add 12 and 30 with the calculator.\n"
        "Action: calculator\n"
        "Action Input: 12 + 30\n"
        "Observation: 42\n"
        "Thought: The calculator says 42.\n"
        "Final Answer: 42")
    assert rows["b"]["messages"][-1]["content"] == (
        f"Thought: {SILENT_THOUGHT.format(tool='calculator')}\n"
        "Action: calculator\n"
        "Action Input: 7 + 5\n"
        "Observation: 12\n"
        "Thought: The calculator says 12.\n"
        "Final Answer: 12")
    system, user, _ = rows["a"]["messages"]
    assert system["role"] == "system" and "Action (one of [calculator])" in system["content"]
    assert system["content"].endswith("Give the final answer as a number.")  # the answer kind the runs had
    assert user["content"] == QUESTIONS[0]["question"]
    text = json.dumps([row["messages"] for row in rows.values()])
    assert "tool_calls" not in text and '"expression"' not in text
    completion = rows["a"]["messages"][-1]["content"]  # the observation is the calculator's, not learned
    learned = "".join(completion[a:b] for a, b in learned_spans(completion, "react"))
    assert "42\nThought:" not in learned and learned.endswith("The calculator says 42.\nFinal Answer: 42")


def test_429_and_5xx_are_retried_with_backoff_and_a_lost_item_does_not_stop_the_pass(server, tmp_path):
    rows = [{"id": "r", "question": "Rate limited twice: 2 + 3 [429]", "answer": "5"},
            {"id": "f", "question": "Flaky once: 4 + 4 [flaky]", "answer": "8"},
            {"id": "x", "question": "Always broken: 1 + 1 [fail]", "answer": "2"},
            {"id": "ok", "question": "Fine: 6 + 1", "answer": "7"}]
    task, items = _pool(tmp_path, rows)
    teacher, chat = _teacher(server, retries=3)
    counts = solve_pool(teacher, task, items, student="local", meta={}, chat=chat, rationalize="none")
    asked = server.counts
    assert asked[rows[0]["question"]] == 2 + 2  # two 429s, then the calculator call and the answer
    assert asked[rows[1]["question"]] == 1 + 2  # one 503 first
    assert asked[rows[2]["question"]] == 1 + 3  # a 500 every time: the first request and 3 retries, then given up
    assert asked[rows[3]["question"]] == 2
    assert counts["solved"] == 3 and counts["errors"] == 1 and counts["runs"] == 4


def test_the_concurrency_limit_holds_at_the_server(tmp_path):
    server = start_server(latency_s=0.15, tool_calls=True)
    try:
        rows = [{"id": str(i), "question": f"Sum {i} + {i}", "answer": str(2 * i)} for i in range(1, 7)]
        task, items = _pool(tmp_path, rows)
        teacher, chat = _teacher(server)
        counts = solve_pool(teacher, task, items, student="local", meta={}, chat=chat, concurrency=2)
        assert counts["solved"] == 6 and server.max_in_flight == 2  # two at once, never three
    finally:
        server.shutdown()


class _Killed:
    """A progress bar that stops the pass (as a kill would) once ``after`` items are done."""

    def __init__(self, after: int) -> None:
        self.after, self.done = after, 0

    def update(self, n: int) -> None:
        self.done += n
        if self.done >= self.after:
            raise KeyboardInterrupt


def test_a_killed_pass_pays_for_no_teacher_call_twice(server, tmp_path):
    task, items = _pool(tmp_path)
    teacher, chat = _teacher(server)
    with pytest.raises(KeyboardInterrupt):
        solve_pool(teacher, task, items, student="local", meta={"round": 1}, chat=chat, progress=_Killed(2))
    first = sum(server.counts.values())
    assert first == 4  # two items, two requests each
    usage_before = dict(server.usage)
    counts = solve_pool(teacher, task, items, student="local", meta={"round": 1}, chat=chat)
    assert counts["resumed"] == 2 and counts["runs"] == 4 and len(counts["run_ids"]) == 4
    assert all(n == 2 for n in server.counts.values()) and sum(server.counts.values()) == 8  # none asked twice
    # the round's tally is one pass's worth; what this pass paid is what the server served since the kill
    assert counts["tokens_in"] == server.usage["prompt_tokens"]
    assert counts["tokens_out"] == server.usage["completion_tokens"]
    assert counts["tokens_in"] - counts["resumed_tokens_in"] == server.usage["prompt_tokens"] - \
        usage_before["prompt_tokens"]
    # a third pass asks nothing at all
    again = solve_pool(teacher, task, items, student="local", meta={"round": 1}, chat=chat)
    assert again["resumed"] == 4 and sum(server.counts.values()) == 8
    assert again["solved"] == counts["solved"] == 2


def test_a_vote_lets_a_question_without_an_answer_teach(server, tmp_path):
    """No gold answer: the teacher's attempts agree, and the vote verdict selects the run."""
    task, items = _pool(tmp_path)
    teacher, chat = _teacher(server)
    counts = solve_pool(teacher, task, items, student="local", meta={}, chat=chat, attempts=2, verdicts="vote",
                        rationalize="none")
    assert counts["runs"] == 8 and sum(server.counts.values()) == 16
    gold_only = harvest(HarvestConfig(out=tmp_path / "g", run_ids=counts["run_ids"], verdict_source="gold",
                                      eval_fraction=0.0))
    voted = harvest(HarvestConfig(out=tmp_path / "v", run_ids=counts["run_ids"], verdict_source="vote",
                                  min_score=0.6, eval_fraction=0.0))
    questions = {json.loads(line)["metadata"]["item_id"] for line in (tmp_path / "v" / "train.jsonl").open()}
    assert gold_only.train == 2 and voted.train == 4 and questions == {"a", "b", "c", "d"}


def test_a_distill_round_with_a_remote_teacher_shows_the_money_and_pays_once(server, tmp_path, monkeypatch, capsys):
    """``distill`` over a question file of one's own (half of it without answers, selected by the teacher's
    vote), a remote teacher evaluated beside the student on a held-out file: the report's tallies are the
    server's, its money table and disagreement table are right, and the same command again asks nothing."""
    from apprentice.training import distill, sft

    pool = _write(tmp_path / "mine.jsonl", QUESTIONS)
    held = _write(tmp_path / "held.jsonl", [
        {"id": "h1", "question": "Held: 3 + 4", "answer": "7"},  # both right
        {"id": "h2", "question": "Held: 10 + 5", "answer": "15"},  # the teacher right, the student wrong
        {"id": "h3", "question": "Held: 2 + 2, less one", "answer": "3"},  # both wrong
        {"id": "h4", "question": "Held: 3 + 5, less one", "answer": "7"}])  # the student right, the teacher wrong
    trained = []
    monkeypatch.setattr(sft, "main", lambda args: trained.append(args) or SimpleNamespace(metrics={}))  # wiring only
    student = ScriptedChatModel(script=[" I know it.\nFinal Answer: 7"], cycle=True)
    evaluate = distill._evaluate
    monkeypatch.setattr(distill, "_evaluate", lambda spec, *a, **k: evaluate(
        spec, *a, **({**k, "chat": student} if spec.startswith("adapter:") else k)))
    report_dir = tmp_path / "report"
    command = ["distill", "--task", "jsonl", "--data", str(pool), "--eval-sets", str(held), "--answer-kind",
               "number", "--teacher", f"openai:teacher@{server.url}", "--verdict-source", "vote", "--min-score",
               "0.6", "--attempts", "2", "--rounds", "1", "--baseline-limit", "0", "--teacher-price", "1,2",
               "--teacher-concurrency", "2", "--react-prompt", "student", "--name", "mine", "--report",
               str(report_dir)]
    assert main(command) == 0, capsys.readouterr().err
    asked = sum(server.counts.values())
    assert asked == 16 + 8  # the pool: 4 items x 2 attempts x 2 calls; the held-out file: 4 items x 2 calls
    report = json.loads((report_dir / "report.json").read_text())
    row, teacher = report["rounds"][0], report["teacher_eval"][f"openai:teacher@{server.url}"]
    assert row["teacher_items"] == 4 and row["teacher_checked"] == 2 and row["teacher_accuracy"] == 1.0
    assert row["harvested"] == 4 and len(trained) == 1  # the two questions without answers teach too
    held_in = teacher["sets"]["held.jsonl"]["tokens_in"]
    held_out = teacher["sets"]["held.jsonl"]["tokens_out"]
    assert row["teacher_tokens_in"] + held_in == server.usage["prompt_tokens"]
    assert row["teacher_tokens_out"] + held_out == server.usage["completion_tokens"]
    assert row["teacher_cost_usd"] == pytest.approx((row["teacher_tokens_in"] + 2 * row["teacher_tokens_out"]) / 1e6)
    assert teacher["sets"]["held.jsonl"]["accuracy"] == 0.5 and row["student"]["held.jsonl"]["accuracy"] == 0.5
    markdown = (report_dir / "report.md").read_text()
    dollars = {name: f"${value:.6f}".rstrip("0") for name, value in (  # both under a cent
        ("held", (held_in + 2 * held_out) / 1e6 / 2), ("pool", row["teacher_cost_usd"]))}
    assert f"| held.jsonl | 4 | 50.0% | 50.0% | 100.0% | {dollars['held']} | $0 (local) |" in markdown
    assert f"{row['teacher_tokens_in']:,} tokens in, {row['teacher_tokens_out']:,} out, {dollars['pool']} in all" \
        in markdown
    assert "is right and `mine-r1` wrong on 1 held-out questions; the other way round on 1." in markdown
    assert "| held.jsonl | Held: 10 + 5 | 15 | 15 ✓ | 7 ✗ |" in markdown
    assert "| held.jsonl | Held: 3 + 5, less one | 7 | 8 ✗ | 7 ✓ |" in markdown
    assert "Held: 3 + 4" not in markdown.split("disagree")[-1]  # agreed: not in the table
    # the same command again (a killed run started anew) resumes every teacher call: the server hears nothing
    assert main(command) == 0
    assert sum(server.counts.values()) == asked
    again = json.loads((report_dir / "report.json").read_text())["rounds"][0]
    assert again["teacher_resumed"] == 8 and again["teacher_paid_usd"] == 0.0
    assert again["teacher_cost_usd"] == row["teacher_cost_usd"]


def test_bad_input_is_one_error_line_before_any_teacher_call(server, tmp_path, capsys):
    good = _write(tmp_path / "good.jsonl", QUESTIONS[:2])
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text(json.dumps(QUESTIONS[0]) + "\n{not json\n", encoding="utf-8")
    no_question = _write(tmp_path / "noq.jsonl", [QUESTIONS[0], {"id": "z", "text": "where is the question?"}])
    unanswered = _write(tmp_path / "held.jsonl", [QUESTIONS[0], {"id": "q", "question": "What is 1 + 2?"}])
    teacher = ["--teacher", f"openai:teacher@{server.url}", "--rounds", "1", "--baseline-limit", "0"]
    cases = [
        (["--task", "jsonl", "--data", str(tmp_path / "missing.jsonl")],
         f"{tmp_path / 'missing.jsonl'}: data file not found"),
        (["--task", "jsonl", "--data", str(bad_json)], f"{bad_json}:2: bad JSON"),
        (["--task", f"svamp:5,{no_question}"], f"{no_question}:2: missing field 'question'"),
        (["--task", str(good), "--eval-sets", str(unanswered)],
         f"--eval-sets held.jsonl: {unanswered}:2: missing field 'answer'"),
        (["--task", "jsonl"], "--task jsonl is the question file --data names"),
        (["--task", f"{good}:0"], "the pool size after ':' must be a whole number of 1 or more"),
        (["--task", str(good), "--verdict-source", "vote"], "give it (e.g. 0.6)"),
        (["--task", str(good), "--teacher-price", "cheap"], "--teacher-price 'cheap': give IN,OUT"),
        (["--task", "svamp", "--question-field", "q"], "--question-field: for a question file of your own"),
        (["--task", str(good), "--eval-sets", "jsonl"], "--eval-sets jsonl: 'jsonl' is the question file --data"),
        (["--task", str(good)], "--eval-sets good.jsonl: no held-out items to evaluate on (a fifth of a file"),
    ]
    for extra, message in cases:
        assert main(["distill", *teacher, *extra]) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], (extra, err)
    assert main(["distill", "--task", str(good), "--eval-sets", "arith:1", "--teacher",
                 "openai:teacher@http://127.0.0.1:9/v1", "--baseline-limit", "0"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot reach model server at http://127.0.0.1:9/v1")
    assert sum(server.counts.values()) == 0  # not one teacher call was made


def test_a_killed_self_taught_pass_resumes_its_runs_only_for_the_same_student(monkeypatch, tmp_path,
                                                                              register_adapter_x):
    """A self teacher (the student itself, sampling) resumes the runs an earlier pass finished, as a remote
    teacher does, but only while the student is the same weights at the same temperature."""
    from apprentice.backends import ScriptedChatModel
    from apprentice.tasks import get_task
    from apprentice.training import teachers
    from apprentice.training.teachers import parse_teacher, solve_pool

    calls = []

    def fake_student(spec, **kwargs):
        calls.append(ScriptedChatModel(script=[" I add.\nAction: calculator\nAction Input: 2 + 3",
                                               " Final Answer: 5"], cycle=True))
        return calls[-1]

    monkeypatch.setattr(teachers, "load_chat_model", fake_student)
    task = get_task("arith", level=1, n=4)
    items = task.load(split="train")[:2]
    first = solve_pool(parse_teacher("self"), task, items, student="local", meta={"distill": "s"}, attempts=2)
    assert first["runs"] >= 4 and first["resumed"] == 0  # two attempts an item, and hinted runs where they fail
    made = len(calls)
    again = solve_pool(parse_teacher("self"), task, items, student="local", meta={"distill": "s"}, attempts=2)
    assert again["resumed"] == first["runs"] and sorted(again["run_ids"]) == sorted(first["run_ids"])
    assert again["solved"] == first["solved"] and len(calls) == made + 1 and calls[-1].prompts == []
    hotter = solve_pool(parse_teacher("self"), task, items, student="local", meta={"distill": "s"}, attempts=2,
                        temperature=1.0)
    assert hotter["resumed"] == 0
    assert teachers._model_identity("local", 0.7) != teachers._model_identity("student", 0.7)
    from apprentice.training.student import shipped_version

    # the keys' format of earlier passes: a pass under way resumes across an upgrade
    assert teachers._model_identity("student", 0.7) == f"student-{shipped_version()}|t=0.7"
    assert teachers._model_identity("adapter:none", 0.7) == "adapter:none|t=0.7"  # not registered: its load says
    from apprentice.training.registry import adapter_version, get_adapter

    register_adapter_x(1.0)
    assert teachers._model_identity("adapter:x", 0.7) == f"x@{adapter_version(get_adapter('x'))}|t=0.7"


def test_a_replayed_pass_resumes_its_runs_and_a_changed_replay_runs_again(monkeypatch):
    """Dataset replays (a teacher, or a self teacher's fallback) are taken from the store when the same steps were
    replayed before, so a resumed round leaves no second copy of them in the traces."""
    from apprentice.tasks import get_task
    from apprentice.traces import open_store
    from apprentice.training import teachers
    from apprentice.training.teachers import parse_teacher, solve_pool

    from apprentice.training.replay import ReplayStep

    task = get_task("arith", level=1, n=6)
    items = task.load(split="train")[:3]
    first = solve_pool(parse_teacher("dataset"), task, items, student="local", meta={"distill": "r"})
    again = solve_pool(parse_teacher("dataset"), task, items, student="local", meta={"distill": "r"})
    assert first["resumed"] == 0 and again["resumed"] == first["runs"] == 3
    assert again["run_ids"] == first["run_ids"] and len(open_store().query()) == 3
    real = teachers.worked_steps
    monkeypatch.setattr(teachers, "worked_steps", lambda *a: [
        ReplayStep(s.thought + " Indeed.", s.expression) for s in real(*a)])
    changed = solve_pool(parse_teacher("dataset"), task, items, student="local", meta={"distill": "r"})
    assert changed["resumed"] == 0 and len(open_store().query()) == 6
