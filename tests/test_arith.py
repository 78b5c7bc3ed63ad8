"""The arithmetic word-problem generator: determinism, exact steps, disjoint splits, all levels."""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apprentice.errors import ApprenticeError
from apprentice.tasks import ArithTask, get_task
from apprentice.tasks.arith import step_solution
from apprentice.tasks.arith_templates import HE, OBJECTS, SHE, TEMPLATES
from apprentice.tasks.game24 import evaluate_expression

_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: Fraction(a, b)}


def _check_item(item, level):
    steps = item.meta["steps"]
    assert item.meta["level"] == level
    for index, step in enumerate(steps):
        exact = _OPS[step["op"]](step["a"], step["b"])
        assert exact == step["result"], step  # divisions are exact
        assert isinstance(step["result"], int) and step["result"] >= 1
        assert step["reason"] and "{" not in step["reason"]
        if index:
            assert step["a"] == steps[index - 1]["result"]
    assert item.answer == str(steps[-1]["result"])
    value, _ = evaluate_expression(item.meta["equation"])
    assert value == int(item.answer)
    assert "{" not in item.question and item.question.endswith("?")


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_levels(level):
    items = ArithTask(level=level, n=120, seed=3).load()
    assert len(items) == 120
    counts = {len(item.meta["steps"]) for item in items}
    ops = {step["op"] for item in items for step in item.meta["steps"]}
    for item in items:
        _check_item(item, level)
    if level == 1:
        assert counts == {1} and ops == {"+", "-"}
    elif level == 2:
        assert counts == {1} and ops == {"+", "-", "*", "/"}
    elif level == 3:
        assert counts == {2} and ops == {"+", "-", "*", "/"}
    else:
        assert counts == {3, 4}


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1, 2, 3, 4]))
def test_deterministic_and_correct_for_any_seed(seed, level):
    first = ArithTask(level=level, n=20, seed=seed).load(split="train")
    again = ArithTask(level=level, n=20, seed=seed).load(split="train")
    assert first == again
    for item in first:
        _check_item(item, level)


def test_seeds_differ():
    a = [item.question for item in ArithTask(seed=1, n=30).load()]
    b = [item.question for item in ArithTask(seed=2, n=30).load()]
    assert a != b
    assert [i.question for i in ArithTask(n=30).load(seed=5)] != [i.question for i in ArithTask(n=30).load()]


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_train_and_test_are_disjoint(level):
    task = ArithTask(level=level, n=150)
    train, test = task.load(split="train"), task.load(split="test")
    train_texts, test_texts = {item.question for item in train}, {item.question for item in test}
    assert len(train_texts) == len(train) and len(test_texts) == len(test)
    assert not train_texts & test_texts
    assert task.load() == test  # no split means the test split
    assert task.load(limit=7) == test[:7]
    pool_questions = {question for question, _ in task.fewshot_pool()}
    assert len(pool_questions) == 4 and not pool_questions & test_texts


@pytest.mark.parametrize("level", [1, 3])
def test_distractors_add_an_unused_number_to_the_same_problems(level):
    plain = ArithTask(level=level, n=120).load(split="train")
    mixed = ArithTask(level=level, n=120, distractors=0.5).load(split="train")
    assert ArithTask(level=level, n=120, distractors=0.0).load(split="train") == plain
    distracted = [item for item in mixed if "distractor" in item.meta]
    assert 30 < len(distracted) < 90
    for before, after in zip(plain, mixed, strict=True):
        assert after.answer == before.answer and after.meta["steps"] == before.meta["steps"]
        if "distractor" not in after.meta:
            assert after == before
            continue
        _check_item(after, level)
        sentence = after.meta["distractor"]
        assert after.meta["plain"] == before.question and after.question != before.question
        assert after.question.replace(sentence + " ", "") == before.question  # one sentence, before the question
        (number,) = re.findall(r"\d+", sentence)
        used = {str(step[k]) for step in after.meta["steps"] for k in ("a", "b", "result")}
        assert number not in used and number not in re.findall(r"\d+", before.question)
        (obj,) = [obj for obj in OBJECTS if f" {obj}s" in sentence]  # of something the problem never names
        assert after.meta["distractor_form"] == "the other kind"
        assert not any(word in before.question.lower() for word in obj.split())
    # a split with distractors holds no problem of the plain test split, and the test split stays its own
    test = {item.question for item in ArithTask(level=level, n=120).load(split="test")}
    assert not {item.meta.get("plain", item.question) for item in mixed} & test
    assert {item.meta.get("plain", item.question)
            for item in ArithTask(level=level, n=120, distractors=1).load(split="test")} == test


@pytest.mark.parametrize("level", [1, 3])
def test_same_kind_distractors_are_about_the_problems_own_object(level):
    plain = ArithTask(level=level, n=120).load(split="train")
    same = ArithTask(level=level, n=120, distractors=1, distractor_kind="same").load(split="train")
    forms = Counter()
    for before, after in zip(plain, same, strict=True):
        _check_item(after, level)
        assert after.answer == before.answer and after.meta["plain"] == before.question
        # one number more than the plain problem, none of its numbers or results
        (extra,) = (Counter(re.findall(r"\d+", after.question)) - Counter(re.findall(r"\d+", before.question)))
        assert int(extra) not in {step[k] for step in after.meta["steps"] for k in ("a", "b", "result")}
        sentence = after.meta["distractor"]
        opening, rest = before.question.split(". ", 1)
        form = after.meta["distractor_form"]
        forms[form] += 1
        unit = sentence.split(extra + " ", 1)[1].split(" last week")[0].rstrip(".")
        # the recorded form is what the text shows
        assert form == ("a second object" if sentence.startswith(opening + " and ")
                        else "another person's" if unit in before.question else "the other kind")
        if form == "a second object":  # beside the problem's own
            assert after.question == f"{sentence} {rest}" and " them" not in rest
        elif form == "another person's":  # one the problem does not name, of the other gender, after the opening
            person = sentence.split()[0]
            assert person not in before.question and after.question == f"{opening}. {sentence} {rest}"
            assert person in HE + SHE and (person in SHE) != (opening.split()[0] in SHE)  # opening: the subject
    # about half of the one-step templates (a bus, a farm) have neither a person's objects nor dollars
    assert forms["another person's"] + forms["a second object"] > forms["the other kind"]
    assert forms["a second object"] >= 10
    with pytest.raises(ApprenticeError, match="needs a distractors share above 0"):
        ArithTask(distractor_kind="same")
    with pytest.raises(ApprenticeError, match="kind is one of other, same, story"):
        ArithTask(distractors=0.5, distractor_kind="nearby")


@pytest.mark.parametrize("level", [1, 3])
def test_story_distractors_are_numbers_the_story_uses(level):
    plain = ArithTask(level=level, n=150).load(split="train")
    story = ArithTask(level=level, n=150, distractors=1, distractor_kind="story").load(split="train")
    forms, changed = Counter(), 0
    for before, after in zip(plain, story, strict=True):
        _check_item(after, level)
        form = after.meta["distractor_form"]
        forms[form] += 1
        assert after.answer == before.answer and after.meta["plain"] == before.question
        assert after.meta["equation"] == before.meta["equation"]
        extra = Counter(re.findall(r"\d+", after.question)) - Counter(re.findall(r"\d+", before.question))
        used = {step[k] for step in after.meta["steps"] for k in ("a", "b", "result")}
        assert not {int(n) for n in extra} & used  # the added numbers are none of the solution's
        sentence = after.meta["distractor"]
        assert sentence in after.question and set(extra) <= set(re.findall(r"\d+", sentence))
        if form == "the subject's own count":  # a one-step problem told again about a change, its own reason
            (step,), (was,) = after.meta["steps"], before.meta["steps"]
            assert level == 1 and len(extra) == 1  # the same step, its reason the new story's
            assert {k: v for k, v in step.items() if k != "reason"} == {k: v for k, v in was.items() if k != "reason"}
            changed += step["reason"] != was["reason"]
            name = after.question.split()[0]  # every such story opens with its subject's count
            assert after.question.startswith((f"{name} has ", f"{name} had ")) and name in HE + SHE
            assert {str(step["a"]), str(step["b"])} <= set(re.findall(r"\d+", after.question))
        elif form == "a second object the story changes":  # the opening rewritten, then that object changed
            opening, rest = before.question.split(". ", 1)
            assert after.question == f"{sentence} {rest}" and sentence.startswith(opening + " and ")
            added, change = sentence[len(opening) + len(" and "):].split(". ", 1)
            obj = added.split(" ", 1)[1]  # "30 beads": an object the problem does not name, changed next
            assert obj not in before.question and obj in change and len(extra) == 2
        else:  # neither fits the problem: as the same kind
            assert form in ("another person's", "a second object", "the other kind")
            assert after.meta["steps"] == before.meta["steps"]
    assert forms["a second object the story changes"] >= 5
    assert (forms["the subject's own count"] >= 30) == (level == 1)
    assert changed >= forms["the subject's own count"] * 3 // 4  # a few reasons of old and new stories agree
    # told again, a problem is still none of the test split's
    test = ArithTask(level=level, n=150, distractors=1, distractor_kind="story").load(split="test")
    assert not {item.question for item in story} & {item.question for item in test}
    assert len({item.question for item in story}) == len(story)


def test_templates_are_varied():
    for op, templates in TEMPLATES.items():
        assert len(templates) >= 15, op
        assert len({t.event + t.setup + t.question for t in templates}) == len(templates)
    wording = " ".join(t.setup + t.event + t.question for ts in TEMPLATES.values() for t in ts)
    for phrase in ("gives away", "in total", "each", "equally", "How many more", "as many", "left"):
        assert phrase in wording


def test_worked_solution_grades_correct():
    task = get_task("arith", level=4, n=30)
    for item in task.load():
        solution = step_solution(item.meta["steps"])
        assert solution.splitlines()[-1] == f"Final Answer: {item.answer}"
        assert task.grade(item, solution).correct
        assert not task.check(item, str(int(item.answer) + 1)).correct


def test_bad_options():
    with pytest.raises(ApprenticeError, match="level"):
        ArithTask(level=7)
    with pytest.raises(ApprenticeError, match="n >= 1"):
        ArithTask(n=0)
    with pytest.raises(ApprenticeError, match="no data file"):
        ArithTask().load("some/file.jsonl")
    with pytest.raises(ApprenticeError, match="split"):
        ArithTask().load(split="dev")
    with pytest.raises(ApprenticeError, match="share from 0 to 1"):
        ArithTask(distractors=1.5)
