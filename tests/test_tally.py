"""The harness's tally (``--react-prompt tally``): after each calculator result the ReAct and LATS graphs write the
question's numbers no calculator input has used yet; harvest writes the same line into the rebuilt trajectory, so
a student trains on exactly the text it reads; the ``tally`` replays read it; contrast pairs and DPO's credit treat
it as the harness's text, not the model's."""

from __future__ import annotations

from langchain_core.messages import SystemMessage

from apprentice.agents.tally import TALLY_PREFIX, calculator_inputs, tally_note, with_tally, without_tally
from apprentice.backends import ScriptedChatModel
from apprentice.graphs import run_question
from apprentice.tasks import Item, get_task
from apprentice.traces import open_store

QUESTION = "Jack has 3 boxes of 7 pens and 13 pencils. His friend has 40 pens. How many pens and pencils has Jack?"
TWO_STEPS = [" The question says \"of\", so I multiply.\nAction: calculator\nAction Input: 3 * 7",
             " Still to use: 13.\nAction: calculator\nAction Input: 21 + 13",
             " The calculator gave 34; 40 is not needed, so this answers the question.\nFinal Answer: 34"]


def test_the_tally_lists_the_questions_numbers_no_calculator_input_with_a_result_has_used():
    scratch = "Thought: I multiply.\nAction: calculator\nAction Input: 3 * 7\nObservation: 21\n"
    assert tally_note(QUESTION, scratch) == f"{TALLY_PREFIX} 13 and 40"
    scratch += "Not used yet: 13 and 40\nThought: Then add.\nAction: calculator\nAction Input: 21 + 13 + 40\n" \
               "Observation: 74\n"
    assert calculator_inputs(scratch) == ["3 * 7", "21 + 13 + 40"] and tally_note(QUESTION, scratch).endswith(" none")
    # a refusal, another tool, or a step that did not parse: nothing new to count, no line
    refused = ("Thought: x\nAction: calculator\nAction Input: 3 *\nObservation: Error: cannot evaluate \"3 *\": "
               "invalid syntax Please fix your mistakes.\n")  # the calculator's refusal as the scratchpad holds it
    assert tally_note(QUESTION, refused) is None and calculator_inputs(refused) == []
    assert tally_note(QUESTION, "Thought: x\nAction: retrieve\nAction Input: pens\nObservation: 40 pens\n") is None
    assert tally_note(QUESTION, "Thought: hmm\nObservation: Error: I could not read your last step\n") is None
    # a percentage counts as used by its fraction; thousands commas are dropped; a value is listed once
    assert tally_note("Of 1,200 people, 25% left and 3 and 3 came.", "Thought: x\nAction: calculator\n"
                      "Action Input: 1200 * 0.25\nObservation: 300\n") == f"{TALLY_PREFIX} 3"
    # a quantity written as a word is the question's number too, in its place
    assert tally_note("Hannah earns 11 dollars an hour for 10 hours. Priya has five times as much. How much has "
                      "Priya?", "Thought: x\nAction: calculator\nAction Input: 11 * 10\nObservation: 110\n") == \
        f"{TALLY_PREFIX} 5"
    # a price is listed as the calculator will be given it: "$8.00" as 8, "$0.50" as 0.5
    assert tally_note("A pen costs $8.00, a clip $0.50 and she buys 3 pens.", "Thought: x\nAction: calculator\n"
                      "Action Input: 3 * 8\nObservation: 24\n") == f"{TALLY_PREFIX} 0.5"


def test_with_tally_writes_the_line_after_each_result_once_whatever_is_there_already():
    text = ("Thought: a\nAction: calculator\nAction Input: 3 * 7\nObservation: 21\nThought: b\nAction: calculator\n"
            "Action Input: 21 + 13\nObservation: 34\nThought: c\nFinal Answer: 34")
    tallied = with_tally(QUESTION, text)
    assert tallied.count(TALLY_PREFIX) == 2 and "Observation: 21\nNot used yet: 13 and 40\nThought: b" in tallied
    assert "Observation: 34\nNot used yet: 40\nThought: c" in tallied
    assert with_tally(QUESTION, tallied) == tallied and without_tally(tallied) == text


def test_a_tally_student_reads_the_line_the_harness_writes_and_trains_on_the_same_text():
    from apprentice.training.examples import example_from_run

    model = ScriptedChatModel(script=TWO_STEPS, react_prompt="tally")
    result = run_question(QUESTION, model=model, tools=["calculator"])
    assert result.answer == "34"
    assert model.prompts[0][0].text.startswith("Solve it one step at a time") and "not used yet" in \
        model.prompts[0][0].text
    assert model.prompts[1][-1].text.endswith("Observation: 21\nNot used yet: 13 and 40\nThought:")
    assert model.prompts[2][-1].text.endswith("Observation: 34\nNot used yet: 40\nThought:")
    # the trace keeps the tool's own observation, and the line as the harness's, for the person who reads the run;
    # harvest writes the line again from the question, once
    run = open_store().get(result.run_id)
    assert [(s.tool, s.observation) for s in run.steps if s.kind == "observation"] == [
        ("calculator", "21"), ("tally", "Not used yet: 13 and 40"), ("calculator", "34"), ("tally", "Not used yet: 40")]
    example = example_from_run(run, react_prompt="tally")
    assert example.completion == model.prompts[2][-1].text + " " + TWO_STEPS[2].strip()
    assert example.messages[0]["content"] == model.prompts[0][0].text
    # a student of another prompt sees no such line, nor do its examples
    plain = ScriptedChatModel(script=TWO_STEPS, react_prompt="student")
    run_question(QUESTION, model=plain, tools=["calculator"])
    assert all(TALLY_PREFIX not in p[-1].text for p in plain.prompts)
    assert TALLY_PREFIX not in example_from_run(run, react_prompt="student").completion
    assert example.completion.count(TALLY_PREFIX) == 2


def test_lats_writes_the_tally_into_its_trajectories_too():
    def reply(messages):
        last = messages[-1].text
        if isinstance(messages[0], SystemMessage) and "Judgement" not in last and "Thought:" not in last:
            return "The sum is right."
        if last.rstrip().endswith("Judgement:"):
            return "sure"
        if "Observation: 5" in last:
            return " 7 is not needed.\nFinal Answer: 5"
        return " I add.\nAction: calculator\nAction Input: 2 + 3"

    model = ScriptedChatModel(script=[reply], cycle=True, react_prompt="tally")
    question = "Ann has 2 apples, finds 3 more apples and has 7 pears. How many apples has she?"
    result = run_question(question, strategy="lats", model=model, tools=["calculator"],
                          options={"children": 1, "max_expansions": 1})
    assert result.answer == "5"
    assert any(p[-1].text.endswith("Observation: 5\nNot used yet: 7\nThought:") for p in model.prompts)


def test_the_tally_replay_reads_the_harness_line_and_is_verified_through_the_graph():
    from apprentice.training.replay import ReplayStep, replay_model

    question = "Cary saved 30 dollars. He earns 5 dollars a lawn and mows 3 lawns. He had 7 hats. How many dollars now?"
    steps = [ReplayStep("First the lawns.", "5 * 3"), ReplayStep("Then the savings.", "30 + 15")]
    result = run_question(question, model=replay_model(steps, question, style="tally"), model_spec="teacher:dataset",
                          task=get_task("svamp"), item=Item(id="c", question=question, answer="45"),
                          tools=["calculator"])
    assert result.correct is True
    raws = [s.raw for s in open_store().get(result.run_id).steps if s.kind == "llm"]
    assert raws[1].startswith(" The calculator gave 15. Still to use: 30. Then the savings.")
    assert raws[2] == " The calculator gave 45; 7 is not needed, so this answers the question.\nFinal Answer: 45"
    # a later step that needs none of the question's numbers left combines earlier results
    reused = replay_model([ReplayStep("a", "10 + 7"), ReplayStep("b", "10 + 17")], "Dawn has 10 and Kim 7 more.",
                          style="tally")
    run = run_question("Dawn has 10 and Kim 7 more.", model=reused, tools=["calculator"])
    said = [s.raw for s in open_store().get(run.run_id).steps if s.kind == "llm"]
    assert said[1].startswith(" The calculator gave 17; earlier results remain to combine. b")
    assert said[2].startswith(" The calculator gave 27, so this answers the question.")


def test_a_contrast_pairs_rejected_side_gets_the_tally_of_its_own_input():
    from apprentice.training.contrast import contrast_trajectories

    question = "Ann had 8 apples, 21 pears and 7 plums. She ate 4 apples. How many apples are left?"
    chosen = with_tally(question, "Thought: The question says \"ate\", so I subtract.\nAction: calculator\n"
                        "Action Input: 8 - 4\nObservation: 4\nThought: The calculator gave 4; 21 and 7 are not "
                        "needed, so this answers the question.\nFinal Answer: 4")
    rejected = {r.split("Action Input: ")[1].split("\n")[0]: r for r in contrast_trajectories(question, chosen)}
    assert "Observation: 17\nNot used yet: 8 and 7\nThought: The calculator gave 17; 21 and 7 are not needed" in \
        rejected["21 - 4"]
    assert "Observation: 1\nNot used yet: 21 and 4\n" in rejected["8 - 7"]
    assert all(r.count(TALLY_PREFIX) == 1 for r in rejected.values())


def test_dpo_credits_the_tally_line_to_the_harness_not_the_model():
    from apprentice.training.dpo import credit_mask

    text = ("Thought: Add.\nAction: calculator\nAction Input: 2 + 3\nObservation: 5\nNot used yet: 7\n"
            "Thought: 7 is not needed.\nFinal Answer: 5")
    pieces = [line + "\n" for line in text.split("\n")]
    pieces[-1] = pieces[-1].rstrip("\n")
    kept = "".join(p for p, keep in zip(pieces, credit_mask(pieces, rejected=False), strict=True) if keep)
    assert "Not used yet" not in kept and "7 is not needed" in kept and "Action Input: 2 + 3" in kept
