"""Consistency pairs across number variants of one SVAMP problem (session 44, issue 38).

    APPRENTICE_HOME=HOME python consistency_pairs.py VARIANTS.jsonl OUT_PAIRS.jsonl

A problem and its variants (``variants.py``: the same story and equation, other numbers) want the same operation
on the same quantities. Where the shipped student's self-taught passes solved one of them (a verified one-action run
whose answer is its calculator's result) and failed another (no verified run), the pair for the failed one is: its
own failed run rejected, the solved one's trajectory chosen with each of its numbers carried to the failed
question's (through the variant's number mapping), the observation and final answer computed again by the real
calculator, and kept only when that gives the failed question's gold answer. The chosen side is then the student's
own words, as in a self-taught pair, on a question it got wrong. Reads the passes' runs from the home's trace store:
SVAMP train runs of ``teacher:self:student`` (C1's pass) and the variants' (``jsonl``, C4's pass). Pairs are in
``harvest.preference_pairs``' shape, one per failed question (its first failed run, the first solved member).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from apprentice.tasks.extract import numbers_match, parse_number
from apprentice.tools.calculator import CalculatorError, calculate
from apprentice.traces import open_store
from apprentice.training.examples import example_from_run
from apprentice.training.harvest import answer_computed, answer_format

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_ACTION_INPUT = re.compile(r"^Action Input:[ \t]*(.*)$", re.MULTILINE)
_OBSERVATION = re.compile(r"^Observation:[ \t]*(.*)$", re.MULTILINE)
_FINAL = re.compile(r"^Final Answer:[ \t]*(.*)$", re.MULTILINE)


def carry(trajectory: str, to_question: dict[str, str], gold: str) -> str | None:
    """A one-action trajectory with its expression's numbers carried over (``to_question``: a number of the solved
    question -> the other's), its observation and answer computed again; None when a number has nowhere to go, the
    calculator refuses, or the result is not ``gold``."""
    inputs, observations, finals = (p.findall(trajectory) for p in (_ACTION_INPUT, _OBSERVATION, _FINAL))
    if len(inputs) != 1 or len(observations) != 1 or len(finals) != 1:
        return None
    expression, observation = inputs[0].strip(), observations[0].strip()
    numbers = _NUMBER.findall(expression)
    if not numbers or any(n not in to_question for n in numbers) or observation not in finals[0]:
        return None
    carried = _NUMBER.sub(lambda m: to_question[m.group()], expression)
    try:
        result = calculate(carried).strip()
    except CalculatorError:
        return None
    value = parse_number(result)
    if value is None or not numbers_match(value, parse_number(gold)):
        return None
    cut = _OBSERVATION.search(trajectory)
    head = trajectory[:cut.start()].replace(f"Action Input: {inputs[0]}", f"Action Input: {carried}", 1)
    tail = trajectory[cut.end(1):]
    return (head + "Observation: " + result
            + re.sub(rf"(?<![\w.]){re.escape(observation)}(?![\w]|\.\d)", lambda _: result, tail))


def _examples(runs: list, correct: bool) -> list:
    out = []
    for run in runs:
        if bool(run.correct) != correct or (correct and not answer_computed(run)):
            continue
        example = example_from_run(run, answer_format=answer_format(run), tools=["calculator"],
                                   react_prompt="student", forced=not correct)
        if example is not None:
            out.append(example)
    return out


def main(argv: list[str]) -> int:
    variants = [json.loads(line) for line in Path(argv[0]).read_text().splitlines() if line.strip()]
    store = open_store()
    members: dict[str, list[tuple[str, str, dict[str, str], str]]] = {}  # origin -> (task, item, orig->own, gold)
    for row in variants:
        members.setdefault(row["origin"], []).append(("jsonl", row["id"], row["mapping"], row["answer"]))
    runs: dict[tuple[str, str], list] = {}
    for task in ("svamp", "jsonl"):
        for run in store.query(task=task, model="teacher:self:student", with_steps=True):
            if run.meta.get("train_question") is None:  # no hinted retry: the student's own attempts
                runs.setdefault((task, run.item_id), []).append(run)
    pairs = []
    for origin, group in members.items():
        first = next((r for r in runs.get(("svamp", origin), [])), None)
        if first is None:
            continue
        identity = {n: n for n in group[0][2]}
        group = [("svamp", origin, identity, first.gold), *group]
        solved = [(m, e) for m in group for e in _examples(runs.get(m[:2], []), True)[:1]]
        for member in group:
            own = runs.get(member[:2], [])
            if not own or _examples(own, True):
                continue
            failed = _examples(own, False)
            for donor, example in solved:
                back = {own_n: orig for orig, own_n in donor[2].items()}
                to_question = {n: member[2][back[n]] for n in back}
                text = carry(example.messages[-1]["content"], to_question, member[3]) if failed else None
                if text is None:
                    continue
                rejected = failed[0]
                pairs.append({"prompt": rejected.messages[:-1], "chosen": [{"role": "assistant", "content": text}],
                              "rejected": [rejected.messages[-1]], "protocol": "react",
                              "metadata": {"question": rejected.meta["question"], "chosen_run": example.meta["run_id"],
                                           "rejected_run": rejected.meta["run_id"], "carried_from": donor[1]}})
                break
    Path(argv[1]).write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
    print(f"{len(pairs)} consistency pairs -> {argv[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
