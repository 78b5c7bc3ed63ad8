"""A seeded generator of arithmetic word problems, so that tests and demos need no data files.

Levels: 1 = one addition or subtraction, 2 = one operation of + - * /, 3 = two steps, 4 = three or
four steps. Every answer is a positive whole number (divisions are exact). A problem is a chain of
templates: the first one states the starting numbers, each later one changes the running quantity
with one new number, and the last one asks the question. ``meta["steps"]`` records each operation
with a ``reason`` that justifies it from the wording, for building explanation data. The wordings
(templates, names, objects, distractor sentences) are data in :mod:`apprentice.tasks.arith_templates`.

``distractors`` adds to a share of the problems one sentence with a number the solution does not use
("Omar has 14 beads." in a problem about marbles), as SVAMP's and GSM-IC's irrelevant numbers do; the
problems themselves stay those of the plain split, so a split with distractors never holds another
split's problem. ``distractor_kind="same"`` makes that number one of the same kind as the needed ones, as
SVAMP's mostly are: the problem's own object or dollars in another person's hands ("Mei has 30 marbles."
in a problem about Tom's marbles), or a second object in its opening sentence ("Tom has 12 marbles and 30
beads."). ``distractor_kind="story"`` takes numbers the story itself uses, as most of SVAMP's misses had: a
one-step + or - problem told again with the same numbers and answer as a question about a change beside the
subject's own count ("Tom has 80 marbles. He gives 12 marbles to Mei and 7 marbles to Ben. How many marbles
does Tom give away in all?"), or a second object in the opening sentence that the story then changes ("Tom
has 12 marbles and 30 beads. He gives 5 beads to Mei."); a problem that fits neither gets one of the same kind.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, ClassVar

from apprentice.errors import ApprenticeError
from apprentice.tasks.answers import FINAL_ANSWER, NumericTask
from apprentice.tasks.arith_templates import (
    CHANGE_QUESTIONS,
    CONTAINERS,
    DEFAULT_SETUP,
    DISTRACTORS,
    HE,
    OBJECTS,
    SAME_KIND,
    SECOND_OBJECT_CHANGES,
    SHE,
    TEMPLATES,
    THINGS,
    TIMES_WORDS,
    Template,
)
from apprentice.tasks.base import Item, stable_id

__all__ = ["DISTRACTOR_FORMS", "DISTRACTOR_KINDS", "DISTRACTOR_KINDS_HELP", "LEVELS", "ArithTask", "step_solution"]

LEVELS = (1, 2, 3, 4)
DISTRACTOR_KINDS = ("other", "same", "story")
#: ``meta["distractor_form"]``: another person's count of the problem's own object or dollars, a second object
#: in the opening sentence (both of the same kind), a number of something the problem does not name, the
#: subject's own count (or a later change to it) beside a question about a change, a second object the story
#: changes (both "story")
DISTRACTOR_FORMS = ("another person's", "a second object", "the other kind", "the subject's own count",
                    "a second object the story changes")
#: what each kind means, for the eval and distill flags that pick one
DISTRACTOR_KINDS_HELP = ("other = a number of something the problem does not name; same = of its own object or "
                         "dollars, in another person's hands or beside it in the opening sentence; story = numbers "
                         "the story uses: the subject's own count beside a question about what happened to it, or "
                         "a second object the story also changes (else as same)")
_MAX_VALUE = 2000
_TRIES_PER_ITEM = 50


def _persona(rng: random.Random) -> dict[str, Any]:
    """Names, pronouns and nouns for one problem."""
    pronouns = rng.choice((("he", "him", "his"), ("she", "her", "her")))
    names = HE if pronouns[0] == "he" else SHE
    name = rng.choice(names)
    friend = rng.choice([other for other in HE + SHE if other != name])
    obj = rng.choice(OBJECTS)
    container, containers = rng.choice(CONTAINERS)
    thing, things = rng.choice(THINGS)
    he, him, his = pronouns
    return {
        "name": name, "friend": friend, "he": he, "He": he.capitalize(), "him": him, "his": his,
        "His": his.capitalize(), "obj": obj, "objs": obj + "s", "container": container,
        "containers": containers, "thing": thing, "things": things,
    }  # fmt: skip


def _multiplier_cap(template: Template) -> int:
    """'twice / three times as many' wordings stay small; 'each holds' wordings go up to 12."""
    return 5 if "times}" in template.event + template.reason else 12


def _first_operands(rng: random.Random, template: Template) -> tuple[int, int]:
    money = template.domain == "$"
    if template.op == "+":
        return rng.randint(20 if money else 5, 150 if money else 60), rng.randint(2, 40)
    if template.op == "-":
        a = rng.randint(20 if money else 12, 150 if money else 90)
        return a, rng.randint(2, a - 2)
    if template.op == "*":
        return rng.randint(2, 12), rng.randint(2, _multiplier_cap(template))
    b = rng.randint(2, 10)
    return b * rng.randint(2, 15), b


def _next_operand(rng: random.Random, template: Template, current: int) -> int | None:
    """A number that keeps the running quantity a sensible whole number, or ``None`` if none does."""
    if template.op == "+":
        return rng.randint(2, 40)
    if template.op == "-":
        return rng.randint(2, current - 1) if current >= 3 else None
    if template.op == "*":
        factors = [b for b in range(2, _multiplier_cap(template) + 1) if current * b <= _MAX_VALUE]
        return rng.choice(factors) if factors else None
    divisors = [b for b in range(2, 13) if current % b == 0 and current // b >= 2]
    return rng.choice(divisors) if divisors else None


def _apply(op: str, a: int, b: int) -> int:
    return {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]


def _chain(rng: random.Random, level: int) -> list[Template]:
    """The templates of one problem: one for levels 1-2, a first/middle/last chain for levels 3-4."""
    if level <= 2:
        return [rng.choice(TEMPLATES[rng.choice("+-" if level == 1 else "+-*/")])]
    length = 2 if level == 3 else rng.choice((3, 4))
    domain = rng.choice("ii$")
    chain: list[Template] = []
    for index in range(length):
        role = "f" if index == 0 else "l" if index == length - 1 else "m"
        options = {
            op: [t for t in templates if t.domain == domain and role in t.roles and t not in chain]
            for op, templates in TEMPLATES.items()
        }
        chain.append(rng.choice(options[rng.choice([op for op, found in options.items() if found])]))
    return chain


def _build(
    rng: random.Random, chain: list[Template]
) -> tuple[list[str], list[dict[str, Any]], str, dict[str, Any]] | None:
    """Fill a chain with a persona and numbers: (sentences, the question last; steps; equation; the persona),
    or ``None`` to retry."""
    slots = _persona(rng)
    sentences: list[str] = []
    steps: list[dict[str, Any]] = []
    equation, current = "", 0
    for index, template in enumerate(chain):
        if index == 0:
            a, b = _first_operands(rng, template)
        else:
            a, maybe_b = current, _next_operand(rng, template, current)
            if maybe_b is None:
                return None
            b = maybe_b
        times = TIMES_WORDS.get(b, f"{b} times")
        slots.update(a=a, b=b, btimes=times, Btimes=times.capitalize())
        if index == 0:
            sentences.append((template.setup or DEFAULT_SETUP[template.domain]).format(**slots))
        if template.event:
            sentences.append(template.event.format(**slots))
        current = _apply(template.op, a, b)
        reason = template.reason.format(**slots)
        steps.append({"op": template.op, "a": a, "b": b, "result": current, "reason": reason})
        equation = f"{a} {template.op} {b}" if index == 0 else f"({equation}) {template.op} {b}"
    sentences.append(chain[-1].question.format(**slots))
    return sentences, steps, equation, slots


def _other_person(rng: random.Random, slots: dict[str, Any]) -> str:
    """A name of the other gender than the subject's, not the friend's (the problem's pronouns still point at
    its subject)."""
    return rng.choice([n for n in (SHE if slots["he"] == "he" else HE) if n != slots["friend"]])


def _change_question(
    rng: random.Random, slots: dict[str, Any], steps: list[dict[str, Any]]
) -> tuple[list[str], str, str, list[dict[str, Any]]] | None:
    """A one-step + or - problem told again as one of CHANGE_QUESTIONS with the same numbers and answer, the
    subject's own count (or a later change to it) unneeded: (sentences, the sentence with that count, its form,
    the steps with the new reason); None when no count fits."""
    (step,) = steps
    a, b = step["a"], step["b"]
    _, bound, story, question, why = rng.choice([form for form in CHANGE_QUESTIONS if form[0] == step["op"]])
    near = {"above": range(a + b + 2, a + b + 61), "below": range(2, a), "free": range(2, 61)}[bound]
    counts = [c for c in near if c not in (a, b, step["result"])]
    if not counts:
        return None
    c = rng.choice(counts)
    other = rng.choice([n for n in HE + SHE if n not in (slots["name"], slots["friend"])])
    filled = {**slots, "a": a, "b": b, "c": c, "other": other}
    told = [*re.split(r"(?<=\.) ", story.format(**filled)), question.format(**filled)]
    (sentence,) = [s for s in told if re.search(rf"\b{c}\b", s)]
    return told, sentence, DISTRACTOR_FORMS[3], [{**step, "reason": why.format(**filled)}]


def _distract(
    rng: random.Random, sentences: list[str], slots: dict[str, Any], steps: list[dict[str, Any]], domain: str,
    kind: str = "other",
) -> tuple[list[str], str, str, list[dict[str, Any]]]:
    """The sentences with one distractor, its numbers none of the problem's numbers or results; returns them,
    the distractor (a sentence put in before the question, or the opening sentence it rewrote, with the change
    after it), its form (one of DISTRACTOR_FORMS) and the steps (a problem told again gets its own reason)."""
    text = " ".join(sentences).lower()
    objs2 = rng.choice([obj + "s" for obj in OBJECTS if not any(word in text for word in obj.split())])
    used = {step[k] for step in steps for k in ("a", "b", "result")}  # every number the text writes is one of them
    free = [n for n in range(2, 61) if n not in used]
    opening = DEFAULT_SETUP.get(domain, "").format(**{**slots, "a": steps[0]["a"]})
    # "Tom has 12 marbles and 30 beads.", unless a later "them" could then mean both
    second_fits = sentences[0] == opening and " them" not in " ".join(sentences[1:])
    if kind == "story":
        if len(steps) == 1 and steps[0]["op"] in "+-" and rng.random() < 0.5:
            told = _change_question(rng, slots, steps)
            if told is not None:
                return told
        if domain == "i" and second_fits:
            c = rng.choice(free[2:])  # two free numbers under it for the change
            change = rng.choice(SECOND_OBJECT_CHANGES).format(
                **slots, d=rng.choice([n for n in free if n < c]), objs2=objs2, other=_other_person(rng, slots))
            sentence = f"{opening[:-1]} and {c} {objs2}. {change}"
            return [sentence, *sentences[1:]], sentence, DISTRACTOR_FORMS[4], steps
        kind = "same"
    if kind == "same" and domain in SAME_KIND:
        c = rng.choice(free)
        if second_fits and rng.random() < 0.5:
            sentence = f"{opening[:-1]} and {c} {objs2}."
            return [sentence, *sentences[1:]], sentence, DISTRACTOR_FORMS[1], steps
        other = _other_person(rng, slots)
        sentence = rng.choice(SAME_KIND[domain]).format(**slots, other=other, c=c)
        return [sentences[0], sentence, *sentences[1:]], sentence, DISTRACTOR_FORMS[0], steps
    where, pattern = rng.choice(DISTRACTORS)
    sentence = pattern.format(**slots, objs2=objs2, c=rng.choice(free))
    story = len(sentences) - 1  # the question is last
    at = story if where == "last" else rng.randint(0 if where == "any" else 1, story)
    return [*sentences[:at], sentence, *sentences[at:]], sentence, DISTRACTOR_FORMS[2], steps


def _generate(
    level: int, count: int, key: str, exclude: set[str], distractors: float = 0.0, kind: str = "other"
) -> list[Item]:
    """``count`` distinct problems from the random stream ``key``, none of whose plain text (before a
    distractor is put in) nor final text is in ``exclude``. A ``distractors`` share get one of ``kind``; that
    choice draws from its own stream, so the problems are the same with and without."""
    rng, decorate = random.Random(key), random.Random(f"{key}|distractors")
    seen, items = set(exclude), []
    for _ in range(count * _TRIES_PER_ITEM):
        if len(items) == count:
            break
        chain = _chain(rng, level)
        built = _build(rng, chain)
        if built is None:
            continue
        sentences, steps, equation, slots = built
        plain = " ".join(sentences)
        if plain in seen:
            continue
        seen.add(plain)
        meta = {"level": level, "steps": steps, "equation": equation}
        if distractors and decorate.random() < distractors:
            sentences, meta["distractor"], meta["distractor_form"], meta["steps"] = _distract(
                decorate, sentences, slots, steps, chain[0].domain, kind)
            meta["plain"] = plain
        question = " ".join(sentences)
        if question != plain:  # a problem told again ("story") must not be one the split has or excludes
            if question in seen:
                continue
            seen.add(question)
        items.append(Item(stable_id("arith", question), question, str(steps[-1]["result"]), meta))
    return items


def step_solution(steps: list[dict[str, Any]]) -> str:
    """A worked solution from generated steps: one justified operation a line, then the answer."""
    lines = [f"{step['reason']} {step['a']} {step['op']} {step['b']} = {step['result']}." for step in steps]
    return "\n".join([*lines, f"{FINAL_ANSWER} {steps[-1]['result']}"])


class ArithTask(NumericTask):
    """Generated arithmetic word problems (no data files).

    Args:
        level: 1 = one + or -, 2 = one of + - * /, 3 = two steps, 4 = three or four steps.
        n: How many problems each split holds.
        seed: Seed of the generator; the same seed always gives the same problems.
        distractors: The share (0-1) of problems given one sentence with a number the solution does not
            use; the problems are those of the plain split, the distractors added.
        distractor_kind: ``other``: a number of something the problem does not name; ``same``: of the
            problem's own object or dollars, in another person's hands or beside it in the opening sentence;
            ``story``: numbers the story uses, the subject's own count beside a question about a change or a
            second object the story changes (else as ``same``).
    """

    name: ClassVar[str] = "arith"
    answer_format: ClassVar[str] = "Give the final answer as a whole number."

    def __init__(
        self, level: int = 2, n: int = 200, seed: int = 0, distractors: float = 0.0, distractor_kind: str = "other"
    ) -> None:
        super().__init__()
        if level not in LEVELS:
            raise ApprenticeError(f"arith level must be one of {', '.join(map(str, LEVELS))}, got {level!r}")
        if n < 1:
            raise ApprenticeError(f"arith needs n >= 1 problems, got {n}")
        if not 0 <= distractors <= 1:
            raise ApprenticeError(f"arith distractors is a share from 0 to 1, got {distractors}")
        if distractor_kind not in DISTRACTOR_KINDS:
            kinds = ", ".join(DISTRACTOR_KINDS)
            raise ApprenticeError(f"arith distractor kind is one of {kinds}, got {distractor_kind!r}")
        if distractor_kind != "other" and not distractors:
            raise ApprenticeError(f"arith distractor kind {distractor_kind!r} needs a distractors share above 0")
        self.level, self.n, self.seed, self.distractors = level, n, seed, distractors
        self.distractor_kind = distractor_kind

    def load(
        self,
        path: str | Path | None = None,
        *,
        limit: int | None = None,
        split: str | None = None,
        seed: int = 0,
    ) -> list[Item]:
        """Generate the problems of a split.

        ``split`` is ``"test"`` (also ``None`` and ``"shuffle"``) or ``"train"``: separate random
        streams, and no train question has the text of a test question. ``seed`` is combined with
        the constructor's seed; ``limit`` keeps the first problems of the ``n``.
        """
        if path is not None:
            raise ApprenticeError("the arith task generates its problems; it reads no data file")
        if split not in (None, "train", "test", "shuffle"):
            raise ApprenticeError(f"unknown split {split!r} for arith; choose train or test")
        if limit is not None and limit < 0:
            raise ApprenticeError(f"limit must be zero or more, got {limit}")
        decorate = (self.distractors, self.distractor_kind)
        test = _generate(self.level, self.n, self._key(seed, "test"), set(), *decorate)
        items = test
        if split == "train":
            excluded = {text for item in test for text in (item.meta.get("plain"), item.question) if text}
            items = _generate(self.level, self.n, self._key(seed, "train"), excluded, *decorate)
        return items if limit is None else items[:limit]

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """Four generated problems of the same level (none from the test split) with their steps."""
        test = {item.question for item in _generate(self.level, self.n, self._key(0, "test"), set())}
        pool = _generate(self.level, 4, self._key(0, "pool"), test)
        return [(item.question, step_solution(item.meta["steps"])) for item in pool]

    def _key(self, seed: int, stream: str) -> str:
        return f"arith|{self.seed}|{seed}|{self.level}|{stream}"
