"""Issue 35, item 4: no secret reaches any store under APPRENTICE_HOME or anything the product shows or
exports. Real CLI, real SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apprentice.backends import ScriptedChatModel
from apprentice.cli import main
from apprentice.graphs import runner
from apprentice.graphs.threads import close_checkpointer, thread_messages
from apprentice.secrets import REDACTED, redact, redact_obj
from apprentice.tools import close_memory_store
from apprentice.traces import Step, open_store
from apprentice.traces.store import close_store

ENV_KEY = "sk-test-9f8e7d6c5b4a3928170615"  # set as OPENAI_API_KEY
LITERAL_KEY = "sk-proj-Zq81LmNc02XyTT4vRk9aBcDeFgH"  # in no env var: caught by its shape
SECRETS = (ENV_KEY, LITERAL_KEY)


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

