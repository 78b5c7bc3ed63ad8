"""Verdicts without gold answers: a person's rating (chat key, ``traces rate``), a vote's agreement, and a
harvest that selects on the verdict of one source."""

from __future__ import annotations

import json

import pytest

from apprentice.backends import ScriptedChatModel
from apprentice.cli import main as cli_main
from apprentice.errors import ApprenticeError
from apprentice.graphs import run_question
from apprentice.traces import open_store
from apprentice.training.harvest import HarvestConfig, NothingToHarvest, harvest

ADD = [" I add the two numbers.\nAction: calculator\nAction Input: 23 + 18", " The sum is known.\nFinal Answer: 41"]
WRONG = [" I add the two numbers.\nAction: calculator\nAction Input: 23 + 8", " The sum is known.\nFinal Answer: 31"]
QUESTION = "Jenny read 23 pages on Monday and 18 on Tuesday. How many pages did she read in total?"


def _chat_run(script: list[str], question: str = QUESTION) -> str:
    """A chat turn: no task, no gold answer, no verdict."""
    result = run_question(question, model=ScriptedChatModel(script=script), model_spec="openai:teacher",
                          tools=["calculator"])
    assert result.status == "ok" and open_store().get(result.run_id).verdicts == []
    return result.run_id


def test_a_rating_is_a_human_verdict_and_a_correction_is_the_questions_gold_answer(capsys):
    good, bad, other = _chat_run(ADD), _chat_run(WRONG), _chat_run(WRONG)
    assert cli_main(["traces", "rate", good[:8], "good"]) == 0
    assert f"rated run {good} good" in capsys.readouterr().out
    assert cli_main(["traces", "rate", bad, "bad", "--answer", " 41 ", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"run_id": bad, "rating": "bad", "answer": " 41 "}
    store = open_store()
    rated = store.get(bad)
    assert (rated.correct, rated.score, rated.checker, rated.gold) == (False, 0.0, "human", "41")
    assert "the right answer is 41" in rated.verdicts[-1].reason
    assert store.get(other).gold == "41" and store.get(other).verdicts == []  # same question: it has a gold now
    for question in ("How many pages did Tom read?", QUESTION):  # the same words as a thread's second turn
        in_thread = run_question(question, model=ScriptedChatModel(script=WRONG), model_spec="openai:teacher",
                                 tools=["calculator"], thread_id="t-follow")
    store.rate(other, False, answer="40")  # a thread's turn means what its thread says: it gets no gold from here
    assert store.get(in_thread.run_id).gold is None and store.get(other).gold == "40"
    assert store.get(good).verdict_from("human").correct is True
    for argv, message in ((["traces", "rate", good], "usage"), (["traces", "rate", good, "bad", "--answer", " "],
                                                                 "--answer is empty"),
                          (["traces", "rate", "nosuchrun", "good"], "no run"),
                          (["traces", "list", "--answer", "4"], "go with 'traces rate")):
        assert cli_main(argv) == 2
        assert message in capsys.readouterr().err


def test_harvest_keeps_what_the_chosen_source_accepts(tmp_path):
    good, bad = _chat_run(ADD), _chat_run(WRONG)
    _chat_run(ADD, "What is 23 plus 18?")  # never rated
    store = open_store()
    store.rate(good, True)
    store.rate(bad, False)
    result = harvest(HarvestConfig(out=tmp_path / "human", verdict_source="human", eval_fraction=0))
    assert (result.train, result.seen) == (1, 3)
    assert result.skipped == {"no human verdict": 1, "not accepted by its human verdict": 1}
    row = json.loads((tmp_path / "human" / "train.jsonl").read_text().splitlines()[0])
    assert row["metadata"]["run_id"] == good
    vetoed = _chat_run(ADD, "What is 23 + 18?")
    store.add_verdict(vetoed, verifier="verify:rules", correct=True, score=1.0)
    store.rate(vetoed, False)
    store.add_verdict(vetoed, verifier="verify:self", correct=True, score=1.0)  # of no known source
    with pytest.raises(NothingToHarvest, match="rated bad by a person"):  # a person's no outweighs the rules
        harvest(HarvestConfig(out=tmp_path / "rules", verdict_source="rules"))
    with pytest.raises(NothingToHarvest):  # nothing judged against a gold answer
        harvest(HarvestConfig(out=tmp_path / "gold", verdict_source="gold"))
    with pytest.raises(ApprenticeError, match="unknown verdict source"):
        HarvestConfig(out=tmp_path / "x", verdict_source="oracle")


def test_a_vote_records_its_agreement_and_harvest_selects_on_it(tmp_path):
    """react-sc over 3 samples: 2 of 3 agree -> a vote verdict of 0.667 without any gold answer."""
    agree = ScriptedChatModel(script=[*ADD, *ADD, *WRONG])
    result = run_question(QUESTION, strategy="react-sc", model=agree, model_spec="openai:teacher",
                          tools=["calculator"], options={"samples": 3})
    run = open_store().get(result.run_id)
    vote = run.verdict_from("vote")
    assert result.answer == "41" and vote is not None and vote.score == pytest.approx(2 / 3, abs=1e-3)
    assert vote.correct is None and run.gold is None
    with pytest.raises(NothingToHarvest):
        harvest(HarvestConfig(out=tmp_path / "strict", verdict_source="vote", min_score=0.8))
    kept = harvest(HarvestConfig(out=tmp_path / "vote", verdict_source="vote", min_score=0.6, eval_fraction=0))
    assert kept.train >= 1


async def test_the_chat_rate_key_records_a_rating_and_a_correction(apprentice_home):
    from apprentice.tui.app import ChatApp
    from apprentice.tui.screens import PickerScreen, TextPromptScreen

    app = ChatApp(ScriptedChatModel(script=WRONG))
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("ctrl+g")
        assert any("No answer to rate" in n.message for n in app._notifications)
        app.screen.query_one("#prompt").value = QUESTION
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        await pilot.press("ctrl+g")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("down", "enter")  # bad
        await pilot.pause()
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press("escape")  # Esc at the correction cancels the rating
        await pilot.pause()
        run_id = open_store().query(strategy="react")[0].id
        assert open_store().get(run_id).verdicts == []
        await pilot.press("ctrl+g", "down", "enter")
        await pilot.pause()
        await pilot.press(*"41", "enter")
        await pilot.pause()
    full = open_store().get(run_id)
    assert (full.correct, full.checker, full.gold) == (False, "human", "41")


def _task_run(script: list[str], question: str = QUESTION, answer: str | None = None) -> str:
    """A run of a question file's item (a batch's, an eval's, a distill pass's), its gold answer if given."""
    from apprentice.tasks import Item, get_task

    task = get_task("jsonl", kind="number", require_answer=False)
    result = run_question(question, model=ScriptedChatModel(script=script), model_spec="openai:teacher", task=task,
                          item=Item("p1", question, answer), tools=["calculator"])
    return result.run_id


def test_a_bad_rating_leaves_out_that_answer_to_the_same_question_in_every_run(tmp_path):
    """A task's question means the same in every run: a person's "bad" on one run's answer leaves out the other
    runs that give it, whatever source selects them; another answer to it, and a chat turn, keep their own."""
    store = open_store()
    rated, same, other = _task_run(WRONG), _task_run(WRONG), _task_run(ADD)
    chat = _chat_run(WRONG)
    for run_id in (rated, same, other, chat):
        store.add_verdict(run_id, verifier="verify:rules", correct=True, score=1.0)
    store.rate(rated, False)
    result = harvest(HarvestConfig(out=tmp_path / "rules", verdict_source="rules", eval_fraction=0))
    kept = {json.loads(line)["metadata"]["run_id"] for line in (tmp_path / "rules" / "train.jsonl").open()}
    assert kept == {other, chat}
    assert result.skipped == {"rated bad by a person": 1, "its answer rated bad by a person": 1}
    assert store.get(same).answer == store.get(rated).answer and store.get(rated).meta["answer_kind"] == "number"
    passed = harvest(HarvestConfig(out=tmp_path / "pass", run_ids=[same, other], verdict_source="rules",
                                   eval_fraction=0))  # a distill pass's runs: the rated one is not among them
    assert passed.train == 1 and passed.skipped == {"its answer rated bad by a person": 1}


def test_a_corrected_answer_is_the_gold_answer_harvest_judges_by(tmp_path):
    """A question without an answer: a person's correction on one run becomes the gold answer of the others, and
    a harvest by gold checks them against it (they ran before it was known, with no gold verdict)."""
    store = open_store()
    other_wrong = [" I add the two numbers.\nAction: calculator\nAction Input: 23 + 17", " Known.\nFinal Answer: 40"]
    wrong, right, rated = _task_run(other_wrong), _task_run(ADD), _task_run(WRONG)
    with pytest.raises(NothingToHarvest, match="no gold verdict: 3"):
        harvest(HarvestConfig(out=tmp_path / "before", verdict_source="gold"))
    store.rate(rated, False, answer="41")
    assert {store.get(run_id).gold for run_id in (wrong, right, rated)} == {"41"}
    result = harvest(HarvestConfig(out=tmp_path / "after", verdict_source="gold", eval_fraction=0))
    row = json.loads((tmp_path / "after" / "train.jsonl").read_text().splitlines()[0])
    assert result.train == 1 and row["metadata"]["run_id"] == right
    assert result.skipped == {"rated bad by a person": 1, "not accepted by its gold verdict": 1}
