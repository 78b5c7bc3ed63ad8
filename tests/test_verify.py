"""The verify loop with scripted models: accept, revise until k rounds, LLM judge, CoVe, ReAct inside."""

from __future__ import annotations

import pytest

from apprentice.agents.cove import parse_consistency, parse_questions
from apprentice.agents.judge import parse_judgement
from apprentice.agents.verifier import arithmetic_errors, rules_check
from apprentice.backends import ScriptedChatModel
from apprentice.errors import ApprenticeError
from apprentice.graphs import run_question
from apprentice.tasks import get_task
from apprentice.tasks.question_rules import counted_noun
from apprentice.traces import Step, open_store


def arith_item():
    task = get_task("arith")
    return task, task.load(limit=1)[0]


def test_rules_accept_a_good_draft_without_revising():
    task, item = arith_item()
    model = ScriptedChatModel(script=[f"2 + 3 = 5\nFinal Answer: {item.answer}"])
    result = run_question(item.question, strategy="verify", model=model, task=task, item=item, tools=[],
                          options={"fewshot": 0})
    assert result.correct is True and result.model_calls == 1
    run = open_store().get(result.run_id)
    assert [v.verifier for v in run.verdicts] == ["verify:rules", task.checker]
    assert run.verdicts[0].correct is True
    assert run.meta["verify"] == {"verifier": "rules", "revise": "feedback", "revisions": 0, "accepted": True,
                                  "fallback": False,
                                  "verdicts": [{"round": 0, "verifier": "rules", "ok": True, "score": 1.0}]}


def test_rules_loop_revises_then_stops_at_k_rounds():
    task, item = arith_item()
    model = ScriptedChatModel(script=["2 + 2 = 5\nFinal Answer: 5"], cycle=True)
    result = run_question(item.question, strategy="verify", model=model, task=task, item=item, tools=[],
                          options={"rounds": 3, "fewshot": 0})
    run = open_store().get(result.run_id)
    verify_steps = [s for s in run.steps if s.kind == "verify"]
    assert len(verify_steps) == 4 and all(s.data["ok"] is False for s in verify_steps)
    assert result.model_calls == 4  # one draft + three revisions
    assert run.meta["verify"]["revisions"] == 3 and run.meta["verify"]["accepted"] is False
    # the revision prompt carries the verifier's feedback
    assert "2 + 2 = 5 (really 4)" in model.prompts[1][-1].text
    assert sum(v.verifier == "verify:rules" for v in run.verdicts) == 4


def test_revision_that_fixes_the_draft_is_accepted():
    task, item = arith_item()
    model = ScriptedChatModel(script=["no idea", f"Final Answer: {item.answer}"])
    result = run_question(item.question, strategy="verify", model=model, task=task, item=item, tools=[],
                          options={"fewshot": 0})
    assert result.correct is True
    assert result.state["run_meta"]["verify"]["revisions"] == 1


def test_llm_judge_verdicts_drive_the_loop():
    model = ScriptedChatModel(script=[
        "Final Answer: Lyon",
        "Verdict: incorrect\nReason: the capital of France is Paris.",
        "Final Answer: Paris",
        "Verdict: correct\nReason: Paris is right.",
    ])
    result = run_question("What is the capital of France?", strategy="verify", model=model, tools=[],
                          options={"verifier": "judge"})
    assert result.answer == "Final Answer: Paris"
    run = open_store().get(result.run_id)
    assert [(v.verifier, v.correct) for v in run.verdicts] == [("verify:llm-judge", False), ("verify:llm-judge", True)]
    assert "capital of France is Paris" in model.prompts[2][-1].text


def test_cove_asks_independent_questions_and_revises():
    model = ScriptedChatModel(script=[
        "Final Answer: 12",                                           # draft
        "1. What is 3 times 5?\n2. Is 15 the total?",                 # plan
        "15", "yes",                                                  # independent answers
        "no, the answers say 15",                                     # consistency
        "3 * 5 = 15\nFinal Answer: 15",                               # revision
        "1. What is 3 times 5?", "15", "yes, it agrees",              # second check
    ])
    result = run_question("Tim buys 3 bags of 5 apples. How many apples?", strategy="verify", model=model,
                          tools=[], options={"verifier": "cove", "rounds": 2})
    assert result.answer.endswith("Final Answer: 15")
    # the verification questions were asked without the draft
    independent = model.prompts[2]
    assert independent[-1].text == "What is 3 times 5?" and "12" not in "".join(m.text for m in independent)
    assert "Q1: What is 3 times 5?\nA1: 15" in model.prompts[5][-1].text
    checks = [s.data for s in open_store().get(result.run_id).steps if s.kind == "verify"]
    assert [c["ok"] for c in checks] == [False, True]


def test_react_can_be_wrapped_by_verify():
    task, item = arith_item()
    model = ScriptedChatModel(script=[
        f" I will compute it.\nAction: calculator\nAction Input: {item.meta['equation']}",
        f" Done.\nFinal Answer: {item.answer}",
    ])
    result = run_question(item.question, strategy="verify", model=model, task=task, item=item,
                          tools=["calculator"], options={"inner": "react", "fewshot": 0})
    assert result.correct is True
    kinds = [s.kind for s in open_store().get(result.run_id).steps]
    assert "action" in kinds and "observation" in kinds and "verify" in kinds


def test_game24_rules_verifier():
    task = get_task("game24")
    question = "Use the numbers 4 4 6 8 and basic arithmetic operations (+ - * /) to obtain 24."
    assert rules_check(task, question, "Final Answer: (8 - 6) * 4 * 4 = 32").ok is False
    assert rules_check(task, question, "Final Answer: 4 * 4 + 8 + 6 - 6").ok is False
    good = rules_check(task, question, "Final Answer: (6 - 4) * 8 + 4 = 20")
    assert good.ok is False and "not 24" in good.reason
    assert rules_check(task, question, "Final Answer: 4 + 8 + 6 * ... ").ok is False
    assert rules_check(task, question, "Final Answer: (4 + 8) * (6 - 4) = 24").ok is True


def test_parsers_are_forgiving():
    assert arithmetic_errors("3 * 4 = 12, then 12 + 5 = 18 and 7/2 = 3.5") == ["12 + 5 = 18 (really 17)"]
    assert parse_judgement("**Verdict:** Correct\nReason: fine").ok is True
    assert parse_judgement("The answer is wrong.").ok is False
    assert parse_judgement("hmm").ok is None
    assert parse_questions("Here:\n1. How many?\n2) Who?\n- Why is it?") == ["How many?", "Who?", "Why is it?"]
    assert parse_questions("Is it 5?\nfiller") == ["Is it 5?"]
    assert parse_consistency("No, they disagree") is False and parse_consistency("...") is None


def calc_turn(expression: str, answer: str) -> list[str]:
    """A scripted ReAct turn: one calculator call, then the answer."""
    return [f" I compute it.\nAction: calculator\nAction Input: {expression}", f" Done.\nFinal Answer: {answer}"]


def test_rules_check_reads_the_tool_work_and_the_answers_plausibility():
    task, _ = arith_item()
    observed = [Step(idx=0, kind="action", tool="calculator", tool_input="7 - 12"),
                Step(idx=1, kind="observation", tool="calculator", observation="-5")]
    assert rules_check(task, "q", "Final Answer: -5", observed).reason.startswith("implausible answer: -5 is negative")
    copied = rules_check(task, "q", "Final Answer: 5", observed)
    assert copied.ok is False and "none of the calculator's results (-5)" in copied.reason
    echoed = [Step(idx=0, kind="action", tool="calculator", tool_input=" (35) "),
              Step(idx=1, kind="observation", tool="calculator", observation="35")]
    assert rules_check(task, "q", "Final Answer: 35", echoed).reason == \
        "answer 35 was handed to the calculator as it is, not worked out by it"
    assert rules_check(task, "q", "Final Answer: 35", [*observed, *echoed[:1], Step(
        idx=2, kind="observation", tool="calculator", observation="35"), Step(
        idx=3, kind="action", tool="calculator", tool_input="30 + 5"), Step(
        idx=4, kind="observation", tool="calculator", observation="35")]).ok is True
    divided = [Step(idx=0, kind="observation", tool="calculator", observation="1.0753424657")]
    assert "more than two decimal places" in rules_check(task, "q", "Final Answer: 1.0753424657", divided).reason
    assert rules_check(task, "q", "Final Answer: 2.5").ok is True  # money: two decimals are fine
    errors = [Step(idx=0, kind="observation", tool="calculator", observation="Error: 3 is not an expression")]
    assert rules_check(task, "q", "Final Answer: 17", errors).ok is False  # an error message is no result
    assert rules_check(task, "q", "Final Answer: 12", [*observed, Step(idx=2, kind="observation", tool="calculator",
                                                                       observation="12")]).ok is True
    # a chat question (no task): the answer is the final answer's text, and the work must still reach it
    chat = rules_check(None, "q", "Final Answer: 5", observed)
    assert chat.ok is False and chat.reason.startswith("answer 5 is none of the calculator's results")
    # ... and its calculator work, when it has some, should use the question's numbers (softly)
    work = [Step(idx=0, kind="action", tool="calculator", tool_input="9 * 20"),
            Step(idx=1, kind="observation", tool="calculator", observation="180")]
    question = "Each of 20 houses gets 9 letters and 3 flyers. How many letters in all?"
    dropped = rules_check(None, question, "Final Answer: 180", work)
    assert (dropped.ok, dropped.score, dropped.reason) == (False, 0.5, "the work never uses 3 from the question")
    assert rules_check(None, "What is 9 * 20?", "Final Answer: 180", work).ok is True
    assert rules_check(None, question, "Final Answer: 0.45").ok is True  # no tool work: nothing to hold it to


def test_rules_reject_a_fraction_or_a_negative_of_a_count_but_not_of_a_measure():
    task, _ = arith_item()
    divided = [Step(idx=0, kind="action", tool="calculator", tool_input="9 / 20"),
               Step(idx=1, kind="observation", tool="calculator", observation="0.45")]
    cookies = "A bakery sells 9 boxes of cookies. Each box has 20 cookies. How many cookies did it sell?"
    verdict = rules_check(task, cookies, "Final Answer: 0.45", divided)
    assert verdict.ok is False and verdict.score == 0.0
    assert verdict.reason == "implausible answer: 0.45 is not a whole number, but the question asks how many cookies"
    hours = "Ann works 9 hours over 20 days. How many hours does she work a day?"
    assert rules_check(task, hours, "Final Answer: 0.45", divided).ok is True  # a measure may be a fraction
    assert rules_check(task, "Ann has 9 pies for 20 friends. What share does each get?", "Final Answer: 0.45",
                       divided).ok is True  # no "how many": no count rule
    whole = [Step(idx=0, kind="action", tool="calculator", tool_input="9 * 20"),
             Step(idx=1, kind="observation", tool="calculator", observation="180")]
    assert rules_check(task, cookies, "Final Answer: 180", whole).ok is True
    # a chat question (no task) with calculator work: a count is still whole and not negative; other
    # numbers may be either
    assert rules_check(None, cookies, "Final Answer: 0.45", divided).reason.startswith("implausible answer: 0.45 is")
    assert rules_check(None, cookies, "Final Answer: 180", whole).ok is True
    assert rules_check(None, "What is 9 over 20?", "Final Answer: 0.45", divided).ok is True
    reversed_ = [Step(idx=0, kind="action", tool="calculator", tool_input="9 - 24"),
                 Step(idx=1, kind="observation", tool="calculator", observation="-15")]
    cakes = "A baker had 24 cakes and sold 9. How many cakes are left?"  # seen in the chat: sample 2 of five
    assert rules_check(None, cakes, "Final Answer: -15", reversed_).reason == (
        "implausible answer: -15 is negative, but the question asks how many cakes")
    assert rules_check(None, "What is 9 minus 24?", "Final Answer: -15", reversed_).ok is True


@pytest.mark.parametrize(("question", "counted"), [
    ("How many cookies did it sell?", "cookies"),
    ("Tom has 5. How many more of the red apples does he have than Ann?", "red apples"),
    ("How many pieces of candy are left?", "pieces"),
    ("How many did he buy?", "things"),
    ("How many children got off the bus?", "children"),
    ("How many hours did he work?", None),
    ("How many square feet is the room?", None),
    ("How many times as many books does she have?", None),
    ("How many dollars are left?", None),
    ("How much money is left?", None),
])
def test_counted_noun_reads_the_last_how_many(question, counted):
    assert counted_noun(question) == counted


def test_react_draft_rejected_by_its_work_is_resampled():
    task, item = arith_item()
    model = ScriptedChatModel(script=[*calc_turn("3 - 8", "-5"), *calc_turn(item.meta["equation"], item.answer)])
    result = run_question(item.question, strategy="verify", model=model, task=task, item=item,
                          tools=["calculator"], options={"inner": "react"})
    assert result.correct is True and result.model_calls == 4
    run = open_store().get(result.run_id)
    meta = run.meta["verify"]
    assert (meta["revise"], meta["revisions"], meta["accepted"], meta["fallback"]) == ("resample", 1, True, False)
    assert [s.data["ok"] for s in run.steps if s.kind == "verify"] == [False, True]
    assert sum(s.kind == "action" for s in run.steps) == 2  # both drafts' tool calls are in the trace
    # the resample is a fresh ReAct turn (no feedback in its prompt), sampled at the default temperature
    assert "negative" not in model.prompts[2][-1].text
    assert [c.get("temperature") for c in model.calls_kwargs] == [0.0, 0.0, 0.7, 0.7]  # the first draft is greedy


def test_resampling_keeps_the_first_draft_when_none_is_accepted():
    task, item = arith_item()
    model = ScriptedChatModel(script=[*calc_turn("3 - 8", "-5"), *calc_turn("8 - 9", "-1"),
                                      *calc_turn("1 / 3", "0.33")])
    result = run_question(item.question, strategy="verify", model=model, task=task, item=item,
                          tools=["calculator"], options={"inner": "react", "rounds": 2})
    assert result.answer == "-5" and result.model_calls == 6
    meta = open_store().get(result.run_id).meta["verify"]
    assert (meta["revisions"], meta["accepted"], meta["fallback"]) == (2, False, True)


def test_work_that_leaves_out_a_number_of_the_question_fails_softly():
    task = get_task("arith")
    question = "Ravi has 16 seashells. Diego has 35 seashells. Ravi gives away 3. How many are left in total?"
    work = [Step(idx=0, kind="action", tool="calculator", tool_input="16 + 35"),
            Step(idx=1, kind="observation", tool="calculator", observation="51")]
    dropped = rules_check(task, question, "Final Answer: 51", work)
    assert (dropped.ok, dropped.score, dropped.reason) == (False, 0.5, "the work never uses 3 from the question")
    whole = [Step(idx=0, kind="action", tool="calculator", tool_input="16+35-3"),
             Step(idx=1, kind="observation", tool="calculator", observation="48")]
    assert rules_check(task, question, "Final Answer: 48", whole).ok is True
    assert rules_check(task, question, "Final Answer: 48").ok is True  # no tool work, nothing to read
    # numbers are read as an expression writes them: "36/4" uses 36 and 4; a percentage as a fraction
    split = "A baker has 36 rolls and puts them in bags of 4. How many bags?"
    divided = [Step(idx=0, kind="action", tool="calculator", tool_input="36/4"),
               Step(idx=1, kind="observation", tool="calculator", observation="9")]
    assert rules_check(task, split, "Final Answer: 9", divided).ok is True
    percent = [Step(idx=0, kind="action", tool="calculator", tool_input="0.25 * 80"),
               Step(idx=1, kind="observation", tool="calculator", observation="20")]
    assert rules_check(task, "25% of the 80 pupils walk. How many walk?", "Final Answer: 20", percent).ok is True


def test_work_whose_calculator_calls_all_failed_reaches_no_answer():
    from apprentice.traces import Run
    from apprentice.training.harvest import answer_computed

    task = get_task("arith")
    failed = [Step(idx=0, kind="action", tool="calculator", tool_input="16 plus 35"),
              Step(idx=1, kind="observation", tool="calculator", observation="Error: 'plus' is not an operator")]
    check = rules_check(task, "Ravi has 16. Diego has 35. How many in total?", "Final Answer: 51", failed)
    assert (check.ok, check.score) == (False, 0.0) and "every calculator call failed" in check.reason
    run = Run(id="r", strategy="react", model="m", question="q", answer="51", status="ok", started_at=0.0,
              steps=failed)
    assert answer_computed(run) is False


def test_resampling_falls_back_on_the_best_scored_draft():
    task, item = arith_item()  # 16 + 35
    model = ScriptedChatModel(script=[*calc_turn("3 - 8", "-5"), *calc_turn("16 + 1", "17"),
                                      *calc_turn("1 / 3", "0.33")])
    result = run_question(item.question, strategy="verify", model=model, task=task, item=item,
                          tools=["calculator"], options={"inner": "react", "rounds": 2})
    # the second draft only left out a number (a soft failure); the others broke hard rules
    assert result.answer == "17"
    run = open_store().get(result.run_id)
    assert [s.data["score"] for s in run.steps if s.kind == "verify"] == [0.0, 0.5, 0.0]
    assert (run.meta["verify"]["accepted"], run.meta["verify"]["fallback"]) == (False, True)


def test_fallback_prefers_a_draft_with_an_answer():
    task, item = arith_item()
    model = ScriptedChatModel(script=["I am not sure.", "Final Answer: -5"])
    result = run_question(item.question, strategy="verify", model=model, task=task, item=item, tools=[],
                          options={"inner": "cot", "revise": "resample", "rounds": 1, "fewshot": 0})
    assert result.answer.endswith("-5")  # both drafts fail hard; the one that answers stands


def test_unknown_revise_mode_is_an_error():
    task, item = arith_item()
    with pytest.raises(ApprenticeError, match="unknown revise mode 'sometimes'"):
        run_question(item.question, strategy="verify", model=ScriptedChatModel(script=["Final Answer: 1"]),
                     task=task, item=item, tools=[], options={"revise": "sometimes"})
