"""Issue 35, items 4 and 7: no secret reaches any store under APPRENTICE_HOME or anything the product
shows or exports, and a damaged or unwritable store is one ``error:`` line that names the file and says
what to do, while commands that do not need that store keep working. Real CLI, real SQLite."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from apprentice.backends import ScriptedChatModel
from apprentice.cli import main
from apprentice.graphs import runner
from apprentice.graphs.threads import close_checkpointer, open_checkpointer, thread_messages
from apprentice.secrets import REDACTED, redact, redact_obj
from apprentice.tools import close_memory_store
from apprentice.traces import Step, open_store
from apprentice.traces.store import close_store

ENV_KEY = "sk-test-9f8e7d6c5b4a3928170615"  # set as OPENAI_API_KEY
LITERAL_KEY = "sk-proj-Zq81LmNc02XyTT4vRk9aBcDeFgH"  # in no env var: caught by its shape
SECRETS = (ENV_KEY, LITERAL_KEY)
GARBAGE = b"this is not a SQLite file, just bytes an accident left here\n" * 80


def scripted(monkeypatch, *scripts: list[str]) -> list[ScriptedChatModel]:
    """Make ``ask`` load these scripted models, one per run, in order; returns them as they are made."""
    made: list[ScriptedChatModel] = []
    queue = list(scripts)

    def load(spec, **kwargs):
        made.append(ScriptedChatModel(script=queue.pop(0)))
        return made[-1]

    monkeypatch.setattr(runner, "load_chat_model", load)
    return made


def close_all(home: Path) -> None:
    close_store(home / "traces.db")
    close_checkpointer(home / "threads.db")
    close_memory_store(home / "memory.db")


def files_holding_a_secret(folder: Path) -> list[str]:
    return [str(p) for p in sorted(folder.rglob("*")) if p.is_file()
            and any(s.encode() in p.read_bytes() for s in SECRETS)]


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    return lines[0]


# -- item 4: secrets, in every store and every output ---------------------------------------------


def test_redact_masks_env_values_and_key_shapes_and_leaves_ordinary_text(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    assert redact(f"a {ENV_KEY} b {LITERAL_KEY} c") == f"a {REDACTED} b {REDACTED} c"
    for key in ("ghp_" + "a1B2" * 9, "hf_" + "Xy9" * 11, "AKIA" + "ABCDEFGH23456789", "sk-ant-api03-" + "x7" * 12):
        assert redact(f"key={key}.") == f"key={REDACTED}.", key
    for text in ("use sk-learn-compatible-estimators", "task-0123456789abcdefghijk", "12*7 = 84", "ask-me"):
        assert redact(text) is text


def test_redact_obj_copies_what_it_changes_and_never_touches_the_original(monkeypatch):
    from langchain_core.messages import AIMessage, HumanMessage

    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    call = {"name": "web_search", "args": {"query": f"leak {ENV_KEY}"}, "id": "c1", "type": "tool_call"}
    state = {"messages": [HumanMessage(f"my key {LITERAL_KEY}"), AIMessage("", tool_calls=[call])],
             "tree": {"nodes": [(1, f"t {ENV_KEY}")]}, "answer": "84", LITERAL_KEY: 1}
    clean = redact_obj(state)
    assert_no_secret(repr(clean))
    assert ENV_KEY in repr(state) and LITERAL_KEY in repr(state)
    assert clean["messages"][1].tool_calls[0]["args"]["query"] == f"leak {REDACTED}"
    assert isinstance(clean["messages"][0], HumanMessage) and clean["answer"] is state["answer"]
    untouched = {"messages": [HumanMessage("hi")], "n": 3}
    assert redact_obj(untouched) is untouched


def test_a_secret_in_a_question_and_its_tool_traffic_reaches_no_store_and_no_output(
        apprentice_home, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    models = scripted(
        monkeypatch,
        [f" I keep the keys.\nAction: remember\nAction Input: keys {ENV_KEY} and {LITERAL_KEY}",
         f" I add.\nAction: calculator\nAction Input: 2 + 3 # {ENV_KEY} {LITERAL_KEY}",
         f" Final Answer: 5, and your keys are {ENV_KEY} {LITERAL_KEY}"],
        [f" Final Answer: still {ENV_KEY} {LITERAL_KEY}"],
        [f" Final Answer: once more {LITERAL_KEY}"],
    )
    question = f"My keys are {ENV_KEY} and {LITERAL_KEY}. What is 2 + 3?"
    assert main(["ask", question, "--tools", "remember,calculator", "--thread", "t1"]) == 0
    shown = capsys.readouterr()
    assert "action       remember: keys [redacted] and [redacted]" in shown.out
    assert_no_secret(shown.out + shown.err)
    # the thread's next turn reads its history back from threads.db: redacted there, as the model sees it
    assert main(["ask", "and again?", "--thread", "t1", "--json", "--tools", ""]) == 0
    again = capsys.readouterr()
    assert_no_secret(again.out + again.err)
    assert json.loads(again.out)["answer"] == f"still {REDACTED} {REDACTED}"
    assert_no_secret(repr(models[1].prompts))
    assert REDACTED in repr(models[1].prompts)
    assert main(["ask", "a new thread", "--json", "--tools", ""]) == 0
    assert_no_secret(capsys.readouterr().out)

    (first, *_) = open_store().query(thread_id="t1", newest_first=False)
    out = tmp_path / "export.jsonl"
    for argv in (["traces", "list"], ["traces", "list", "--json"], ["traces", "show", first.id, "--full"],
                 ["traces", "show", first.id, "--json"], ["traces", "export"], ["traces", "export", "--out", str(out)]):
        assert main(argv) == 0, argv
        printed = capsys.readouterr()
        assert_no_secret(printed.out + printed.err)
    assert out.stat().st_size > 0 and REDACTED in out.read_text()
    assert_no_secret(repr(thread_messages("t1")))

    from apprentice.eval.report import ItemResult, cell_stats, write_json, write_markdown
    from apprentice.tui.export import export_thread

    exported = export_thread("t1", f"keys {LITERAL_KEY}", tmp_path / "chats")
    items = {"react/scripted": [ItemResult("i1", first.id, "error", False, 0.0, f"p {ENV_KEY}", 1, 1, 1, 0.1,
                                           error=f"boom {LITERAL_KEY}")]}
    header = {"task": "jsonl", "command": f"apprentice eval --note {LITERAL_KEY}", "options": {"k": ENV_KEY}}
    cells = [cell_stats("react", "scripted", items["react/scripted"])]
    write_json(tmp_path / "report.json", header, cells, items)
    write_markdown(tmp_path / "report.md", header, cells, items, None)
    for path in (exported, tmp_path / "report.json", tmp_path / "report.md"):
        assert_no_secret(path.name + path.read_text())

    assert files_holding_a_secret(apprentice_home) == []  # while open: the -wal files too
    close_all(apprentice_home)
    assert files_holding_a_secret(apprentice_home) == []
    assert {p.name for p in apprentice_home.glob("*.db")} == {"traces.db", "threads.db", "memory.db"}


def test_a_step_shown_live_is_redacted_before_it_is_stored(monkeypatch):
    """The sink gets the step before the store does; the CLI, the chat and any caller see it redacted."""
    monkeypatch.setenv("MY_TOKEN", ENV_KEY)
    seen: list[Step] = []
    model = ScriptedChatModel(script=[f" I look.\nAction: calculator\nAction Input: 1 + {ENV_KEY}",
                                      f" Final Answer: {LITERAL_KEY}"])
    result = runner.run_question("q", model=model, tools=["calculator"], sink=seen.append, thread_id="t2")
    assert seen and all(s.kind for s in seen)
    assert_no_secret(repr(seen) + repr(result))
    assert result.answer == REDACTED


# -- item 7: damaged and unwritable stores -------------------------------------------------------


def _traces_with_one_run(home: Path) -> str:
    store = open_store()
    run_id = store.start_run(strategy="react", model="local", question="What is 6*7?")
    store.finish_run(run_id, answer="42")
    close_store(home / "traces.db")
    return run_id


def _run_the_suggested_command(line: str) -> None:
    command = line.split(": mv ", 1)[1]
    subprocess.run(["sh", "-c", "mv " + command], check=True)


@pytest.mark.parametrize("damage", ["garbage", "pages"])
def test_a_damaged_traces_db_is_one_line_naming_it_and_the_fix_it_names_works(apprentice_home, capsys, damage):
    path = apprentice_home / "traces.db"
    _traces_with_one_run(apprentice_home)
    if damage == "garbage":
        path.write_bytes(GARBAGE)
    else:  # the first page (header, schema) intact, every other one overwritten: 'disk image is malformed'
        data = path.read_bytes()
        assert len(data) > 4096
        path.write_bytes(data[:4096] + os.urandom(len(data) - 4096))
    assert main(["traces", "list"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{path} is damaged and cannot be read" in line and f"mv {path} {path}.corrupt-" in line
    _run_the_suggested_command(line)
    assert main(["traces", "list"]) == 0 and capsys.readouterr().out.strip() == "no traces match"
    assert list(apprentice_home.glob("traces.db.corrupt-*"))  # the old one is kept


def test_a_damaged_threads_db_stops_only_runs_that_continue_a_thread(apprentice_home, monkeypatch, capsys):
    apprentice_home.mkdir(parents=True)
    path = apprentice_home / "threads.db"
    path.write_bytes(GARBAGE)
    scripted(monkeypatch, [" Final Answer: 5"], [" Final Answer: 6"])
    assert main(["ask", "What is 2 + 3?", "--tools", ""]) == 0
    captured = capsys.readouterr()
    assert "Answer: 5" in captured.out
    warning = [ln for ln in captured.err.splitlines() if ln.startswith("warning: ")]
    assert len(warning) == 1 and f"{path} is damaged" in warning[0]
    assert main(["ask", "And 3 + 3?", "--thread", "t1", "--tools", ""]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{path} is damaged and cannot be read" in line and f"mv {path} {path}.corrupt-" in line
    assert main(["traces", "list"]) == 0 and "react" in capsys.readouterr().out
    assert path.read_bytes() == GARBAGE  # nothing moved or overwritten behind the user's back


def test_a_damaged_memory_db_is_one_line_and_an_observation_inside_a_run(apprentice_home, monkeypatch, capsys):
    apprentice_home.mkdir(parents=True)
    path = apprentice_home / "memory.db"
    path.write_bytes(GARBAGE)
    assert main(["tool", "remember", "the sky is blue"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{path} is damaged and cannot be read" in line and f"mv {path} {path}.corrupt-" in line
    scripted(monkeypatch, [" I save it.\nAction: remember\nAction Input: sky is blue", " Final Answer: saved"])
    assert main(["ask", "Remember the sky is blue", "--tools", "remember"]) == 0
    out = capsys.readouterr().out
    assert f"observation  Error: {path} is damaged" in out and "Answer: saved" in out


@pytest.mark.parametrize("name", ["traces.db", "threads.db", "memory.db"])
def test_a_garbage_write_ahead_log_is_reported_not_silently_dropped(apprentice_home, monkeypatch, capsys, name):
    _traces_with_one_run(apprentice_home)
    wal = apprentice_home / f"{name}-wal"
    wal.write_bytes(os.urandom(4096))
    before = wal.read_bytes()
    argv = {"traces.db": ["traces", "list"], "threads.db": ["ask", "hi", "--thread", "t1", "--tools", ""],
            "memory.db": ["tool", "remember", "the sky is blue"]}[name]
    scripted(monkeypatch, [" Final Answer: hello"])
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{wal} is damaged: it is not a SQLite write-ahead log" in line and f"mv {wal} {wal}.corrupt-" in line
    assert wal.read_bytes() == before  # SQLite never opened it, so the evidence is still there
    if name == "traces.db":
        _run_the_suggested_command(line)
        assert main(["traces", "list"]) == 0 and "react" in capsys.readouterr().out


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in. Root ignores permission bits, so as root /proc
    stands in (no one can create a file there); as anyone else a folder with mode 0o500."""
    if os.geteuid() != 0:
        folder = tmp_path / "readonly-home"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    if not Path("/proc/self").is_dir():
        pytest.skip("running as root without /proc: no folder here refuses root's writes")
    return Path("/proc")


def test_a_read_only_home_is_one_line_naming_the_folder(tmp_path, monkeypatch, capsys):
    home = _unwritable_folder(tmp_path)
    monkeypatch.setenv("APPRENTICE_HOME", str(home))
    try:
        for argv, name in ((["traces", "list"], "traces.db"), (["tool", "remember", "x"], "memory.db")):
            assert main(argv) == 2
            line = one_error_line(capsys.readouterr().err)
            assert f"cannot write {home / name}: the folder {home} is not writable" in line
            assert "set APPRENTICE_HOME to a folder you can write" in line
    finally:
        if home != Path("/proc"):
            home.chmod(0o700)


def test_a_home_that_is_a_file_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home-file"
    home.write_text("not a folder\n")
    monkeypatch.setenv("APPRENTICE_HOME", str(home))
    assert main(["traces", "list"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"cannot use {home} as the apprentice home folder" in line


def test_a_run_on_a_damaged_threads_db_through_the_library_names_the_file(apprentice_home):
    apprentice_home.mkdir(parents=True)
    (apprentice_home / "threads.db").write_bytes(GARBAGE)
    from apprentice.errors import StoreError

    with pytest.raises(StoreError, match="threads.db is damaged"):
        open_checkpointer()
    model = ScriptedChatModel(script=[" Final Answer: 1"])
    with pytest.raises(StoreError, match=shlex.quote(str(apprentice_home / "threads.db"))):
        runner.run_question("q", model=model, tools=[], thread_id="named")


@pytest.mark.parametrize("strategy", ["cot-sc", "tot"])
def test_a_map_steps_payload_reaches_no_checkpoint(apprentice_home, monkeypatch, strategy):
    """cot-sc and tot hand the question to their samples with LangGraph's Send, which checkpoints keep too."""
    from apprentice.backends import ScriptedChatModel
    from apprentice.graphs import run_question
    from apprentice.graphs.threads import close_checkpointer

    key = "sk-proj-Zx9" + "q" * 30
    model = ScriptedChatModel(script=[" 4\nFinal Answer: 4", "1. add\n2. add", "0.9"], cycle=True)
    run_question(f"What is 2+2? my key is {key}", strategy=strategy, model=model, model_spec="scripted",
                 thread_id="t1", options={"samples": 2} if strategy == "cot-sc" else {"breadth": 1, "depth": 1})
    close_checkpointer()
    for path in apprentice_home.glob("threads.db*"):
        assert key.encode() not in path.read_bytes(), path.name


def test_digit_only_secrets_leave_checkpoint_bookkeeping_alone(apprentice_home, monkeypatch):
    """Channel versions and checkpoint ids are digits: a secret of digits must not garble them (the thread
    could not be resumed)."""
    from apprentice.backends import ScriptedChatModel
    from apprentice.graphs import run_question

    monkeypatch.setenv("PIN_TOKEN", "00000000")
    model = ScriptedChatModel(script=[" ok\nFinal Answer: 1"], cycle=True)
    for _ in range(3):
        result = run_question("Count one more.", model=model, model_spec="scripted", thread_id="t2")
        assert result.status == "ok"
