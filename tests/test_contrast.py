"""Contrast pairs: a verified trajectory against the same one with one quantity changed (issue 38)."""

from __future__ import annotations

import json

import pytest

from apprentice.errors import ApprenticeError
from apprentice.tasks import get_task
from apprentice.tools.calculator import calculate
from apprentice.training.contrast import contrast_pairs, contrast_trajectories
from apprentice.training.harvest import HarvestConfig, harvest
from apprentice.training.teachers import parse_teacher, solve_pool

PENS = ("Paul had 51 books and 106 pens. After selling some books and pens in a garage sale he had 82 books and "
        "14 pens left. How many pens did he sell in the garage sale?")


def _trajectory(expression: str, result: str, thought: str = 'The question says "left", so I subtract.') -> str:
    return (f"Thought: {thought}\nAction: calculator\nAction Input: {expression}\nObservation: {result}\n"
            f"Thought: The calculator gave {result}, so this answers the question.\nFinal Answer: {result}")


def test_each_rejected_side_changes_one_quantity_and_carries_the_calculators_result():
    rejected = contrast_trajectories(PENS, _trajectory("106 - 14", "92"))
    expressions = [t.split("Action Input: ")[1].split("\n")[0] for t in rejected]
    # each of the two numbers replaced by each of the question's two unused ones, and the operands reversed
    assert expressions == ["51 - 14", "82 - 14", "106 - 51", "106 - 82", "14 - 106"]
    for text, expression in zip(rejected, expressions, strict=True):
        result = calculate(expression)
        assert text == _trajectory(expression, result)  # the thought kept, the answer what the calculator gave


def test_only_the_result_is_replaced_never_a_number_that_contains_it():
    question = "A shelf holds 14 cups and 4 plates. 10 cups broke. How many cups are left?"
    chosen = _trajectory("14 - 10", "4", thought="Of 14 cups, 10 broke, so I subtract: 4 are left")
    rejected = contrast_trajectories(question, chosen)
    swapped = next(t for t in rejected if "Action Input: 10 - 14" in t)
    assert "Of 14 cups, 10 broke, so I subtract: 4 are left" in swapped  # before the observation: untouched
    assert swapped.endswith("The calculator gave -4, so this answers the question.\nFinal Answer: -4")


def test_the_tally_of_a_steps_replay_keeps_the_questions_numbers():
    """A steps-style replay's last thought lists the question's numbers ("Of 8, 21, 7 and 4, still to use: none (21
    and 7 are not needed)"); a result equal to one of them is restated in the answer, never in that list."""
    question = ("There are 8 different movies and 21 different books. If you read 7 of the books and watched 4 of "
                "the movies, how many more movies do you still have to watch?")
    tally = "Of 8, 21, 7 and 4, still to use: none (21 and 7 are not needed)"
    chosen = ("Thought: To find what is asked, I subtract: 8 - 4.\nAction: calculator\nAction Input: 8 - 4\n"
              f"Observation: 4\nThought: The calculator gave 4. {tally}, so this answers the question.\nFinal Answer: 4")
    rejected = {t.split("Action Input: ")[1].split("\n")[0]: t for t in contrast_trajectories(question, chosen)}
    assert rejected["8 - 7"].endswith(f"Observation: 1\nThought: The calculator gave 1. {tally}, so this answers "
                                      "the question.\nFinal Answer: 1")
    assert all(tally in t for t in rejected.values()) and len(rejected) >= 3


def test_with_drop_sign_a_negative_result_is_reported_without_its_sign_after_the_observation():
    """The student's misreport ("14 - 106" -> -92, "The calculator gave 92"): the rejected side says it, so the pair
    differs in the expression and the observation, never in a minus sign of the answer."""
    chosen = _trajectory("106 - 14", "92")
    reversed_ = [t for t in contrast_trajectories(PENS, chosen, drop_sign=True) if "Action Input: 14 - 106" in t]
    assert reversed_ == [_trajectory("14 - 106", "-92").replace("gave -92", "gave 92").replace("Answer: -92",
                                                                                                "Answer: 92")]
    assert "Observation: -92\n" in reversed_[0]
    kept = contrast_trajectories(PENS, chosen)
    assert [t for t in contrast_trajectories(PENS, chosen, drop_sign=True) if "14 - 106" not in t] == \
        [t for t in kept if "14 - 106" not in t]  # a positive result reads as before
    negative = _trajectory("10 - 15", "-5", thought="I subtract.")  # a verified negative answer keeps its signs
    assert contrast_trajectories("Ten minus 15? 10 and 15 and 3.", negative, drop_sign=True) == \
        contrast_trajectories("Ten minus 15? 10 and 15 and 3.", negative)


def test_an_action_input_written_without_a_space_is_changed_too():
    chosen = _trajectory("106 - 14", "92").replace("Action Input: 106 - 14", "Action Input:106 - 14")
    rejected = contrast_trajectories(PENS, chosen)
    assert rejected and all("Action Input:106 - 14" not in t for t in rejected)


@pytest.mark.parametrize("trajectory", [
    _trajectory("106 - 14", "92").replace("Final Answer: 92", "Final Answer: ninety-two"),  # answer not as written
    _trajectory("106 - 14", "92") + "\nAction: calculator\nAction Input: 1 + 1",  # not one action
    "Thought: I know it.\nFinal Answer: 92",  # no action at all
])
def test_a_trajectory_it_cannot_read_exactly_gives_no_pair(trajectory):
    assert contrast_trajectories(PENS, trajectory) == []


def test_a_variant_the_calculator_refuses_is_left_out_and_the_others_kept():
    """A question's 0 swapped in as a divisor ("9 / 0") is no rejected side and never the end of a harvest."""
    question = "Tom had 0 apples in May. He picks 9 baskets of 3 apples each. How many apples does he pick?"
    rejected = contrast_trajectories(question, _trajectory("9 * 3", "27", thought="I multiply."))
    assert [t.split("Action Input: ")[1].split("\n")[0] for t in rejected] == ["0 * 3", "9 * 0"]
    quotient = _trajectory("9 / 3", "3", thought="I divide.")
    assert [t.split("Action Input: ")[1].split("\n")[0] for t in contrast_trajectories(question, quotient)] == \
        ["0 / 3", "3 / 9"]


def test_a_variant_of_the_same_value_is_no_rejected_side():
    question = "Ann has 3 red and 3 blue pens and 5 pencils. How many pens does she have?"
    rejected = contrast_trajectories(question, _trajectory("3 + 3", "6", thought="I add."))
    assert [t.split("Action Input: ")[1].split("\n")[0] for t in rejected] == ["5 + 3", "3 + 5"]


def test_pairs_are_drawn_per_example_from_react_rows_only():
    rows = [{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": PENS},
                          {"role": "assistant", "content": _trajectory("106 - 14", "92")}],
             "protocol": "react", "metadata": {"question": PENS, "run_id": "r1"}},
            {"messages": [{"role": "user", "content": PENS}, {"role": "assistant", "content": "92"}],
             "protocol": "plain", "metadata": {"question": PENS, "run_id": "r2"}}]
    pairs = contrast_pairs(rows, per_example=2, seed=3)
    assert len(pairs) == 2 and len({p["rejected"][0]["content"] for p in pairs}) == 2
    assert all(p["prompt"] == rows[0]["messages"][:2] and p["chosen"] == rows[0]["messages"][2:]
               and p["metadata"]["contrast"] and p["metadata"]["chosen_run"] == "r1" for p in pairs)
    assert {p["rejected"][0]["content"] for p in pairs} <= set(contrast_trajectories(PENS, _trajectory("106 - 14", "92")))
    assert contrast_pairs(rows, per_example=2, seed=3) == pairs  # seeded


def test_signs_says_how_a_drawn_negative_variant_reads_and_never_changes_the_draws():
    rows = [{"messages": [{"role": "user", "content": PENS},
                          {"role": "assistant", "content": _trajectory("106 - 14", "92")}],
             "protocol": "react", "metadata": {"question": PENS, "run_id": f"r{i}"}} for i in range(12)]
    text = {signs: [p["rejected"][0]["content"] for p in contrast_pairs(rows, seed=1, signs=signs)]
            for signs in ("kept", "dropped", "both")}
    assert len(text["kept"]) == len(text["dropped"]) == 12 and any("14 - 106" in t for t in text["kept"])
    for kept, dropped in zip(text["kept"], text["dropped"], strict=True):  # the same variant, read two ways
        assert kept.split("Observation")[0] == dropped.split("Observation")[0]
        assert (kept == dropped) == ("14 - 106" not in kept)
    both = []
    for kept, dropped in zip(text["kept"], text["dropped"], strict=True):
        both += [kept, dropped] if kept != dropped else [kept]
    assert text["both"] == both  # a negative variant gives a pair of each reading, in order
    with pytest.raises(ValueError, match="signs must be kept, dropped or both"):
        contrast_pairs(rows, signs="lost")


@pytest.mark.parametrize("expression, result, thought, variant, changed", [
    ("106 - 14", "92", 'The question says "left", so I subtract.', "106 + 14", 'The question says "left", so I add.'),
    ("15 + 18", "33", "I add, so I add.", "18 - 15", "I subtract, so I subtract."),  # the larger number first
    ("26 * 33", "858", "Each bag holds 33, so I multiply.", "33 / 26", "Each bag holds 33, so I divide."),
    ("56 / 8", "7", "Shared by 8, so I divide; addition would not do.", "56 * 8",
     "Shared by 8, so I multiply; addition would not do."),  # the verb only, not a word that contains one
])
def test_an_operation_variant_changes_the_operation_and_the_verb_the_thought_names(expression, result, thought,
                                                                                    variant, changed):
    """The shipped student's operation misses on SVAMP are the confusable pairs (an addition subtracted, a
    division multiplied): the rejected side reasons to the other operation of the pair, consistently."""
    question = "Numbers 106, 14, 15, 18, 26, 33, 56 and 8, and 3 more."
    rejected = contrast_trajectories(question, _trajectory(expression, result, thought=thought), kind="operation")
    assert rejected == [_trajectory(variant, calculate(variant), thought=changed)]
    assert contrast_trajectories(question, _trajectory("(3 + 4) * 2", "14", thought="I add."), kind="operation") == []
    assert contrast_trajectories(question, _trajectory("4 / 1", "4", thought="I divide."), kind="operation") == []  # same value
    with pytest.raises(ValueError, match="kind must be one of quantity, operation, partial, extra"):
        contrast_trajectories(question, _trajectory(expression, result), kind="unit")


@pytest.mark.parametrize("expression, result, partials", [
    ("20 - 3 * 2", "14", ["3 * 2"]),
    ("200 / (2 * 10)", "10", ["2 * 10"]),
    ("960 / 4 / 3", "80", ["960 / 4"]),  # the inner operation, as written, not 4 / 3
    ("4.20 + 2.05 + (7 - 4)", "9.25", ["4.20 + 2.05", "7 - 4"]),  # numbers as the expression writes them
    ("1.5 * 2 + 1.5 * 2", "6", ["1.5 * 2"]),  # the same operation twice is one variant
])
def test_a_partial_variant_is_one_operation_of_the_composition_answered_as_if_it_were_all(expression, result,
                                                                                           partials):
    """The student's way with a problem of several steps: one operation on two numbers, answered. The rejected side
    keeps the thought and stops the expression there; its observation and answer are the calculator's."""
    question = "Lucas has $20 and buys 3 avocados at $2 each."
    rejected = contrast_trajectories(question, _trajectory(expression, result, thought="I work it out."),
                                     kind="partial")
    assert rejected == [_trajectory(p, calculate(p), thought="I work it out.") for p in partials]


@pytest.mark.parametrize("expression, result", [
    ("20 - 6", "14"),  # one operation
    ("-3 * 2 + 20", "14"),  # a negated operand is not one of the question's numbers
    ("2 * 3 * 1", "6"),  # "2 * 3" comes to the same value
    ("20 - 3 *", "14"),  # an expression it cannot read
])
def test_no_partial_variant_of_one_operation_of_the_same_value_or_of_what_it_cannot_read(expression, result):
    question = "Lucas has $20 and buys 3 avocados at $2 each."
    assert contrast_trajectories(question, _trajectory(expression, result), kind="partial") == []


def test_an_extra_variant_composes_in_a_number_the_question_gives_and_the_expression_does_not_use():
    """The other side of ``partial``: a student taught to use every number composes SVAMP's unneeded ones in
    ("36 - 2 - 13"); the rejected side does that with the expression's own last operation."""
    rejected = contrast_trajectories(PENS, _trajectory("106 - 14", "92"), kind="extra")
    assert rejected == [_trajectory(e, calculate(e)) for e in ("106 - 14 - 51", "106 - 14 - 82")]
    question = "Lucas has $20, buys 3 avocados at $2 each and sees 7 birds."
    assert [t.split("Action Input: ")[1].split("\n")[0] for t in contrast_trajectories(
        question, _trajectory("20 - 3 * 2", "14"), kind="extra")] == ["20 - 3 * 2 - 7"]
    assert contrast_trajectories(question, _trajectory("20 - 3 * 2 - 7 + 0", "7"), kind="extra") == []  # none spare
    assert contrast_trajectories(question, _trajectory("(20)", "20"), kind="extra") == []  # no operation


def test_each_kind_draws_on_its_own_so_adding_one_leaves_the_others_draws():
    rows = [{"messages": [{"role": "user", "content": PENS},
                          {"role": "assistant", "content": _trajectory("106 - 14", "92")}],
             "protocol": "react", "metadata": {"question": PENS, "run_id": f"r{i}"}} for i in range(8)]
    quantity = contrast_pairs(rows, seed=4)
    both = contrast_pairs(rows, seed=4, kinds=("quantity", "operation"))
    assert [p for p in both if p["metadata"]["contrast"] == "quantity"] == quantity
    operation = [p for p in both if p["metadata"]["contrast"] == "operation"]
    assert len(quantity) == len(operation) == 8
    assert {p["rejected"][0]["content"] for p in operation} == {
        _trajectory("106 + 14", "120", thought='The question says "left", so I add.')}
    assert contrast_pairs(rows, seed=4, kinds=("operation",)) == operation
    for kinds in ((), ("quantity", "unit")):
        with pytest.raises(ValueError, match="kinds must be some of quantity, operation, partial, extra"):
            contrast_pairs(rows, kinds=kinds)


def test_harvest_adds_contrast_pairs_from_its_training_split_only(tmp_path, monkeypatch):
    monkeypatch.setenv("APPRENTICE_HOME", str(tmp_path / "home"))
    task = get_task("arith", level=1, n=40, seed=2, distractors=1.0)
    items = task.load(split="train")[:12]
    counts = solve_pool(parse_teacher("dataset,equation"), task, items, student="local", meta={"distill": "c"})
    assert counts["solved"] == len(items)
    plain = harvest(HarvestConfig(out=tmp_path / "plain", task="arith", eval_fraction=0.25, tools=["calculator"]))
    result = harvest(HarvestConfig(out=tmp_path / "c", task="arith", eval_fraction=0.25, tools=["calculator"],
                                   contrast=1))
    assert plain.pairs == 0 and result.pairs == result.train  # every one-action example with a distractor: one
    rows = [json.loads(line) for line in (tmp_path / "c" / "pairs.jsonl").read_text().splitlines()]
    train = {json.loads(line)["metadata"]["question"] for line in (tmp_path / "c" / "train.jsonl").open()}
    assert {r["metadata"]["question"] for r in rows} == train  # no held-out question in a pair
    for row in rows:
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        assert chosen.split("Action Input: ")[0] == rejected.split("Action Input: ")[0]  # the same thought
        expression = rejected.split("Action Input: ")[1].split("\n")[0]
        assert rejected.endswith(f"Final Answer: {calculate(expression)}")  # what the calculator gives
    with pytest.raises(ApprenticeError, match="0 or more"):
        HarvestConfig(out=tmp_path / "x", contrast=-1)
    with pytest.raises(ApprenticeError,
                       match="contrast kinds must be some of quantity, operation, partial, extra, got unit"):
        HarvestConfig(out=tmp_path / "x", contrast=1, contrast_kinds=["unit"])
    both = harvest(HarvestConfig(out=tmp_path / "o", task="arith", eval_fraction=0.25, tools=["calculator"],
                                 contrast=1, contrast_kinds=["quantity", "operation"]))
    pairs = [json.loads(line) for line in (tmp_path / "o" / "pairs.jsonl").read_text().splitlines()]
    assert [p for p in pairs if p["metadata"]["contrast"] == "quantity"] == rows  # the quantity draws as before
    operation = [p for p in pairs if p["metadata"]["contrast"] == "operation"]
    assert both.pairs == len(pairs) == len(rows) + len(operation) and operation
    for row in operation:  # the other operation of the pair, on the same numbers
        chosen, rejected = (row[side][0]["content"].split("Action Input: ")[1].split("\n")[0]
                            for side in ("chosen", "rejected"))
        assert sorted(chosen.split()[::2]) == sorted(rejected.split()[::2])
        assert {chosen.split()[1], rejected.split()[1]} in ({"+", "-"}, {"*", "/"})
