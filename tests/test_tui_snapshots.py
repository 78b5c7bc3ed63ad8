"""Snapshot tests (pytest-textual-snapshot) of the chat UI's screens: the main screen after a
scripted conversation, a resumed Tree-of-Thought answer with its search tree, and the help screen.
Update them with ``pytest tests/test_tui_snapshots.py --snapshot-update`` after a deliberate change."""

from __future__ import annotations

from apprentice.backends.scripted import ScriptedChatModel
from apprentice.traces import Step, open_store
from apprentice.tui.app import ChatApp
from apprentice.tui.sessions import SessionStore
from apprentice.tui.widgets import AnswerBlock, StatusBar

SIZE = (110, 34)


def _steady(app) -> None:
    """Hide what varies from run to run: toasts, the cursor blink, wall-clock seconds."""
    app.clear_notifications()
    app.screen.query_one("#prompt").cursor_blink = False
    app.screen.query_one(StatusBar).seconds = 1.5


async def _converse(pilot) -> None:
    app = pilot.app
    app.screen.query_one("#prompt").value = "What is 12 * 7?"
    await pilot.press("enter")
    for _ in range(200):
        await pilot.pause(0.05)
        blocks = app.screen.query(AnswerBlock)
        if blocks and not blocks.last().running:
            break
    await pilot.pause()
    _steady(app)
    await pilot.pause()


def test_main_screen(snap_compare, apprentice_home):
    model = ScriptedChatModel(script=[" I should multiply.\nAction: calculator\nAction Input: 12*7",
                                      " So the product is known.\nFinal Answer: **84**"])
    assert snap_compare(ChatApp(model), terminal_size=SIZE, run_before=_converse)


def _tot_thread() -> None:
    session = SessionStore().create(title="Game of 24", model="scripted", strategy="tot")
    store = open_store()
    run_id = store.start_run(strategy="tot", model="scripted", question="Use 4 6 8 2 to make 24",
                             thread_id=session.id)
    store.add_step(run_id, Step(idx=0, kind="propose", raw="6 * 4 = 24 (left: 24 8 2)"))
    store.add_step(run_id, Step(idx=1, kind="value", raw="24 8 2: likely", data={"value": 0.9}))
    store.add_step(run_id, Step(idx=2, kind="vote", data={"votes": {"(6*4)*(8/8)": 2, "8*2+6+4-2": 1},
                                                          "chosen": "(6*4)*(8/8)"}))
    tree = {"nodes": [
        {"id": "r", "parent": None, "text": "4 6 8 2", "value": None},
        {"id": "a", "parent": "r", "text": "6 * 4 = 24 (left: 24 8 2)", "value": 0.9},
        {"id": "b", "parent": "r", "text": "8 - 2 = 6 (left: 4 6 6)", "value": 0.3},
        {"id": "c", "parent": "r", "text": "8 / 2 = 4 (left: 4 4 6)", "value": 0.1, "status": "pruned"},
        {"id": "d", "parent": "a", "text": "8 / 2 = 4 (left: 24 4)", "value": 0.2, "pruned": True},
        {"id": "e", "parent": "a", "text": "8 - 2 = 6 (left: 24 6)", "value": 0.8},
    ], "chosen": ["r", "a", "e"]}
    store.finish_run(run_id, answer="(6 * 4) * (8 - 2) / 6 = 24", status="ok", tree=tree)


def test_tot_tree(snap_compare, apprentice_home):
    _tot_thread()

    async def settle(pilot):
        await pilot.pause()
        _steady(pilot.app)
        await pilot.pause()

    assert snap_compare(ChatApp(ScriptedChatModel(script=[])), terminal_size=SIZE, run_before=settle)


def test_help_screen(snap_compare, apprentice_home):
    async def open_help(pilot):
        await pilot.pause()
        _steady(pilot.app)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(ChatApp(ScriptedChatModel(script=[])), terminal_size=SIZE, run_before=open_help)
