"""The command line end to end on the real embedded model and real SQLite, and its bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apprentice.cli import main
from apprentice.errors import ApprenticeError
from apprentice.traces import open_store

APPRENTICE = Path(sys.executable).with_name("apprentice")
RESULT_KEYS = {"run_id", "thread_id", "strategy", "model", "answer", "status", "error", "prediction",
               "correct", "score", "tokens_in", "tokens_out", "model_calls", "latency_s"}
RUN_KEYS = {"id", "strategy", "model", "question", "status", "started_at", "thread_id", "task", "item_id",
            "gold", "answer", "error", "ended_at", "latency_s", "tokens_in", "tokens_out", "model_calls",
            "correct", "score", "checker", "tree", "meta", "verdicts"}
QUESTION = "What is 12 times 7?"


def cli(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    """Run the installed console script with the test's APPRENTICE_HOME and no OpenAI key.

    llama.cpp gets one thread: on a shared, oversubscribed CPU two spinning threads are many
    times slower than one (see tests/fixtures_models.py).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.setdefault("APPRENTICE_THREADS", "1")
    return subprocess.run([str(APPRENTICE), *args], capture_output=True, text=True, env=env, timeout=timeout)


def assert_one_error_line(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0]


# -- end to end ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_ask_through_the_console_script_leaves_a_trace_that_traces_commands_show():
    assert APPRENTICE.is_file(), "the console script is installed by make install"
    asked = cli("ask", QUESTION, "--max-steps", "2", "--tools", "calculator")
    assert asked.returncode == 0, asked.stderr
    assert "\nAnswer: " in asked.stdout and "thought" in asked.stdout
    assert "Traceback" not in asked.stderr
    run_id = asked.stderr.split("run ", 1)[1].split()[0]

    listed = cli("traces", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [r["id"] for r in runs] == [run_id]
    assert set(runs[0]) == RUN_KEYS and runs[0]["question"] == QUESTION and runs[0]["status"] == "ok"
    assert runs[0]["model"] == "local" and runs[0]["model_calls"] >= 1

    shown = cli("traces", "show", run_id[:6], "--json")
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert set(run) == RUN_KEYS | {"steps"} and run["id"] == run_id
    kinds = [s["kind"] for s in run["steps"]]
    assert kinds[0] == "llm" and kinds.count("llm") == run["model_calls"]
    assert [s["idx"] for s in run["steps"]] == list(range(len(kinds)))
    assert all(s["tokens_in"] > 0 and s["latency_s"] > 0 for s in run["steps"] if s["kind"] == "llm")

    text = cli("traces", "show", run_id, "--full")
    assert text.returncode == 0 and text.stdout.startswith(f"run {run_id}  (ok)")
    assert "llm          [reason]" in text.stdout and "totals" in text.stdout

    table = cli("traces", "list")
    assert run_id in table.stdout and "react" in table.stdout

    exported = cli("traces", "export")
    assert exported.returncode == 0 and "exported 1 traces" in exported.stderr
    (line,) = exported.stdout.splitlines()
    assert json.loads(line) == run


@pytest.mark.slow
def test_ask_in_process_json_matches_the_stored_trace(capsys, monkeypatch):
    # `local` exactly as the runner loads it, but on one thread: the default instance (n_ctx 4096) may
    # already be loaded on two threads by another test, and those crawl on a shared, busy CPU
    from apprentice.graphs import runner
    from apprentice.models import load_chat_model

    monkeypatch.setenv("APPRENTICE_THREADS", "1")
    monkeypatch.setattr(runner, "load_chat_model", lambda spec, **kw: load_chat_model(spec, n_ctx=2048, **kw))
    assert main(["ask", QUESTION, "--max-steps", "2", "--tools", "calculator", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert set(result) == RESULT_KEYS and captured.err == ""
    assert result["status"] == "ok" and result["model"] == "local" and result["strategy"] == "react"
    run = open_store().get(result["run_id"])
    assert run.thread_id == result["thread_id"] and run.answer == result["answer"]
    assert (run.tokens_in, run.tokens_out, run.model_calls) == (
        result["tokens_in"], result["tokens_out"], result["model_calls"])
    assert [s.kind for s in run.steps].count("llm") == result["model_calls"] >= 1
    assert run.steps[-1].kind == "answer" and run.steps[-1].raw == result["answer"]


def test_tool_command_runs_one_tool(capsys):
    assert main(["tool", "calculator", "12*7+1/2"]) == 0
    assert capsys.readouterr().out.strip() in ("169/2", "84.5")


# -- bad input: one error line, no traceback, non-zero exit -------------------------------------


@pytest.fixture
def bad_files(tmp_path) -> dict[str, str]:
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_text("this is not a model\n")
    pickled = tmp_path / "pickled-model"
    pickled.mkdir()
    (pickled / "config.json").write_text("{}")
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    return {"not_gguf": str(not_gguf), "pickled": str(pickled), "missing": str(tmp_path / "nope.gguf")}


BAD_INPUTS = {
    "unknown model spec": (["ask", "hi", "--model", "gpt-5"], 2, "unknown model spec 'gpt-5'"),
    "missing model file": (["ask", "hi", "--model", "local:{missing}"], 2, "model path not found"),
    "not a GGUF file": (["ask", "hi", "--model", "local:{not_gguf}"], 2, "not a GGUF file"),
    "pickle-only HF folder": (["ask", "hi", "--model", "local:{pickled}"], 2, "pickle files are refused"),
    "empty question": (["ask", ""], 2, "the question is empty"),
    "blank question": (["ask", "  ", " "], 2, "the question is empty"),
    "no question": (["ask"], 2, "required: question"),
    "unknown strategy": (["ask", "hi", "--strategy", "magic"], 2, "invalid choice: 'magic'"),
    "unknown tool in ask": (["ask", "hi", "--tools", "calculator,teleport"], 2, "unknown tool 'teleport'"),
    "unknown tool command": (["tool", "teleport", "x"], 2, "invalid choice: 'teleport'"),
    "unknown trace id": (["traces", "show", "deadbeef"], 2, "no run matches id 'deadbeef'"),
    "show without id": (["traces", "show"], 2, "needs a run id"),
    "bad --since": (["traces", "list", "--since", "yesterday"], 2, "cannot read time 'yesterday'"),
    "bad --verdict": (["traces", "list", "--verdict", "maybe"], 2, "invalid choice: 'maybe'"),
    "unknown command": (["fly"], 2, "invalid choice: 'fly'"),
    "follow-ups without the student prompt": (["harvest", "--out", "{missing}", "--followups", "0.3"], 2,
                                               "need a student ReAct prompt"),
    "follow-ups with no system prompt": (["harvest", "--out", "{missing}", "--react-prompt", "student",
                                          "--system", "none", "--followups", "0.3"], 2, "--system none drops"),
    "unknown gsm8k level": (["eval", "--task", "gsm8k", "--level", "0"], 2, "number of steps of 1 or more"),
    "unknown gsm8k pool level": (["distill", "--task", "gsm8k", "--gsm8k-levels", "0", "--rounds", "1"], 2,
                                 "number of steps of 1 or more"),
    "arith distractors out of range": (["eval", "--task", "arith", "--distractors", "1.5"], 2, "share from 0 to 1"),
    "distractors for no arith pool": (["distill", "--task", "svamp:3", "--arith-distractors", "0.5"], 2,
                                      "acts on the arith pool"),
    "same-kind distractors without a share": (["eval", "--task", "arith", "--distractor-kind", "same"], 2,
                                              "needs a distractors share above 0"),
    "unknown distractor kind": (["distill", "--task", "arith", "--arith-distractor-kind", "near"], 2,
                                "invalid choice: 'near'"),
    "levels for no arith pool": (["distill", "--task", "svamp:3", "--levels", "1", "2"], 2,
                                 "--levels acts on the arith pool"),
    "bad pool size": (["distill", "--task", "arith:0"], 2, "the pool size after ':' must be a whole number"),
    "openai without key": (["ask", "hi", "--model", "openai:gpt-4o-mini"], 3, "needs OPENAI_API_KEY"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_error_line(case, bad_files, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    argv, code, fragment = BAD_INPUTS[case]
    assert main([a.format(**bad_files) for a in argv]) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_error_line(captured.err, fragment)


@pytest.mark.parametrize("case", ["not a GGUF file", "bad --since"])
def test_bad_input_through_the_console_script(case, bad_files):
    argv, code, fragment = BAD_INPUTS[case]
    done = cli(*[a.format(**bad_files) for a in argv], timeout=60)
    assert done.returncode == code and done.stdout == ""
    assert_one_error_line(done.stderr, fragment)


def test_bad_input_leaves_no_trace_behind(bad_files, capsys):
    for case in ("unknown model spec", "not a GGUF file", "empty question"):
        main([a.format(**bad_files) for a in BAD_INPUTS[case][0]])
    capsys.readouterr()
    assert open_store().count() == 0


def test_an_unknown_tool_leaves_no_running_trace(capsys):
    assert main(["ask", "hi", "--tools", "teleport"]) == 2
    assert open_store().count(status="running") == 0


def test_ask_with_no_tools(monkeypatch, capsys):
    import apprentice.graphs as graphs

    seen = {}

    def fake_run_question(question, **kwargs):
        seen.update(kwargs)
        raise ApprenticeError("stopped before running")

    monkeypatch.setattr(graphs, "run_question", fake_run_question)
    main(["ask", "hi", "--tools", ""])
    assert seen["tools"] == []


def test_an_error_line_holds_no_secret(monkeypatch, capsys, tmp_path):
    """Error lines quote user input and server replies: a key in them is redacted like everywhere else."""
    from apprentice.cli import main

    monkeypatch.setenv("ACME_API_KEY", "acme-secret-9876543210")
    assert main(["ask", "q", "--docs", str(tmp_path / "acme-secret-9876543210")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "acme-secret" not in err


def test_chat_and_batch_check_their_options_before_starting(capsys, tmp_path):
    from apprentice.cli import main

    assert main(["chat", "--option", "bogus=1"]) == 2
    assert "no strategy takes it" in capsys.readouterr().err
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "1+1?"}\n')
    assert main(["batch", str(questions), "--out", str(tmp_path / "o.jsonl"), "--strategy", "react",
                 "--option", "samples=3"]) == 2
    assert "unknown option 'samples' for strategy react" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_a_command_whose_optional_extra_is_missing_says_which_in_one_line(tmp_path):
    """`pip install apprentice` without [serve] / [train] / [ray]: the command names the extra to install."""
    code = ("import sys; sys.modules['fastapi'] = None; sys.modules['trl'] = None; "
            "from apprentice.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "APPRENTICE_HOME": str(tmp_path)}
    served = subprocess.run([sys.executable, "-c", code, "serve", "--model", "local", "--port", "0"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert served.returncode == 2 and served.stderr.count("\n") == 1, served.stderr
    assert "needs the optional 'serve' dependencies" in served.stderr and "apprentice[serve]" in served.stderr
    data = tmp_path / "d.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n')
    trained = subprocess.run([sys.executable, "-c", code, "train", "sft", "--data", str(tmp_path), "--name", "x"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert trained.returncode == 2 and "apprentice[train]" in trained.stderr and "Traceback" not in trained.stderr


def test_every_command_that_touches_a_store_takes_it_by_url(tmp_path, monkeypatch, capsys):
    """--db on ask (and chat, batch, serve, eval, harvest, distill): the run lands in that store, not the home's;
    a malformed URL is one line before anything runs."""
    from apprentice.cli import _STORE_COMMANDS, make_parser

    monkeypatch.delenv("APPRENTICE_DB", raising=False)
    parser = make_parser()
    for name in _STORE_COMMANDS:
        assert "--db" in parser._subparsers._group_actions[0].choices[name].format_help()
    other = tmp_path / "elsewhere" / "traces.db"
    other.parent.mkdir()
    assert main(["ask", "What is 2 + 3?", "--strategy", "io", "--model", "local", "--db", f"sqlite:///{other}"]) == 0
    capsys.readouterr()
    from apprentice.traces import TraceStore

    assert [r.question for r in TraceStore(other).query()] == ["What is 2 + 3?"]
    assert not (Path(os.environ["APPRENTICE_HOME"]) / "traces.db").exists()
    assert "APPRENTICE_DB" not in os.environ  # the command's store was the command's only
    assert main(["ask", "hi", "--db", "mysql://nobody@host/db"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown store URL" in err


def test_ask_says_when_the_calculator_work_does_not_give_the_answer(monkeypatch, capsys):
    """The student's misreading (17 - 45 gives -28, it answers 28): the answer is printed as given, with one line
    saying why its work does not give it; an answer the work gives gets no such line, and --json keeps its shape."""
    from apprentice.backends.scripted import ScriptedChatModel
    from apprentice.graphs import runner

    misread = [" I subtract.\nAction: calculator\nAction Input: 17 - 45", " The calculator gave 28.\nFinal Answer: 28"]
    right = [" I subtract.\nAction: calculator\nAction Input: 45 - 17", " The calculator gave 28.\nFinal Answer: 28"]
    for script, note in ((misread, ["Check it: answer 28 is none of the calculator's results (-28)"]), (right, [])):
        monkeypatch.setattr(runner, "load_chat_model",
                            lambda spec, script=script, **kw: ScriptedChatModel(script=script))
        assert main(["ask", "Tom had 45 marbles and now has 17. How many did he lose?", "--tools", "calculator"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[out.index("Answer: 28") + 1:] == note
    monkeypatch.setattr(runner, "load_chat_model", lambda spec, **kw: ScriptedChatModel(script=misread))
    assert main(["ask", "Tom had 45 marbles and now has 17. How many?", "--tools", "calculator", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == RESULT_KEYS
