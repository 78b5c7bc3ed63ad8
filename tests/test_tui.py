"""Pilot tests of the chat UI: a whole conversation with a scripted model, real SQLite threads
and traces, and one end-to-end turn with the real embedded model."""

from __future__ import annotations

import threading

import pytest
from langchain_core.messages import HumanMessage

from apprentice.backends.scripted import ScriptedChatModel
from apprentice.errors import ModelUnavailableError
from apprentice.traces import Step, open_store
from apprentice.tui.agent import TokenRelay
from apprentice.tui.app import ChatApp
from apprentice.tui.screens import (
    ConfirmScreen,
    HelpScreen,
    PickerScreen,
    TextPromptScreen,
)
from apprentice.tui.sessions import SessionStore
from apprentice.tui.steps import step_body, step_title, tree_rows, vote_lines
from apprentice.tui.widgets import (
    AnswerBlock,
    SearchTree,
    StatusBar,
    StepBlock,
    ThreadList,
)

TOOL_TURN = [" I need to add.\nAction: calculator\nAction Input: 2+3", " The sum is known.\nFinal Answer: 5"]


async def ask(pilot, question: str, *, wait: bool = True) -> AnswerBlock:
    """Type a question, send it, and (by default) wait for the answer to finish."""
    pilot.app.screen.query_one("#prompt").value = question
    await pilot.press("enter")
    await pilot.pause()
    block = pilot.app.screen.query(AnswerBlock).last()
    if wait:
        await finish(pilot, block)
    return block


async def finish(pilot, block: AnswerBlock, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if not block.running:
            break
        await pilot.pause(0.05)
    await pilot.pause()
    assert not block.running


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_chat_runs_every_turn_with_its_strategy_options(apprentice_home):
    """``apprentice chat --strategy react-sc --option samples=2 --option verifier=rules``: each turn votes
    over two sampled ReAct runs, weighted by the rules verifier, and the verdicts show as steps."""
    app = ChatApp(ScriptedChatModel(script=TOOL_TURN, cycle=True), "react-sc",
                  options={"samples": 2, "verifier": "rules"})
    async with app.run_test(size=(110, 36)) as pilot:
        block = await ask(pilot, "What is 2+3?")
        assert block.answer_text.endswith("5")
        assert [s.step.kind for s in block.query(StepBlock)].count("verify") == 2
        checks = sorted(step_title(s.step) for s in block.query(StepBlock) if s.step.kind == "verify")
        assert [c.split(" · ")[0] for c in checks] == ["✓ sample 1", "✓ sample 2"]  # which run each verdict is on
        assert all(step_title(s.step).split(" · ")[0][2:] in ("sample 1", "sample 2")
                   for s in block.query(StepBlock) if s.step.kind in ("action", "observation"))
        run = open_store().query(thread_id=app.screen.thread_id)[0]
        assert run.meta["samples"] == 2 and run.meta["weights"] == {"5": 2.0}


def test_chat_cli_rejects_a_bad_option_before_the_screen_opens(capsys):
    from apprentice.cli import main

    assert main(["chat", "--option", "samples"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "KEY=VALUE" in err[0]


async def test_conversation_streams_steps_and_answer(apprentice_home):
    model = ScriptedChatModel(script=TOOL_TURN)
    app = ChatApp(model)
    async with app.run_test(size=(110, 36)) as pilot:
        block = await ask(pilot, "What is 2+3?")
        kinds = [s.step.kind for s in block.query(StepBlock)]
        assert kinds == ["thought", "action", "observation", "thought"]
        assert block.tokens and "".join(block.tokens).strip().endswith("5")
        assert block.answer_text == "5"
        status = app.screen.query_one(StatusBar)
        assert status.tokens_out > 0 and status.tokens_in > 0 and "scripted" in str(status.render())
        observation = block.query(StepBlock)[2]
        assert observation.collapsed and "5" in observation.title
        await pilot.press("ctrl+y")
        assert app.clipboard == "5"
        await pilot.press("ctrl+s")
        exported = list((apprentice_home / "exports").glob("*.md"))
        assert len(exported) == 1
        text = exported[0].read_text()
        assert "## What is 2+3?" in text and "calculator(2+3)" in text and "**Answer:**" in text
        sessions = SessionStore().list()
        assert [s.title for s in sessions] == ["What is 2+3?"]
        assert sessions[0].model == "scripted" and sessions[0].strategy == "react"


async def test_an_answer_its_calculator_work_does_not_give_says_so_live_and_on_resume(apprentice_home):
    """The shipped student's misreading, seen in the chat: 17 - 45 gives -28 and it answers 28. The answer stays
    what the model said; a line under it says why the work does not give it (the verifier's rule)."""
    misread = [" The question says lost, so I subtract.\nAction: calculator\nAction Input: 17 - 45",
               " The calculator gave 28.\nFinal Answer: 28"]
    note = "Check it: answer 28 is none of the calculator's results (-28)"
    async with ChatApp(ScriptedChatModel(script=misread + TOOL_TURN)).run_test(size=(110, 36)) as pilot:
        block = await ask(pilot, "Tom had 45 marbles and now has 17. How many did he lose?")
        assert block.answer_text == "28" and note in block.query_one(".final").source
        fine = await ask(pilot, "What is 2+3?")
        assert fine.answer_text == "5" and "Check it" not in fine.query_one(".final").source
    async with ChatApp(ScriptedChatModel(script=[])).run_test(size=(110, 36)) as pilot:
        resumed = pilot.app.screen.query(AnswerBlock)
        assert [b.answer_text for b in resumed] == ["28", "5"]
        assert note in resumed.first().query_one(".final").source and "Check it" not in resumed.last().query_one(
            ".final").source


async def test_model_calls_side_by_side_stream_apart(apprentice_home):
    """react-sc's samples call the model at once; each call's tokens keep to their own paragraph (they
    used to run together in one line), and an ended call makes way for the next one to begin."""
    app = ChatApp(ScriptedChatModel(script=TOOL_TURN))
    async with app.run_test(size=(110, 36)) as pilot:
        block = await ask(pilot, "What is 2+3?")
        relay = TokenRelay()
        relay.listener = block.listener()
        relay.on_chat_model_start({}, [], run_id="a")
        relay.on_chat_model_start({}, [], run_id="b")
        for call, token in [("a", " Thought: 9 boxes"), ("b", " Thought: each box"), ("a", " of 20."),
                            ("b", " so I divide.")]:
            relay.on_llm_new_token(token, run_id=call)
        block._flush()
        live = block.query_one(".live")
        assert str(live.content) == "Thought: 9 boxes of 20.\n\nThought: each box so I divide."
        relay.on_llm_end(None, run_id="a")
        relay.on_chat_model_start({}, [], run_id="c")
        relay.on_llm_new_token("Action: calculator", run_id="c")
        block._flush()
        assert str(live.content) == "Thought: each box so I divide.\n\nAction: calculator"
        assert "".join(block.tokens) == "Action: calculator"  # the call that streamed last


async def test_escape_cancels_and_the_app_stays_usable(apprentice_home):
    started, release = threading.Event(), threading.Event()

    def slow(messages):
        started.set()
        release.wait(10)
        return " " + "word " * 400 + "\nFinal Answer: never"

    model = ScriptedChatModel(script=[slow, " Fine.\nFinal Answer: ok"], latency_s=0.0)
    app = ChatApp(model)
    async with app.run_test() as pilot:
        block = await ask(pilot, "Count forever", wait=False)
        while not started.is_set():
            await pilot.pause(0.05)
        await pilot.press("escape")
        release.set()
        await finish(pilot, block)
        assert block.answer_text is None
        assert "Answer cancelled." in notes(app)
        run = open_store().query(thread_id=app.screen.thread_id)[0]
        assert run.status == "cancelled"
        second = await ask(pilot, "Say ok")
        assert second.answer_text == "ok"


async def test_switch_strategy_and_model_from_pickers_and_palette(apprentice_home):
    from apprentice.graphs import STRATEGIES

    loaded = []

    def loader(spec):
        loaded.append(spec)
        if spec.startswith("local:"):
            raise RuntimeError("bad weights")
        return ScriptedChatModel(script=[" Done.\nFinal Answer: 7"], spec=spec)

    app = ChatApp(ScriptedChatModel(script=[" x\nFinal Answer: 1"]), loader=loader)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+t")
        assert isinstance(app.screen, PickerScreen)
        last = list(STRATEGIES)[-1]
        await pilot.press("end", "enter")
        await pilot.pause()
        assert app.agent.strategy == last and app.screen.query_one(StatusBar).strategy == last
        await pilot.press("ctrl+p")
        await pilot.press(*"Strategy: react")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.agent.strategy == "react"
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, PickerScreen)
        app.screen.query_one("#free").focus()
        await pilot.press(*"nonsense-spec", "enter")
        await pilot.pause()
        assert any("unknown model spec" in n for n in notes(app))
        app.screen.switch_model("local:/no/such/weights.gguf")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("failed to load" in n for n in notes(app))
        assert app.screen.query_one(StatusBar).model_state == "failed"
        app.screen.switch_model("openai:mini@http://127.0.0.1:9/v1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.agent.spec == "openai:mini@http://127.0.0.1:9/v1"
        block = await ask(pilot, "Mid-thread switch?")
        assert block.answer_text == "7"
        assert open_store().query(thread_id=app.screen.thread_id)[0].model == "openai:mini@http://127.0.0.1:9/v1"


async def test_errors_become_notifications(apprentice_home, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = ScriptedChatModel(script=[ModelUnavailableError("cannot reach the model server"), " ok\nFinal Answer: 2"])
    app = ChatApp(model)
    async with app.run_test() as pilot:
        block = await ask(pilot, "1+1?")
        assert any("cannot reach the model server" in n for n in notes(app))
        assert "error" in block.query_one(".final").source
        assert (await ask(pilot, "1+1 again?")).answer_text == "2"
        app.screen.switch_model("openai:gpt-4o-mini")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("OPENAI_API_KEY" in n for n in notes(app))


async def test_threads_new_rename_delete_restart_and_resume(apprentice_home):
    model = ScriptedChatModel(script=[" a\nFinal Answer: Paris", " b\nFinal Answer: 4", " c\nFinal Answer: 5"])
    async with ChatApp(model).run_test(size=(100, 30)) as pilot:
        app = pilot.app
        await ask(pilot, "Capital of France?")
        first = app.screen.thread_id
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.thread_id != first and not app.screen.query(AnswerBlock)
        assert app.screen.query_one(StatusBar).tokens_out == 0  # a new thread has no last answer yet
        await ask(pilot, "2+2?")
        second = app.screen.thread_id
        answered = app.screen.query_one(StatusBar)
        cost = (answered.tokens_in, answered.tokens_out, answered.seconds)
        assert cost[1] > 0
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, TextPromptScreen)
        app.screen.query_one("#text").value = "Sums"
        await pilot.press("enter")
        await pilot.pause()
        assert [s.title for s in SessionStore().list()] == ["Sums", "Capital of France?"]
    # a restart: a new app on the same home finds both threads and resumes the latest one
    model2 = ScriptedChatModel(script=[" c\nFinal Answer: 5"])
    async with ChatApp(model2).run_test(size=(100, 30)) as pilot:
        app = pilot.app
        assert app.screen.thread_id == second
        assert len(app.screen.query_one(ThreadList).children) == 2
        resumed = app.screen.query(AnswerBlock)
        assert len(resumed) == 1 and resumed.first().answer_text == "4"
        status = app.screen.query_one(StatusBar)  # the resumed thread's last answer, not zeros
        assert (status.tokens_in, status.tokens_out) == cost[:2] and status.seconds == pytest.approx(cost[2], abs=0.1)
        assert [s.step.kind for s in resumed.first().query(StepBlock)] == ["thought"]
        await ask(pilot, "and plus one?")
        asked = model2.prompts[0]
        assert any(isinstance(m, HumanMessage) and "2+2?" in m.text for m in asked) or "2+2?" in str(asked)
        thread_list = app.screen.query_one(ThreadList)
        thread_list.focus()
        thread_list.index = 1
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.thread_id == first
        assert app.screen.query(AnswerBlock).first().answer_text == "Paris"
        await pilot.press("f8")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        assert [s.id for s in SessionStore().list()] == [second]
        assert app.screen.thread_id == second


async def test_help_screen_lists_the_keys_and_the_keymap_changes_them(apprentice_home):
    apprentice_home.mkdir(parents=True, exist_ok=True)
    (apprentice_home / "keymap.json").write_text('{"export_thread": "f5"}')
    async with ChatApp(ScriptedChatModel(script=[])).run_test() as pilot:
        await pilot.press("f1")
        assert isinstance(pilot.app.screen, HelpScreen)
        text = pilot.app.screen.query_one("Markdown").source
        for words in ("Cancel", "New", "Copy", "Strategy", "Model", "Delete", "Write the current thread"):
            assert words in text
        assert "| `f5` | Export (`export_thread`)" in text
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, HelpScreen)
        await pilot.press("f5")
        assert len(list((apprentice_home / "exports").glob("*.md"))) == 1
    (apprentice_home / "keymap.json").write_text("[not json")
    async with ChatApp(ScriptedChatModel(script=[])).run_test() as pilot:
        assert any("keymap ignored" in n for n in notes(pilot.app))


SAMPLE_TREE = {
    "nodes": [
        {"id": 0, "parent": None, "text": "4 6 8 2", "value": None},
        {"id": 1, "parent": 0, "text": "6 * 4 = 24", "value": 0.9},
        {"id": 2, "parent": 0, "text": "8 - 2 = 6", "value": 0.2, "status": "pruned"},
        {"id": 3, "parent": 1, "text": "24 * (8 / 8)", "value": 1.0},
    ],
    "chosen": [0, 1, 3],
}


def test_tree_rows_and_vote_lines():
    rows = tree_rows(SAMPLE_TREE)
    assert [(d, n["id"], p, c) for d, n, p, c in rows] == [
        (0, 0, False, True), (1, 1, False, True), (2, 3, False, True), (1, 2, True, False)]
    assert tree_rows({"nodes": "garbage"}) == [] and tree_rows(None) == []
    lines = vote_lines(Step(idx=0, kind="vote", data={"votes": ["5", "5", "6"], "chosen": "5"}))
    assert lines[0].startswith("★ 5") and "2" in lines[0] and lines[1].startswith("  6")
    # weighted by a verifier: the most weight first, though it has fewer votes
    lines = vote_lines(Step(idx=0, kind="vote", data={"distribution": {"-7": 2, "3": 1}, "winner": "3",
                                                      "weights": {"-7": 0.0, "3": 1.0}}))
    assert lines[0].startswith("★ 3") and "weight 1" in lines[0] and "weight 0" in lines[1]


def test_verify_steps_read_as_their_verdict():
    def verify(ok, score, reason="the work never uses 7 from the question"):
        return Step(idx=0, kind="verify", data={"ok": ok, "score": score, "reason": reason})

    assert step_title(verify(True, 1.0, "answer '18' found")) == "✓ verify: accepted answer '18' found"
    assert step_title(verify(False, 0.0, "implausible answer")) == "✗ verify: rejected implausible answer"
    assert step_body(verify(False, 0.5)) == "rejected softly (score 0.5)\nthe work never uses 7 from the question"
    assert step_title(verify(None, None, "unreadable verdict")) == "? verify: unreadable verdict"


def test_an_error_step_says_error_once():
    from apprentice.graphs.react import REPEATED_STEP

    step = Step(idx=0, kind="error", observation=REPEATED_STEP)
    assert step_title(step) == "! error: the same step again; answering with what is known."
    assert step_body(step) == REPEATED_STEP  # what the model read, unchanged when opened


def test_steps_of_sampled_runs_say_which_sample_wrote_them():
    """react-sc's five runs record side by side; each step's title names its run (data ``sample``, 0-based)."""
    action = Step(idx=3, kind="action", tool="calculator", tool_input="9 * 20", data={"sample": 2})
    assert step_title(action) == "→ sample 3 · tool call · calculator: calculator(9 * 20)"
    verdict = Step(idx=9, kind="verify", data={"sample": 0, "ok": True, "score": 1.0, "reason": "answer '180' found"})
    assert step_title(verdict) == "✓ sample 1 · verify: accepted answer '180' found"
    assert step_title(Step(idx=1, kind="action", tool="calculator", tool_input="1 + 1")).startswith("→ tool call")


async def test_tot_tree_and_vote_appear_when_a_thread_resumes(apprentice_home):
    store = open_store()
    sessions = SessionStore()
    session = sessions.create(title="Game of 24")
    run_id = store.start_run(strategy="tot", model="scripted", question="24 from 4 6 8 2", thread_id=session.id)
    store.add_step(run_id, Step(idx=0, kind="vote", data={"votes": {"24": 2, "23": 1}, "chosen": "24"}))
    store.finish_run(run_id, answer="6 * 4 = 24", status="ok", tree=SAMPLE_TREE)
    async with ChatApp(ScriptedChatModel(script=[])).run_test(size=(100, 36)) as pilot:
        tree = pilot.app.screen.query_one(SearchTree)
        labels = [str(n.label) for n in tree.root.children]
        assert labels[0].startswith("★ 4 6 8 2")
        vote = pilot.app.screen.query_one(StepBlock)
        assert vote.step.kind == "vote" and not vote.collapsed


@pytest.mark.timeout(300)
async def test_end_to_end_with_the_embedded_model(local_model, apprentice_home):
    app = ChatApp(local_model)
    app.agent.max_steps = 1  # one tool step at most, then the answer: keeps CPU time small
    async with app.run_test(size=(100, 30)) as pilot:
        block = await ask(pilot, "What is 2 + 3?", wait=False)
        await finish(pilot, block, seconds=240)
        assert block.tokens, "tokens should stream from the real model"
        run = open_store().query(thread_id=app.screen.thread_id, with_steps=True)[0]
        assert run.status == "ok" and run.answer and block.answer_text == run.answer
        assert app.screen.query_one(StatusBar).tokens_out == run.tokens_out > 0


async def test_every_registered_strategy_answers_in_the_ui(apprentice_home):
    from apprentice.graphs import STRATEGIES

    for name in STRATEGIES:
        model = ScriptedChatModel(script=[" 2 + 3 = 5\nFinal Answer: 5", "The answer is 5. Answer: 5", "sure: 0.9"],
                                  cycle=True)
        app = ChatApp(model, name)
        async with app.run_test(size=(100, 40)) as pilot:
            block = await ask(pilot, "What is 2+3?")
            assert block.answer_text and "5" in block.answer_text, name
            assert not [n for n in notes(app) if "failed" in n.lower()], name
            kinds = {s.step.kind for s in block.query(StepBlock)}
            if name == "tot":
                assert block.query(SearchTree) and "propose" in kinds
            if name == "cot-sc":
                assert "vote" in kinds
            if name == "verify":
                assert "verify" in kinds


def test_model_choices_offer_adapters_and_openai(monkeypatch):
    from types import SimpleNamespace

    import apprentice.training.registry as registry
    from apprentice.tui.agent import model_choices

    import apprentice.training.student as student

    monkeypatch.setattr(student, "student_available", lambda folder=None: True)
    monkeypatch.setattr(registry, "list_adapters", lambda: [SimpleNamespace(name="student1", base="local")])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    specs = [spec for spec, _ in model_choices()]
    assert specs == ["student", "local", "adapter:student1", "openai:gpt-4o-mini"]
    monkeypatch.setattr(student, "student_available", lambda folder=None: False)
    monkeypatch.setattr(registry, "list_adapters", lambda: 1 / 0)
    monkeypatch.delenv("OPENAI_API_KEY")
    assert [spec for spec, _ in model_choices()] == ["local"]


async def test_the_chat_opens_on_the_shipped_student_and_ctrl_b_seats_the_base(apprentice_home, monkeypatch):
    """With a shipped student the chat opens on it (the status line says so); ctrl+b swaps in the untrained
    base and back; without one, the base is in the seat and ctrl+b says why nothing changes."""
    import apprentice.training.student as student

    loaded = []

    def loader(spec):
        loaded.append(spec)
        return ScriptedChatModel(script=[f" I am {spec}.\nFinal Answer: {spec}"], spec=spec, cycle=True)

    monkeypatch.setattr(student, "student_available", lambda folder=None: True)
    app = ChatApp(loader=loader)
    async with app.run_test(size=(120, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = app.screen.query_one(StatusBar)
        assert app.agent.spec == "student" and "model student (trained)" in str(status.render())
        assert (await ask(pilot, "Who are you?")).answer_text == "student"
        await pilot.press("ctrl+b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.agent.spec == "local" and "model local (untrained base)" in str(status.render())
        assert (await ask(pilot, "And now?")).answer_text == "local"
        await pilot.press("ctrl+b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.agent.spec == "student" and loaded[-1] == "student"
    monkeypatch.setattr(student, "student_available", lambda folder=None: False)
    app = ChatApp(loader=loader)
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.agent.spec == "local"
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert app.agent.spec == "local" and any("ships no student" in n for n in notes(app))


async def test_the_app_quits_when_its_terminal_hangs_up(apprentice_home):
    """A closed terminal reads end-of-file forever (Textual's input thread would spin a CPU in an
    orphaned app); the watch thread notices the hang-up and the app exits with status 1."""
    import asyncio
    import os

    from apprentice.tui.app import terminal_alive

    master, slave = os.openpty()
    try:
        app = ChatApp(ScriptedChatModel(script=TOOL_TURN))
        async with app.run_test(size=(110, 36)) as pilot:
            watch = threading.Thread(target=app.watch_terminal, args=(slave, asyncio.get_running_loop()),
                                     kwargs={"interval": 0.05, "grace": 30}, daemon=True)
            watch.start()
            await pilot.pause(0.3)
            assert terminal_alive(slave) and app.is_running and watch.is_alive()
            os.close(master)
            master = -1
            assert not terminal_alive(slave)
            for _ in range(100):
                await pilot.pause(0.05)
                if not app.is_running:
                    break
        assert app.return_code == 1
    finally:
        os.close(slave)
        if master >= 0:
            os.close(master)


def test_a_damaged_threads_db_is_one_error_line_before_the_chat_opens_and_titles_hold_no_secret(
        apprentice_home, capsys, monkeypatch):
    from apprentice.cli import main as cli_main

    apprentice_home.mkdir(parents=True, exist_ok=True)
    (apprentice_home / "threads.db").write_bytes(b"not a database at all" * 100)
    assert cli_main(["chat"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "threads.db is damaged" in err[0] and "mv " in err[0]
    (apprentice_home / "threads.db").unlink()
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-1234567890-abcdef")
    store = SessionStore()
    session = store.create(title="use tok-1234567890-abcdef please")
    store.update(session.id, title="again tok-1234567890-abcdef")
    store.close()
    assert b"tok-1234567890" not in b"".join(p.read_bytes() for p in apprentice_home.glob("threads.db*"))
