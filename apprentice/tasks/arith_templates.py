"""The wordings the ``arith`` generator fills in: data only, the logic is in :mod:`apprentice.tasks.arith`.

:data:`TEMPLATES` holds, per operation, the sentence templates of one step, each written as one spec string
``"domain:roles|setup|event|question|reason"`` (see :class:`Template`); then come the people, objects and
containers a problem is about, and the sentences of each distractor kind. Placeholders are filled from a
persona (``{name}``, ``{He}``, ``{objs}``, ...) and the step's numbers (``{a}``, ``{b}``, ``{btimes}``).
Changing any of these tables changes the problems every seed generates.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CHANGE_QUESTIONS",
    "CONTAINERS",
    "DEFAULT_SETUP",
    "DISTRACTORS",
    "HE",
    "OBJECTS",
    "SAME_KIND",
    "SECOND_OBJECT_CHANGES",
    "SHE",
    "TEMPLATES",
    "THINGS",
    "TIMES_WORDS",
    "Template",
]


@dataclass(frozen=True)
class Template:
    """One wording of one operation. ``domain``: ``i`` items, ``$`` money, ``x`` stand-alone only;
    ``roles``: where it may sit in a chain (``f`` first, ``m`` middle, ``l`` last)."""

    op: str
    domain: str
    roles: str
    setup: str
    event: str
    question: str
    reason: str


def _templates(op: str, *specs: str) -> list[Template]:
    """The templates of one operation from spec strings ``"domain:roles|setup|event|question|reason"``."""
    parsed = []
    for spec in specs:
        head, setup, event, question, reason = spec.split("|")
        domain, roles = head.split(":")
        parsed.append(Template(op, domain, roles, setup, event, question, reason))
    return parsed


_HAVE = "How many {objs} does {name} have now?"
_LEFT = "How many {objs} does {name} have left?"
_MONEY_NOW = "How many dollars does {name} have now?"
_MONEY_LEFT = "How many dollars does {name} have left?"
_MORE = "'More ... than' asks for the difference, so we subtract."
_TIMES = "'{Btimes} as many' means we multiply by {b}."

TEMPLATES: dict[str, list[Template]] = {
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

HE = ("Tom", "Kenji", "Omar", "Lucas", "Ravi", "Diego", "Mateo", "Ben", "Yusuf", "Leo")
SHE = ("Maria", "Aisha", "Lena", "Priya", "Sofia", "Chloe", "Hannah", "Nadia", "Mei", "Zoe")
OBJECTS = (
    "apple", "marble", "sticker", "pencil", "cookie", "seashell", "stamp", "bead", "balloon", "crayon",
    "orange", "eraser", "postcard", "toy car", "baseball card",
)  # fmt: skip
CONTAINERS = (("box", "boxes"), ("bag", "bags"), ("jar", "jars"), ("basket", "baskets"), ("pack", "packs"))
THINGS = (
    ("book", "books"), ("toy", "toys"), ("ticket", "tickets"), ("notebook", "notebooks"), ("kite", "kites"),
)  # fmt: skip
TIMES_WORDS = {2: "twice", 3: "three times", 4: "four times", 5: "five times"}
# Sentences with a number no step uses, about objects the problem does not mention: "any" may open the
# problem, "after" follows its first sentence or later, "last" (a second person, who could be taken for
# the subject of the next sentence's pronoun) sits just before the question.
DISTRACTORS = (
    ("any", "There are {c} {objs2} on the table."),
    ("after", "{name} also has {c} {objs2}."),
    ("after", "{name} keeps {c} {objs2} in a drawer."),
    ("last", "{friend} has {c} {objs2}."),
    ("last", "{friend} bought {c} {objs2} last week."),
)
# Unneeded numbers of the same kind as the needed ones: the problem's object or dollars held by a person of
# the other gender (the problem's pronouns still point at its subject), put in after the opening sentence,
# since a later "each of them" or "each friend" could point at it. Problems about neither (a bus, a farm)
# get one of DISTRACTORS.
SAME_KIND = {
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
CHANGE_QUESTIONS = (
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
SECOND_OBJECT_CHANGES = ("{He} gives {d} {objs2} to {other}.", "{He} loses {d} of the {objs2}.",
                         "{He} buys {d} more {objs2}.")
#: The opening sentence of a problem whose first template has no setup of its own, by domain.
DEFAULT_SETUP = {"i": "{name} has {a} {objs}.", "$": "{name} has {a} dollars."}
