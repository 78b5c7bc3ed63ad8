"""A seeded generator of arithmetic word problems, so that tests and demos need no data files.

Levels: 1 = one addition or subtraction, 2 = one operation of + - * /, 3 = two steps, 4 = three or
four steps. Every answer is a positive whole number (divisions are exact). A problem is a chain of
templates: the first one states the starting numbers, each later one changes the running quantity
with one new number, and the last one asks the question. ``meta["steps"]`` records each operation
with a ``reason`` that justifies it from the wording, for building explanation data.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from apprentice.errors import ApprenticeError
from apprentice.tasks.answers import FINAL_ANSWER, NumericTask
from apprentice.tasks.base import Item, stable_id

__all__ = ["DISTRACTOR_KINDS", "DISTRACTOR_KINDS_HELP", "LEVELS", "TEMPLATES", "ArithTask", "step_solution"]

LEVELS = (1, 2, 3, 4)


@dataclass(frozen=True)
class _Template:
    """One wording of one operation. ``domain``: ``i`` items, ``$`` money, ``x`` stand-alone only;
    ``roles``: where it may sit in a chain (``f`` first, ``m`` middle, ``l`` last)."""

    op: str
    domain: str
    roles: str
    setup: str
    event: str
    question: str
    reason: str


def _templates(op: str, *specs: str) -> list[_Template]:
    parsed = []
    for spec in specs:
        head, setup, event, question, reason = spec.split("|")
        domain, roles = head.split(":")
        parsed.append(_Template(op, domain, roles, setup, event, question, reason))
    return parsed


_HAVE = "How many {objs} does {name} have now?"
_LEFT = "How many {objs} does {name} have left?"
_MONEY_NOW = "How many dollars does {name} have now?"
_MONEY_LEFT = "How many dollars does {name} have left?"
_MORE = "'More ... than' asks for the difference, so we subtract."
_TIMES = "'{Btimes} as many' means we multiply by {b}."

TEMPLATES: dict[str, list[_Template]] = {
    "+": _templates(
        "+",
        f"i:fml||{{He}} buys {{b}} more {{objs}} at the store.|{_HAVE}|{{name}} buys {{b}} more {{objs}}, so we add.",
        f"i:fml||{{friend}} gives {{him}} {{b}} more {{objs}}.|{_HAVE}|{{friend}} gives {{name}} {{b}} {{objs}}, "
        "which adds to what {he} has, so we add.",
        "i:f|{name} picked {a} {objs} in the morning.|In the afternoon {he} picked {b} more.|How many {objs} did "
        "{name} pick in total?|The morning and afternoon amounts together make the total, so we add.",
        "i:f|{name} has {a} big {objs} and {b} small {objs}.||How many {objs} does {name} have altogether?|The big "
        "and the small {objs} together make all of them, so we add.",
        "i:l||{friend} has {b} {objs}.|How many {objs} do {name} and {friend} have in total?|'In total' combines "
        "both amounts, so we add.",
        f"i:ml||{{He}} finds {{b}} more {{objs}} in {{his}} backpack.|{_HAVE}|Finding {{b}} more {{objs}} increases "
        "the number, so we add.",
        "i:l||{friend} has {b} more {objs} than {name}.|How many {objs} does {friend} have?|{friend} has {b} more "
        "than {name}, so we add.",
        "x:|After giving away {b} {objs}, {name} has {a} left.||How many {objs} did {name} have at first?|What "
        "{he} has left plus what {he} gave away is what {he} started with, so we add.",
        f"$:fml||{{He}} earns {{b}} dollars mowing lawns.|{_MONEY_NOW}|Earning {{b}} dollars increases {{his}} money, "
        "so we add.",
        f"$:ml||{{His}} grandmother sends {{him}} {{b}} dollars as a gift.|{_MONEY_NOW}|A gift of {{b}} dollars adds "
        "to {his} money, so we add.",
        "x:|A bus has {a} passengers.|At the next stop, {b} more people get on.|How many passengers are on the bus "
        "now?|{b} more people get on, so we add.",
        "x:|{name} read {a} pages on Monday and {b} pages on Tuesday.||How many pages did {name} read in the two "
        "days?|The pages of both days together make the total, so we add.",
        "x:|A farm has {a} cows and {b} sheep.||How many animals are on the farm altogether?|Cows and sheep "
        "together are all the animals, so we add.",
        "x:|{name} walked {a} meters to the park and then {b} meters to the library.||How many meters did {name} "
        "walk in all?|'In all' means both distances together, so we add.",
        f"i:ml||Then {{he}} wins {{b}} {{objs}} in a contest.|{_HAVE}|Winning {{b}} {{objs}} adds to what {{name}} "
        "has, so we add.",
        "x:|A library had {a} books.|It received a donation of {b} more books.|How many books does the library "
        "have now?|The donation increases the number of books, so we add.",
        "$:f|{name} saved {a} dollars in January and {b} dollars in February.||How many dollars did {name} save in "
        "total?|The savings of both months together make the total, so we add.",
    ),
    "-": _templates(
        "-",
        f"i:fml||{{He}} gives {{b}} {{objs}} to {{friend}}.|{_LEFT}|Giving {{b}} {{objs}} away leaves fewer, so we "
        "subtract.",
        f"i:fml||{{He}} loses {{b}} of them on the way home.|{_LEFT}|Losing {{b}} {{objs}} leaves fewer, so we "
        "subtract.",
        "i:ml||{He} gives away {b} {objs} at school.|How many {objs} does {name} still have?|{name} gives away {b} "
        "{objs}, so we subtract.",
        f"i:l||{{friend}} has {{b}} {{objs}}.|How many more {{objs}} does {{name}} have than {{friend}}?|{_MORE}",
        "x:|{name} had {a} {objs}. After giving some to {friend}, {he} has {b} left.||How many {objs} did {name} "
        "give to {friend}?|What {he} gave is what {he} had minus what is left, so we subtract.",
        f"$:fml||{{He}} spends {{b}} dollars on a present for {{friend}}.|{_MONEY_LEFT}|Spending {{b}} dollars "
        "reduces {his} money, so we subtract.",
        "x:|{name} wants to collect {a} {objs} and already has {b}.||How many more {objs} does {name} need?|The "
        "number still needed is the goal minus what {he} has, so we subtract.",
        "x:|A bus had {a} passengers.|At the stop, {b} people got off.|How many passengers are still on the bus?|"
        "{b} people got off, so we subtract.",
        f"i:ml||{{He}} uses {{b}} of them for a school project.|{_LEFT}|Using up {{b}} {{objs}} leaves fewer, so we "
        "subtract.",
        "x:|There are {a} students in a class, and {b} of them are boys.||How many girls are in the class?|The "
        "girls are the students who are not boys, so we subtract.",
        "x:|A shop had {a} {objs} in stock.|It sold {b} of them.|How many {objs} are left in stock?|Selling {b} "
        "{objs} takes them out of stock, so we subtract.",
        "x:|{name} is {a} years old.|{friend} is {b} years younger.|How old is {friend}?|Younger means fewer "
        "years, so we subtract.",
        "x:|A rope is {a} meters long.|{name} cuts off {b} meters.|How many meters long is the rope now?|Cutting "
        "off {b} meters makes it shorter, so we subtract.",
        f"$:ml||{{He}} puts {{b}} dollars into a charity box.|{_MONEY_LEFT}|Giving {{b}} dollars to charity leaves "
        "less money, so we subtract.",
        f"x:|{{name}} scored {{a}} points and {{friend}} scored {{b}} points.||How many more points did {{name}} "
        f"score than {{friend}}?|{_MORE}",
        "$:l||{friend} has {b} dollars.|How many more dollars does {name} have than {friend}?|'More ... than' "
        "compares the two amounts, so we subtract.",
        f"i:ml||{{b}} of {{his}} {{objs}} get damaged, and {{he}} throws them out.|{_LEFT}|Throwing out {{b}} "
        "damaged {objs} leaves fewer, so we subtract.",
    ),
    "*": _templates(
        "*",
        "i:f|{name} buys {a} {containers} of {objs}.|Each {container} holds {b} {objs}.|How many {objs} does "
        "{name} buy in all?|There are {a} {containers} with {b} {objs} in each, so we multiply.",
        "i:f|{name} has {a} {containers} with {b} {objs} in each {container}.||How many {objs} does {name} have?|"
        "{a} equal groups of {b} make {a} times {b}, so we multiply.",
        f"i:ml||After a good trade, {{he}} has {{btimes}} as many {{objs}} as before.|{_HAVE}|{_TIMES}",
        f"i:l||{{friend}} has {{btimes}} as many {{objs}} as {{name}}.|How many {{objs}} does {{friend}} have?|"
        f"{_TIMES}",
        "i:l||{He} sells each of them for {b} dollars.|How many dollars does {name} get for all of them?|Each one "
        "sells for {b} dollars, so the total is the number times the price; we multiply.",
        "x:|{name} buys {a} {things} that cost {b} dollars each.||How many dollars does {name} spend?|{a} "
        "{things} at {b} dollars each cost {a} times {b}, so we multiply.",
        "x:|A garden has {a} rows of tulips with {b} tulips in each row.||How many tulips are in the garden?|Every "
        "row has the same number of tulips, so we multiply.",
        "x:|{name} reads {b} pages every day for {a} days.||How many pages does {name} read in total?|The same "
        "number of pages every day means we multiply.",
        "x:|A car travels {b} kilometers each hour.|It drives for {a} hours.|How many kilometers does it travel?|"
        "Kilometers per hour times hours gives the distance, so we multiply.",
        "x:|A classroom has {a} tables with {b} chairs at each table.||How many chairs are in the classroom?|{b} "
        "chairs at each of {a} tables means we multiply.",
        "$:l||{friend} has {btimes} as much money as {name}.|How many dollars does {friend} have?|'{Btimes} as "
        "much' means we multiply by {b}.",
        "x:|Each box of crayons holds {b} crayons.|{name} has {a} boxes.|How many crayons does {name} have?|Each "
        "of the {a} boxes holds {b} crayons, so we multiply.",
        "$:f|{name} earns {b} dollars an hour and works for {a} hours.||How many dollars does {name} earn?|Pay "
        "per hour times the hours worked gives the total, so we multiply.",
        "x:|There are {a} teams in a tournament, and each team has {b} players.||How many players are there in "
        "all?|Each of the {a} teams has {b} players, so we multiply.",
        "x:|A baker makes {a} trays of muffins.|Each tray holds {b} muffins.|How many muffins does the baker "
        "make?|Every tray has the same number of muffins, so we multiply.",
        "i:l||{He} trades each of them for {b} tokens at the fair.|How many tokens does {name} get?|Each one is "
        "traded for {b} tokens, so we multiply.",
    ),
    "/": _templates(
        "/",
        "i:l||{He} shares them equally among {b} friends.|How many {objs} does each friend get?|Sharing equally "
        "among {b} friends means we divide by {b}.",
        "i:l||{He} puts them into bags of {b}.|How many bags does {name} fill?|Each bag takes {b} {objs}, so the "
        "number of bags is the total divided by {b}.",
        "i:fml||{He} splits them into {b} equal piles and keeps only one pile.|How many {objs} does {name} keep?|"
        "Splitting into {b} equal piles and keeping one means we divide by {b}.",
        "x:|{a} students are split into {b} equal teams.||How many students are on each team?|Splitting into "
        "equal teams means we divide.",
        "x:|{name} paid {a} dollars for {b} tickets that all cost the same.||How many dollars did each ticket "
        "cost?|The total price shared equally over {b} tickets means we divide.",
        "x:|A ribbon {a} centimeters long is cut into {b} equal pieces.||How many centimeters long is each piece?|"
        "Cutting into equal pieces means we divide by {b}.",
        "x:|{name} drives {a} kilometers in {b} hours at a steady speed.||How many kilometers does {name} drive "
        "each hour?|A distance spread evenly over {b} hours means we divide.",
        "$:l||Each {thing} costs {b} dollars.|How many {things} can {name} buy with all of {his} money?|The "
        "number of {things} is the money divided by the price, so we divide.",
        "x:|A teacher hands out {a} pencils equally to {b} students.||How many pencils does each student get?|"
        "Handing out equally means we divide.",
        "x:|{name} read a {a}-page book in {b} days, reading the same number of pages each day.||How many pages "
        "did {name} read each day?|The same amount each day means we divide the pages by the days.",
        "$:ml||{He} puts the money into {b} equal envelopes and keeps one envelope.|How many dollars does {name} "
        "keep?|Dividing the money into {b} equal envelopes means we divide by {b}.",
        "x:|{a} cookies are packed in boxes of {b}.||How many boxes are filled?|Each box holds {b} cookies, so we "
        "divide to count the boxes.",
        "x:|A farmer plants {a} trees in {b} equal rows.||How many trees are in each row?|Equal rows means we "
        "divide.",
        "i:l||{He} arranges them in {b} equal rows.|How many {objs} are in each row?|Arranging them in equal rows "
        "means we divide by {b}.",
        "x:|A pizza dinner for {b} friends costs {a} dollars, split equally.||How many dollars does each friend "
        "pay?|Splitting the cost equally means we divide.",
        "$:l||{He} divides the money equally among {his} {b} children.|How many dollars does each child get?|"
        "Dividing equally among {b} children means we divide.",
    ),
}

_HE = ("Tom", "Kenji", "Omar", "Lucas", "Ravi", "Diego", "Mateo", "Ben", "Yusuf", "Leo")
_SHE = ("Maria", "Aisha", "Lena", "Priya", "Sofia", "Chloe", "Hannah", "Nadia", "Mei", "Zoe")
_OBJECTS = (
    "apple", "marble", "sticker", "pencil", "cookie", "seashell", "stamp", "bead", "balloon", "crayon",
    "orange", "eraser", "postcard", "toy car", "baseball card",
)  # fmt: skip
_CONTAINERS = (("box", "boxes"), ("bag", "bags"), ("jar", "jars"), ("basket", "baskets"), ("pack", "packs"))
_THINGS = (
    ("book", "books"), ("toy", "toys"), ("ticket", "tickets"), ("notebook", "notebooks"), ("kite", "kites"),
)  # fmt: skip
_TIMES_WORDS = {2: "twice", 3: "three times", 4: "four times", 5: "five times"}
# Sentences with a number no step uses, about objects the problem does not mention: "any" may open the
# problem, "after" follows its first sentence or later, "last" (a second person, who could be taken for
# the subject of the next sentence's pronoun) sits just before the question.
_DISTRACTORS = (
    ("any", "There are {c} {objs2} on the table."),
    ("after", "{name} also has {c} {objs2}."),
    ("after", "{name} keeps {c} {objs2} in a drawer."),
    ("last", "{friend} has {c} {objs2}."),
    ("last", "{friend} bought {c} {objs2} last week."),
)
# Unneeded numbers of the same kind as the needed ones: the problem's object or dollars held by a person of
# the other gender (the problem's pronouns still point at its subject), put in after the opening sentence,
# since a later "each of them" or "each friend" could point at it. Problems about neither (a bus, a farm)
# get one of _DISTRACTORS.
_SAME_KIND = {
    "i": ("{other} has {c} {objs}.", "{other} bought {c} {objs} last week."),
    "$": ("{other} has {c} dollars.", "{other} earned {c} dollars last week."),
}
# Unneeded numbers the story itself uses (the "story" kind), the forms most of SVAMP's misses had. First, the
# subject's own count (or a later change to it) beside a question about what happened to it: a one-step + or -
# problem told again with the same two numbers and answer ("Tom has 80 marbles. He gives 12 marbles to Mei and 7
# marbles to Ben. How many marbles does Tom give away in all?"; "Tom had 30 marbles. After Mei gave him some more,
# he had 42. Then he lost 9 of them. How many marbles did Mei give Tom?"). Each: the operation, where the
# unneeded count c lies ("above": more than both numbers together, what the subject has before giving or spending
# them; "below": under the first number; "free": anywhere), the story, the question and the reason.
_CHANGE_QUESTIONS = (
    ("+", "above", "{name} has {c} {objs}. {He} gives {a} {objs} to {friend} and {b} {objs} to {other}.",
     "How many {objs} does {name} give away in all?",
     "The question asks only what {name} gives away, and the two gifts together make it, so we add."),
    ("+", "free", "{name} had {c} {objs}. {He} bought {a} more {objs} on Monday and {b} more on Tuesday.",
     "How many {objs} did {name} buy altogether?",
     "The question asks only what {name} bought, and Monday's and Tuesday's {objs} together make it, so we add."),
    ("+", "above", "{name} has {c} {objs}. {He} uses {a} of them for a school project and {b} for a poster.",
     "How many {objs} does {name} use altogether?",
     "The question asks only how many {he} uses, and the project's and the poster's together make it, so we add."),
    ("+", "above", "{name} had {c} dollars. {He} spent {a} dollars on a {thing} and {b} dollars on lunch.",
     "How many dollars did {name} spend in all?",
     "The question asks only what {name} spent, and the {thing} and lunch together make it, so we add."),
    ("-", "above", "{name} has {c} {objs}. {He} gives {a} {objs} to {friend} and {b} {objs} to {other}.",
     "How many more {objs} does {friend} get than {other}?",
     "'More ... than' asks for the difference between the two gifts, so we subtract."),
    ("-", "below", "{name} had {b} {objs}. After {friend} gave {him} some more, {he} had {a}. Then {he} lost {c} "
     "of them.", "How many {objs} did {friend} give {name}?",
     "What {friend} gave is what {name} had after it minus what {he} had before, so we subtract."),
    ("-", "free", "{name} had {a} {objs}. After giving some to {friend}, {he} had {b} left. Then {he} bought {c} "
     "more.", "How many {objs} did {name} give to {friend}?",
     "What {he} gave is what {he} had minus what was left, so we subtract."),
    ("-", "above", "{name} had {c} dollars. {He} spent {a} dollars on a {thing} and {b} dollars on lunch.",
     "How many more dollars did {name} spend on the {thing} than on lunch?",
     "'More ... than' compares the two amounts, so we subtract."),
)
# Second, a second object in the opening sentence that the story then changes, said just after it ("Tom has 12
# marbles and 30 beads. He gives 5 beads to Mei."); d is that change.
_SECOND_OBJECT_CHANGES = ("{He} gives {d} {objs2} to {other}.", "{He} loses {d} of the {objs2}.",
                          "{He} buys {d} more {objs2}.")
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
_DEFAULT_SETUP = {"i": "{name} has {a} {objs}.", "$": "{name} has {a} dollars."}
_MAX_VALUE = 2000
_TRIES_PER_ITEM = 50


def _persona(rng: random.Random) -> dict[str, Any]:
    """Names, pronouns and nouns for one problem."""
    pronouns = rng.choice((("he", "him", "his"), ("she", "her", "her")))
    names = _HE if pronouns[0] == "he" else _SHE
    name = rng.choice(names)
    friend = rng.choice([other for other in _HE + _SHE if other != name])
    obj = rng.choice(_OBJECTS)
    container, containers = rng.choice(_CONTAINERS)
    thing, things = rng.choice(_THINGS)
    he, him, his = pronouns
    return {
        "name": name, "friend": friend, "he": he, "He": he.capitalize(), "him": him, "his": his,
        "His": his.capitalize(), "obj": obj, "objs": obj + "s", "container": container,
        "containers": containers, "thing": thing, "things": things,
    }  # fmt: skip


def _multiplier_cap(template: _Template) -> int:
    """'twice / three times as many' wordings stay small; 'each holds' wordings go up to 12."""
    return 5 if "times}" in template.event + template.reason else 12


def _first_operands(rng: random.Random, template: _Template) -> tuple[int, int]:
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


def _next_operand(rng: random.Random, template: _Template, current: int) -> int | None:
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


def _chain(rng: random.Random, level: int) -> list[_Template]:
    """The templates of one problem: one for levels 1-2, a first/middle/last chain for levels 3-4."""
    if level <= 2:
        return [rng.choice(TEMPLATES[rng.choice("+-" if level == 1 else "+-*/")])]
    length = 2 if level == 3 else rng.choice((3, 4))
    domain = rng.choice("ii$")
    chain: list[_Template] = []
    for index in range(length):
        role = "f" if index == 0 else "l" if index == length - 1 else "m"
        options = {
            op: [t for t in templates if t.domain == domain and role in t.roles and t not in chain]
            for op, templates in TEMPLATES.items()
        }
        chain.append(rng.choice(options[rng.choice([op for op, found in options.items() if found])]))
    return chain


def _build(
    rng: random.Random, chain: list[_Template]
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
        times = _TIMES_WORDS.get(b, f"{b} times")
        slots.update(a=a, b=b, btimes=times, Btimes=times.capitalize())
        if index == 0:
            sentences.append((template.setup or _DEFAULT_SETUP[template.domain]).format(**slots))
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
    return rng.choice([n for n in (_SHE if slots["he"] == "he" else _HE) if n != slots["friend"]])


def _change_question(
    rng: random.Random, slots: dict[str, Any], steps: list[dict[str, Any]]
) -> tuple[list[str], str, str, list[dict[str, Any]]] | None:
    """A one-step + or - problem told again as one of _CHANGE_QUESTIONS with the same numbers and answer, the
    subject's own count (or a later change to it) unneeded: (sentences, the sentence with that count, its form,
    the steps with the new reason); None when no count fits."""
    (step,) = steps
    a, b = step["a"], step["b"]
    _, bound, story, question, why = rng.choice([form for form in _CHANGE_QUESTIONS if form[0] == step["op"]])
    near = {"above": range(a + b + 2, a + b + 61), "below": range(2, a), "free": range(2, 61)}[bound]
    counts = [c for c in near if c not in (a, b, step["result"])]
    if not counts:
        return None
    c = rng.choice(counts)
    other = rng.choice([n for n in _HE + _SHE if n not in (slots["name"], slots["friend"])])
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
    objs2 = rng.choice([obj + "s" for obj in _OBJECTS if not any(word in text for word in obj.split())])
    used = {step[k] for step in steps for k in ("a", "b", "result")}  # every number the text writes is one of them
    free = [n for n in range(2, 61) if n not in used]
    opening = _DEFAULT_SETUP.get(domain, "").format(**{**slots, "a": steps[0]["a"]})
    # "Tom has 12 marbles and 30 beads.", unless a later "them" could then mean both
    second_fits = sentences[0] == opening and " them" not in " ".join(sentences[1:])
    if kind == "story":
        if len(steps) == 1 and steps[0]["op"] in "+-" and rng.random() < 0.5:
            told = _change_question(rng, slots, steps)
            if told is not None:
                return told
        if domain == "i" and second_fits:
            c = rng.choice(free[2:])  # two free numbers under it for the change
            change = rng.choice(_SECOND_OBJECT_CHANGES).format(
                **slots, d=rng.choice([n for n in free if n < c]), objs2=objs2, other=_other_person(rng, slots))
            sentence = f"{opening[:-1]} and {c} {objs2}. {change}"
            return [sentence, *sentences[1:]], sentence, DISTRACTOR_FORMS[4], steps
        kind = "same"
    if kind == "same" and domain in _SAME_KIND:
        c = rng.choice(free)
        if second_fits and rng.random() < 0.5:
            sentence = f"{opening[:-1]} and {c} {objs2}."
            return [sentence, *sentences[1:]], sentence, DISTRACTOR_FORMS[1], steps
        other = _other_person(rng, slots)
        sentence = rng.choice(_SAME_KIND[domain]).format(**slots, other=other, c=c)
        return [sentences[0], sentence, *sentences[1:]], sentence, DISTRACTOR_FORMS[0], steps
    where, pattern = rng.choice(_DISTRACTORS)
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
