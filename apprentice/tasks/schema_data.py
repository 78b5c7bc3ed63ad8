"""What the ``schema`` generator's stories are made of: wordings, names, things, verbs, units, and the small
functions that draw a cast from them and say a number; the generator is :mod:`apprentice.tasks.schema`.

:data:`TEMPLATES` holds one wording of one problem schema a line (an indented line goes on with the one before;
``#`` starts a comment), ``SCHEMA.UNKNOWN ASKS DOMAIN OPEN STATE TENSE|sentence|...|question``:

- ``SCHEMA.UNKNOWN``: the schema and which of its quantities the question asks for, as reported in the items'
  meta (``compare.referent``); ``ASKS`` is that quantity's role in the schema's relation (see ``ROLES`` in
  the generator), or ``rest`` / ``sum`` for the two-step wordings (what is left after a fraction is taken, two
  compared amounts together);
- ``DOMAIN``: ``c`` things someone has, ``p`` things at a place, ``$`` money, ``m`` lengths and distances,
  ``y`` ages, ``r`` work at a rate; it picks the cast and how numbers are written;
- ``OPEN``: the role the first sentence states about the subject alone (``-``: none): a multi-step problem
  drops that sentence and continues the story of a problem whose answer is the subject's count (``STATE`` =
  ``s``); ``TENSE``: ``n`` present, ``p`` past (a story keeps one).

``[a/b/c]`` is a choice of wordings, one drawn for each problem (every choice states the same roles). In the
placeholders, a role in lower case writes the number (``{change}``: ``12``, ``twelve``, ``$4.50``); in upper case
(``{CHANGE}``) a quantity of the problem's things or a purchase, which a multi-step problem may write as a
computation of its own ("3 packs of 6 stickers", "4 pens for $1.25 each"). The rest comes from the cast:
``{name}``, ``{He}``, ``{things}``, the verbs ``{get}/{gets}/{got}`` and ``{lose}/{loses}/{lost}``, ...
Changing any of these tables changes the problems every seed generates.
"""

from __future__ import annotations

import random
from fractions import Fraction

from apprentice.tasks.extract import format_number

__all__ = [
    "ACTIVITIES", "ADJECTIVES", "CHORES", "COLLECTIBLES", "CONTAINERS", "DISTANCE_UNITS", "DISTRACTORS", "FLAVOR",
    "FOOD", "HE", "ITEMS", "JOIN_VERBS", "LENGTH_UNITS", "MOVES", "NUMBER_WORDS", "OPENERS", "PLACES", "REASONS",
    "RELATIVES", "RELATIVES_OF_OTHER", "ROPES", "SEPARATE_VERBS", "SHE", "TEMPLATES", "VEHICLES", "cast",
    "link_slots", "say",
]

HE = ("Tom", "Kenji", "Omar", "Lucas", "Ravi", "Diego", "Mateo", "Ben", "Yusuf", "Leo", "Sam", "Jamal", "Ivan",
      "Hugo", "Arjun", "Felix", "Noah", "Kofi", "Tariq", "Marco", "Daniel", "Wei", "Pedro", "Liam", "Ethan",
      "Hiro", "Samuel", "Oscar", "Emeka", "Adam", "Jonas", "Rafael", "Malik", "Theo", "Carlos", "Finn")
SHE = ("Maria", "Aisha", "Lena", "Priya", "Sofia", "Chloe", "Hannah", "Nadia", "Mei", "Zoe", "Grace", "Fatima",
       "Elena", "Yuki", "Amara", "Rosa", "Julia", "Ines", "Olivia", "Leila", "Emma", "Ana", "Kira", "Maya",
       "Nora", "Sara", "Lucy", "Ada", "Farah", "Tess", "Ruby", "Isla", "Camila", "Hana", "Ella", "Wren")
RELATIVES = ("brother", "sister", "cousin", "neighbor", "best friend", "classmate")
#: relatives of one gender, by the pronoun of the other (a distractor's person is never "he" when the subject is)
RELATIVES_OF_OTHER = {"he": ("sister", "aunt", "grandmother"), "she": ("brother", "uncle", "grandfather")}

COLLECTIBLES = ("stickers", "marbles", "stamps", "seashells", "baseball cards", "beads", "buttons", "pebbles",
                "crayons", "pencils", "erasers", "postcards", "comic books", "keychains", "bottle caps", "feathers",
                "toy cars", "badges", "magnets", "trading cards", "bookmarks", "balloons", "paper cranes",
                "glass beads", "rubber ducks", "coins", "toy soldiers", "puzzle pieces")
FOOD = ("apples", "oranges", "cookies", "cupcakes", "muffins", "strawberries", "lemons", "peaches", "carrots",
        "eggs", "bananas", "pears", "plums", "tomatoes", "potatoes", "bagels", "cherries", "walnuts", "pretzels",
        "crackers", "donuts", "tangerines", "apricots", "mangoes")
#: (base, he-form, past) of the verbs that add to or take from someone's things, by kind of thing
JOIN_VERBS = {
    "collect": (("find", "finds", "found"), ("buy", "buys", "bought"), ("win", "wins", "won"),
                ("collect", "collects", "collected"), ("get", "gets", "got"), ("receive", "receives", "received")),
    "food": (("pick", "picks", "picked"), ("buy", "buys", "bought"), ("get", "gets", "got"),
             ("gather", "gathers", "gathered"), ("bring home", "brings home", "brought home")),
}
SEPARATE_VERBS = {
    "collect": (("give away", "gives away", "gave away"), ("lose", "loses", "lost"), ("sell", "sells", "sold"),
                ("trade away", "trades away", "traded away"), ("donate", "donates", "donated")),
    "food": (("eat", "eats", "ate"), ("give away", "gives away", "gave away"), ("sell", "sells", "sold"),
             ("use", "uses", "used"), ("drop", "drops", "dropped")),
}
CONTAINERS = (("box", "boxes"), ("bag", "bags"), ("jar", "jars"), ("pack", "packs"), ("basket", "baskets"),
              ("tin", "tins"), ("bowl", "bowls"), ("crate", "crates"), ("carton", "cartons"), ("pouch", "pouches"),
              ("tray", "trays"), ("bucket", "buckets"), ("sack", "sacks"), ("case", "cases"))
ADJECTIVES = (("red", "blue"), ("green", "yellow"), ("big", "small"), ("old", "new"), ("striped", "plain"),
              ("purple", "orange"), ("white", "black"), ("shiny", "dull"), ("round", "square"), ("pink", "brown"))
ITEMS = (("notebook", "notebooks"), ("pen", "pens"), ("book", "books"), ("sandwich", "sandwiches"),
         ("ticket", "tickets"), ("T-shirt", "T-shirts"), ("cap", "caps"), ("toy robot", "toy robots"),
         ("puzzle", "puzzles"), ("kite", "kites"), ("ball", "balls"), ("bracelet", "bracelets"), ("scarf", "scarves"),
         ("water bottle", "water bottles"), ("mug", "mugs"), ("plant", "plants"), ("lamp", "lamps"),
         ("flashlight", "flashlights"), ("umbrella", "umbrellas"), ("board game", "board games"),
         ("model airplane", "model airplanes"), ("paintbrush", "paintbrushes"), ("candle", "candles"))
CHORES = ("mowing lawns", "walking dogs", "washing cars", "babysitting", "selling lemonade", "raking leaves",
          "tutoring", "delivering newspapers", "shoveling snow", "watering plants")
ROPES = ("rope", "ribbon", "piece of string", "strip of fabric", "garden hose", "board", "roll of tape", "wire")
LENGTH_UNITS = ("meters", "feet", "yards")
DISTANCE_UNITS = ("kilometers", "miles")
MOVES = (("walk", "walks", "walked"), ("run", "runs", "ran"), ("cycle", "cycles", "cycled"),
         ("hike", "hikes", "hiked"), ("jog", "jogs", "jogged"),
         ("row", "rows", "rowed"), ("ride", "rides", "rode"), ("skate", "skates", "skated"))
VEHICLES = ("ferry", "tractor", "rowboat", "sailboat", "horse cart", "scooter", "barge", "delivery robot")
#: things, where, (arrive, arrived), (leave, left), two kinds that split them
PLACES = (("birds", "in a tree", ("land", "landed"), ("fly away", "flew away"), ("sparrows", "robins")),
          ("passengers", "on a bus", ("get on", "got on"), ("get off", "got off"), ("adults", "children")),
          ("cars", "in a parking lot", ("pull in", "pulled in"), ("drive away", "drove away"), ("red", "white")),
          ("children", "at the playground", ("arrive", "arrived"), ("go home", "went home"), ("boys", "girls")),
          ("ducks", "on the pond", ("swim over", "swam over"), ("fly off", "flew off"), ("white", "brown")),
          ("people", "at the party", ("arrive", "arrived"), ("leave", "left"), ("adults", "teenagers")),
          ("boats", "in the harbor", ("sail in", "sailed in"), ("sail out", "sailed out"),
           ("sailboats", "motorboats")),
          ("shoppers", "in the store", ("walk in", "walked in"), ("walk out", "walked out"), ("adults", "kids")),
          ("campers", "at the campsite", ("arrive", "arrived"), ("pack up and leave", "packed up and left"),
           ("adults", "kids")),
          ("swimmers", "in the pool", ("jump in", "jumped in"), ("climb out", "climbed out"),
           ("adults", "children")),
          ("squirrels", "in the park", ("run in", "ran in"), ("run off", "ran off"), ("gray", "red")),
          ("students", "in the library", ("come in", "came in"), ("leave", "left"), ("boys", "girls")),
          ("horses", "in the field", ("trot in", "trotted in"), ("wander off", "wandered off"), ("brown", "white")))
#: (act, acts, acted, what, unit of time, units): work done at a steady rate
ACTIVITIES = (("read", "reads", "read", "pages", "day", "days"), ("plant", "plants", "planted", "flowers", "day",
              "days"), ("fold", "folds", "folded", "paper cranes", "hour", "hours"), ("swim", "swims", "swam", "laps",
              "day", "days"), ("bake", "bakes", "baked", "cookies", "hour", "hours"), ("pack", "packs", "packed",
              "boxes", "hour", "hours"), ("knit", "knits", "knitted", "scarves", "week", "weeks"), ("write", "writes",
              "wrote", "letters", "day", "days"), ("paint", "paints", "painted", "pictures", "week", "weeks"),
              ("pick", "picks", "picked", "apples", "hour", "hours"), ("sell", "sells", "sold", "tickets", "day",
              "days"), ("make", "makes", "made", "bracelets", "day", "days"), ("answer", "answers", "answered",
              "questions", "minute", "minutes"), ("type", "types", "typed", "pages", "hour", "hours"))
#: the words for small whole numbers; only those the dataset teacher's replay reads as numbers
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
                10: "ten", 11: "eleven", 12: "twelve"}

#: sentences with no number that may open a story, by domain ("*": any)
FLAVOR = {
    "*": ("It is a sunny Saturday.", "School is out for the week.", "It has been a busy week for {name}.",
          "{name} and {friend} are neighbors.", "This happened during the summer holidays."),
    "c": ("{name} keeps {his} {things} in a drawer.", "{name} is very fond of {things}."),
    "$": ("{name} is careful with money.", "{name} goes to the mall after school."),
    "p": ("It is a quiet morning.", "{name} is watching from a bench."),
    "m": ("{name} keeps a notebook of everything {he} measures.",),
    "r": ("{name} likes to keep busy.",),
    "y": ("{name}'s family is having a reunion.",),
}
#: a phrase put before a story's first sentence now and then, by tense
OPENERS = {"n": ("On Monday, ", "Today, ", "This morning, ", "After school, ", "At the fair, "),
           "p": ("Last weekend, ", "Yesterday, ", "On Monday, ", "After school, ", "At the fair, ")}
#: sentences with one number ({c}) that answers nothing: (same kind as the problem's quantities?, wording)
DISTRACTORS = {
    "c": ((True, "{other} has {c} {things}."), (True, "{name}'s {relative2} owns {c} {things}."),
          (False, "{name} also has {c} {things2}."), (False, "{name}'s {relative2} has {c} {things2}.")),
    "$": ((True, "{other} has {c} in a piggy bank."), (True, "{name}'s {relative2} spent {c} on lunch."),
          (False, "{name} also has {c2} {things2}."), (False, "The store is {c2} blocks from {name}'s home.")),
    "m": ((True, "{other}'s {rope} is {c} {lunit} long."), (False, "{name} has {c2} {things2}."),
          (True, "Last year {other} {moved} {c} {dunit} in one day.")),
    "p": ((False, "There are also {c} {things2} nearby."), (False, "{name} counts {c} {things2} on the way.")),
    "y": ((True, "{other} is {c} years old."), (False, "{name} has {c} {things2}.")),
    "r": ((True, "{other} {acts} {c} {noun} every {tunit}."), (False, "{name} has {c} {things2}.")),
}

# ---------------------------------------------------------------------------- drawing a cast and saying numbers


def say(rng: random.Random, value: Fraction, domain: str, words: float, noun: bool = False) -> str:
    """A number as the story writes it: ``$4.50``, ``2.5``, ``12``, or now and then ``twelve`` / ``a dozen``."""
    if domain == "$":
        return f"${value.numerator}" if value.denominator == 1 else f"${float(value):.2f}"
    if value.denominator != 1:
        return format_number(value)
    if int(value) in NUMBER_WORDS and rng.random() < words:
        return "a dozen" if value == 12 and noun and rng.random() < 0.5 else NUMBER_WORDS[int(value)]
    return str(value.numerator)


def cast(rng: random.Random, domain: str) -> dict[str, str]:
    """Who and what one problem is about (the slots every link of its story shares)."""
    he = rng.random() < 0.5
    name = rng.choice(HE if he else SHE)
    friend = rng.choice([n for n in HE + SHE if n != name])
    other = rng.choice([n for n in (SHE if he else HE) if n != friend])
    kind = rng.choice(("collect", "food"))
    things = rng.choice(COLLECTIBLES if kind == "collect" else FOOD)
    place = rng.choice(PLACES)
    act = rng.choice(ACTIVITIES)
    move = rng.choice(MOVES)
    slots = {
        "name": name, "friend": friend, "other": other, "kind": kind, "relative": rng.choice(RELATIVES),
        "relative2": rng.choice(RELATIVES_OF_OTHER["he" if he else "she"]),
        "he": "he" if he else "she", "him": "him" if he else "her", "his": "his" if he else "her",
        "things": things, "things2": rng.choice([t for t in COLLECTIBLES + FOOD if t != things]),
        "rope": rng.choice(ROPES), "lunit": rng.choice(LENGTH_UNITS), "vehicle": rng.choice(VEHICLES),
        "dunit": rng.choice(DISTANCE_UNITS), "move": move[0], "moves": move[1], "moved": move[2],
        "act": act[0], "acts": act[1], "acted": act[2], "noun": act[3], "tunit": act[4], "tunits": act[5],
        "a_tunit": ("an " if act[4] == "hour" else "a ") + act[4], "colors": "yes",
    }  # fmt: skip
    if domain == "p":
        things2 = rng.choice([p[0] for p in PLACES if p[0] != place[0]])
        slots.update(things=place[0], things2=things2, place=place[1], arrive=place[2][0], arrived=place[2][1],
                     leave=place[3][0], left=place[3][1], kind1=place[4][0], kind2=place[4][1],
                     the_place=place[1].replace(" a ", " the "))
    slots.update(He=slots["he"].capitalize(), His=slots["his"].capitalize())
    return slots


def link_slots(rng: random.Random, shared: dict[str, str]) -> dict[str, str]:
    """The slots each link of a story draws anew: verbs, containers, colors, items, chores."""
    get, lose = rng.choice(JOIN_VERBS[shared["kind"]]), rng.choice(SEPARATE_VERBS[shared["kind"]])
    (box, boxes), (adj1, adj2) = rng.choice(CONTAINERS), rng.sample(rng.choice(ADJECTIVES), 2)
    (item, items), (item2, items2) = rng.sample(ITEMS, 2)
    return {"get": get[0], "gets": get[1], "got": get[2], "lose": lose[0], "loses": lose[1], "lost": lose[2],
            "box": box, "boxes": boxes, "adj1": adj1, "adj2": adj2, "item": item, "items": items, "item2": item2,
            "items2": items2, "a_item": _a(item), "a_item2": _a(item2), "chore": rng.choice(CHORES)}


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


#: why each step's operation is the one, by (schema, role asked); composites by their kind
REASONS = {
    ("join", "result"): "Getting more adds to what there was, so we add.",
    ("join", "change"): "What was added is the new amount minus the amount before, so we subtract.",
    ("join", "start"): "The amount before is the new amount minus what was added, so we subtract.",
    ("separate", "result"): "Taking some away leaves less, so we subtract.",
    ("separate", "change"): "What was taken away is the amount before minus what is left, so we subtract.",
    ("separate", "start"): "The amount before is what is left plus what was taken away, so we add.",
    ("combine", "whole"): "The two parts together make the whole, so we add.",
    ("combine", "part2"): "The other part is the whole minus the part we know, so we subtract.",
    ("compare", "diff"): "The difference is the larger amount minus the smaller one, so we subtract.",
    ("compare", "big"): "The larger amount is the smaller one plus the difference, so we add.",
    ("compare", "small"): "The smaller amount is the larger one minus the difference, so we subtract.",
    ("groups", "total"): "Equal groups: the number of groups times the number in each, so we multiply.",
    ("groups", "per"): "Sharing equally: the total divided by the number of groups, so we divide.",
    ("groups", "n"): "The number of groups is the total divided by the size of one group, so we divide.",
    ("rate", "total"): "At a steady rate the total is the rate times how many, so we multiply.",
    ("rate", "per"): "The rate is the total divided by how many, so we divide.",
    ("rate", "n"): "How many is the total divided by the rate, so we divide.",
    ("times", "big"): "'{ktimes} as many' means {k} times the other amount, so we multiply.",
    ("times", "small"): "The larger amount is {k} times the smaller, so the smaller is it divided by {k}.",
    ("times", "k"): "How many times as many is the larger amount divided by the smaller, so we divide.",
    ("fraction", "part"): "{Frac} of an amount is the amount divided by {k}, so we divide.",
    ("fraction", "whole"): "The part is {frac} of the whole, so the whole is {k} times the part.",
    ("fraction", "rest"): "What is left is the whole minus the part taken, so we subtract.",
    ("compare", "sum"): "Both amounts together make the total, so we add.",
    ("times", "sum"): "Both amounts together make the total, so we add.",
    ("np", "groups"): "{n} {boxes} of {per} is {n} times {per}, so we multiply.",
    ("np", "dozen"): "A dozen is 12, so {n} dozen is {n} times 12.",
    ("np", "colors"): "The {adj1} and the {adj2} ones together make them all, so we add.",
    ("np", "buy"): "{n} {items} at {per} each cost {n} times {per}, so we multiply.",
}

TEMPLATES = """
# join: start + change = result
join.result result c start s n|{name} [has/keeps/has collected] {START}.|[Then /Today /Later /After lunch, ]{he} {gets}
    {change} more.|[How many {things} does {name} have now/How many {things} does {name} have in total now/What is the
    number of {things} {name} has now]?
join.result result c start s p|{name} had {START}.|[Then/Later that day/The next day] {he} {got} {CHANGE}.|How many
    {things} did {name} have [after that/then/at the end of the day]?
join.result result c - s n|{name} {gets} {CHANGE} today.|[{He} already had {START}/Before that, {he} had {START}].|How
    many {things} does {he} have now?
join.change change c start - p|{name} had {START}.|{friend} gave {him} some more[, and then/. After that,] {name} had
    {result} {things}.|[How many {things} did {friend} give {name}/How many {things} did {name} get from {friend}]?
join.change change c start - n|{name} has {START}.|{He} [wants to have/is trying to collect/hopes to have] {result}
    {things}.|[How many more {things} does {he} need to {get}/How many more {things} does {he} need]?
join.change change c start - p|{name} had {START}.|After {he} {got} some more, {he} had {result}.|How many {things} did
    {he} {get}?
join.start start c - - p|{name} {got} {CHANGE}.|[Now {he} has/After that {he} had/Then {he} had] {result} {things}.|How
    many {things} did {he} have [before/at first/before that]?
join.start start c - - p|After {friend} gave {him} {CHANGE}, {name} had {result} {things}.|How many {things} did {name}
    have [at first/to start with/before that]?
join.start start c - - n|{name} has some {things}[/ in a box/ in {his} backpack].|{He} {gets} {change} more, and now
    {he} has {result}.|How many {things} did {he} start with?
join.result result $ start s n|{name} [has saved/has/has put aside] {start}.|{He} earns {change} more by {chore}.|[How
    much money does {he} have now/How much has {he} saved now/How much money does {he} have in all now]?
join.start start $ - - p|{name} earned {change} {chore} [and then had {result}/and ended up with {result}/. After that,
    {he} had {result}].|How much money did {he} have before that?
join.change change $ start - n|{name} has {start}.|{He} [wants to buy/is saving for] {a_item} that costs {result}.|[How
    much more money does {he} need/How much more does {he} need to save]?
join.result result p start s n|[There are {start} {things} {place}/{start} {things} are {place}].|[{change} more
    {things} {arrive}/Then {change} more {arrive}].|[How many {things} are {the_place} now/How many {things} are there
    now]?
join.change change p start - p|There were {start} {things} {place}.|[After some more {arrived}, there were
    {result}/Some more {arrived}, and then there were {result}].|How many {things} {arrived}?
join.start start p - - p|Some {things} were {place}.|Then {change} more {arrived}, and there were {result}.|How many
    {things} were {the_place} at first?
join.change change r start - p|{name} {acted} {start} {noun} this month.|[{His} goal was/{He} wanted to reach] {result}
    {noun}.|How many more {noun} did {he} need to {act}?
join.result result m start - p|{name} {moved} {start} {dunit} on Saturday.|On Sunday {he} {moved} {change} {dunit}.|How
    far did {he} {move} over the weekend?
join.start start y - - n|[In {change} years, {name} will be {result} years old/{name} will be {result} years old in
    {change} years].|How old is {name} now?
join.result result y - - n|{name} is {start} years old.|How old will {he} be in {change} years?
# separate: start - change = result
separate.result result c start s n|{name} has {START}.|[{He} {loses} {CHANGE}/Then {he} {loses} {CHANGE}/Later, {he}
    {loses} {CHANGE}].|[How many {things} does {he} have left/How many {things} are left/How many {things} does {name}
    still have]?
separate.result result c start s p|{name} had {START}.|[{He} {lost} {change} of them/Then {he} {lost} {change} of
    them].|[How many {things} did {name} have left/How many {things} were left]?
separate.result result c - s p|{name} {lost} {change} of {his} {start} {things}.|[How many {things} did {he} still
    have/How many {things} did {he} have left]?
separate.change change c start - p|{name} had {START}.|[{He} {lost} some of them and had {result} left/After {he}
    {lost} some of them, {he} had {result} left/{He} {lost} some of them. {He} had {result} left].|[How many {things}
    did {he} {lose}/How many did {he} {lose}]?
separate.change change c - - n|{name} {loses} some of {his} {start} {things}.|Now {he} has {result} {things}.|How many
    {things} does {he} {lose}?
separate.start start c - - p|{name} {lost} {CHANGE}.|[{He} had {result} {things} left/Then {he} had only {result}
    {things}/{He} was left with {result} {things}].|How many {things} did {he} have [at first/to begin with/before
    that]?
separate.start start c - - p|After {he} {lost} {change} of {his} {things}, {name} had {result} left.|How many {things}
    did {name} have to begin with?
separate.result result $ start s n|{name} has {start}.|[{He} buys/At the store, {he} buys/Then {he} buys]
    {CHANGE}.|[How much money does {he} have left/How much money is left/How much does {he} have left]?
separate.result result $ start s p|{name} had {start} [in {his} wallet/in {his} pocket/saved up].|{He} spent {change}
    on {a_item}.|How much money did {he} have left?
separate.change change $ start - p|{name} had {start}.|[After buying {a_item}, {he} had {result} left/{He} bought
    {a_item} and had {result} left].|[How much did the {item} cost/What was the price of the {item}]?
separate.start start $ - - p|{name} bought {CHANGE} and had {result} left.|How much money did {he} have before
    shopping?
separate.result result m - - n|A {rope} is {start} {lunit} long.|{name} [cuts off/cuts/uses] {change} {lunit}.|[How
    long is the {rope} now/How much of the {rope} is left]?
separate.change change m - - p|A {rope} was {start} {lunit} long.|After {name} cut a piece off, it was {result} {lunit}
    long.|How long was the piece {he} cut off?
separate.result result p start s p|There were {start} {things} {place}.|{change} of them {left}.|How many {things} were
    still {the_place}?
separate.change change p start - n|There are {start} {things} {place}.|Some of them {leave}, and {result} are still
    there.|How many {things} {leave}?
separate.start start p - - p|After {change} {things} {left}, there were still {result} {things} {place}.|How many
    {things} were {the_place} to begin with?
# combine: part1 + part2 = whole
combine.whole whole c - s n|{name} has {part1} {adj1} {things} and {part2} {adj2} {things}.|How many {things} does {he}
    have [in all/altogether/in total]?
combine.whole whole c part1 - n|{name} has {PART1}.|{friend} has {PART2}.|How many {things} do they have
    [together/altogether/in all]?
combine.whole whole c - - p|There were {part1} {adj1} {things} and {part2} {adj2} {things} in {name}'s {box}.|How many
    {things} were in the {box} altogether?
combine.part part2 c whole - n|{name} has {WHOLE}.|{part1} of them are {adj1}.|[How many of {his} {things} are not
    {adj1}/How many are not {adj1}]?
combine.part part2 c - - n|{name} has {whole} {things} in all.|{part1} of them are {adj1} and the rest are {adj2}.|How
    many {adj2} {things} does {he} have?
combine.part part2 c - - p|{name} and {friend} had {whole} {things} together.|{friend} had {part1} of them.|How many
    {things} did {name} have?
combine.whole whole $ - - p|{name} bought {a_item} for {part1} and {a_item2} for {part2}.|How much did {he} spend [in
    all/altogether]?
combine.part part2 $ - - p|{name} spent {whole} on {a_item} and {a_item2}.|The {item} cost {part1}.|How much did the
    {item2} cost?
combine.whole whole m - - p|{name} {moved} {part1} {dunit} in the morning and {part2} {dunit} in the afternoon.|How far
    did {he} {move} [in all/that day]?
combine.part part2 p - - n|There are {whole} {things} {place}.|{part1} of them are {kind1}, and the rest are
    {kind2}.|How many of the {things} are {kind2}?
# compare: small + diff = big
compare.difference diff c big - n|{name} has {BIG}.|{friend} has {small} {things}.|[How many more {things} does {name}
    have than {friend}/How many {things} does {friend} need to get to have as many as {name}]?
compare.difference diff c small - n|{name} has {SMALL}.|{friend} has {big} {things}.|[How many fewer {things} does
    {name} have than {friend}/How many more {things} does {name} need to have as many as {friend}]?
compare.difference diff c - - p|{friend} {got} {big} {things} and {name} {got} {small}.|How many more {things} did
    {friend} {get} than {name}?
compare.compared big c small - n|{name} has {SMALL}.|[{friend} has {diff} more {things} than {name}/{friend} has {diff}
    {things} more than {name}].|How many {things} does {friend} have?
compare.compared small c big - p|{name} had {BIG}.|[{friend} had {diff} fewer {things} than {name}/{friend} had {diff}
    less than {name}].|How many {things} did {friend} have?
compare.referent small c - - n|[{friend} has {diff} more {things} than {name}/{friend} has {diff} {things} more than
    {name}].|{friend} has {big} {things}.|How many {things} does {name} have?
compare.referent big c - - p|{friend} had {diff} fewer {things} than {name}.|{friend} had {small} {things}.|How many
    {things} did {name} have?
compare.referent small c - - n|{name} has {big} {things}, which is {diff} more than {friend} has.|How many {things} does
    {friend} have?
compare.referent big c - - p|{friend} {got} {small} {things}. That was {diff} fewer than {name} {got}.|How many {things}
    did {name} {get}?
compare.difference diff $ - - n|{a_item} costs {big} and {a_item2} costs {small}.|[How much more does the {item} cost
    than the {item2}/How much cheaper is the {item2} than the {item}]?
compare.referent small $ - - n|{a_item} costs {diff} more than {a_item2}.|The {item} costs {big}.|How much does the
    {item2} cost?
compare.compared big $ - - n|{a_item2} costs {small}.|{a_item} costs {diff} more than the {item2}.|How much does the
    {item} cost?
compare.difference diff m - - n|{name}'s {rope} is {big} {lunit} long, and {friend}'s is {small} {lunit} long.|How much
    longer is {name}'s {rope}?
compare.difference diff r big - p|{name} {acted} {big} {noun}.|{friend} {acted} {small} {noun}.|How many more {noun} did
    {name} {act} than {friend}?
compare.difference diff y - - n|{name} is {big} years old, and {his} {relative} is {small}.|How many years older is
    {name} than {his} {relative}?
compare.compared big y - - n|{name} is {small} years old.|{His} {relative} is {diff} years older.|How old is {his}
    {relative}?
compare.compared small y - - n|{name} is {big} years old.|{His} {relative} is {diff} years younger.|How old is {his}
    {relative}?
compare.referent small y - - n|{name} is {diff} years older than {friend}.|{name} is {big}.|How old is {friend}?
compare.referent big y - - p|{friend} was {diff} years younger than {name}.|{friend} was {small}.|How old was {name}?
compare.sum sum c small - n|{name} has {SMALL}.|{friend} has {diff} more {things} than {name}.|How many {things} do they
    have together?
compare.sum sum c big - p|{name} had {BIG}.|{friend} had {diff} fewer {things}.|How many {things} did they have in all?
# equal groups: n groups of per = total
groups.product total c - s n|{name} has {n} {boxes} of {things}.|Each {box} [holds/has/contains] {per} {things}.|How
    many {things} does {name} have?
groups.product total c - s p|{name} filled {n} {boxes} with {per} {things} each.|How many {things} did {he} put in the
    {boxes}?
groups.product total c - - n|There are {n} {boxes} on the table, and each one has {per} {things} in it.|How many
    {things} are in the {boxes} altogether?
groups.partitive per c total - n|{name} has {TOTAL}.|[{He} puts them into {n} {boxes}, the same number in each/{He}
    shares them equally among {n} {boxes}/{He} splits them evenly into {n} {boxes}].|How many {things} [are in each
    {box}/go in each {box}/does each {box} get]?
groups.partitive per c - - p|{name} shared {total} {things} equally among {n} friends.|How many {things} did each friend
    get?
groups.quotitive n c total - n|{name} has {TOTAL}.|[{He} packs them into {boxes} of {per}/{He} puts {per} of them in
    each {box}].|How many {boxes} [can {he} fill/does {he} need]?
groups.quotitive n c - - p|{name} gave {per} {things} to each of {his} friends and gave away {total} {things} in
    all.|How many friends got {things}?
groups.partitive per $ - - n|{n} friends share a bill of {total} equally.|How much does each friend pay?
groups.partitive per m - - p|{name} cut a {rope} that was {total} {lunit} long into {n} equal pieces.|How long was each
    piece?
# rates: n units at per each = total (per unit, unit price, speed)
rate.total total r - - n|[{name} {acts} {per} {noun} every {tunit}/Every {tunit}, {name} {acts} {per} {noun}].|How many
    {noun} does {he} {act} [in/over] {n} {tunits}?
rate.total total r - s p|{name} {acted} {per} {noun} {a_tunit} for {n} {tunits}.|How many {noun} did {he} {act} in all?
rate.rate per r - - p|{name} {acted} {total} {noun} in {n} {tunits}, the same number each {tunit}.|How many {noun} did
    {he} {act} each {tunit}?
rate.units n r - - n|{name} {acts} {per} {noun} {a_tunit}.|How many {tunits} will it take {him} to {act} {total} {noun}?
rate.total total $ - - n|[One {item} costs {per}/{a_item} costs {per}/The price of one {item} is {per}].|[How much do
    {n} {items} cost/How much does it cost to buy {n} {items}]?
rate.rate per $ - - p|{name} paid {total} for {n} {items}.|[How much did each {item} cost/What was the price of one
    {item}]?
rate.units n $ - - p|{items} cost {per} each.|{name} spent {total} on {items}.|How many {items} did {he} buy?
rate.total total $ - s p|{name} earned {per} an hour {chore}.|Last week {he} worked for {n} hours.|How much did {he}
    earn last week?
rate.units n $ - - n|{name} earns {per} an hour {chore}.|{He} wants to earn {total}.|How many hours does {he} need to
    work?
rate.total total m - s p|{name} {moved} at {per} {dunit} [an hour/per hour] for {n} hours.|How far did {he} {move}?
rate.rate per m - - p|{name} {moved} {total} {dunit} in {n} hours at a steady speed.|How many {dunit} did {he} {move}
    each hour?
rate.units n m - - n|A {vehicle} travels {per} {dunit} an hour.|How many hours does it take to travel {total} {dunit}?
# multiplicative compare: k times small = big
times.larger big c small - n|{name} has {SMALL}.|{friend} has {ktimes} as many {things} as {name}.|How many {things}
    does {friend} have?
times.larger big c - - p|{friend} {got} {small} {things}.|{name} {got} {ktimes} as many.|How many {things} did {name}
    {get}?
times.smaller small c - - n|{friend} has {ktimes} as many {things} as {name}.|{friend} has {big} {things}.|How many
    {things} does {name} have?
times.smaller small c - - n|{name} has {big} {things}, which is {ktimes} as many as {friend} has.|How many {things} does
    {friend} have?
times.factor k c - - p|{name} {got} {big} {things} and {friend} {got} {small}.|How many times as many {things} did
    {name} {get} as {friend}?
times.larger big $ - - n|{a_item2} costs {small}.|{a_item} costs {ktimes} as much.|How much does the {item} cost?
times.sum sum c small - n|{name} has {SMALL}.|{friend} has {ktimes} as many.|How many {things} do {name} and {friend}
    have altogether?
# fractions of an amount: k parts of part = whole
fraction.part part c whole - n|{name} has {WHOLE}.|{He} {loses} {frac} of them.|How many {things} does {he} {lose}?
fraction.part part c - - p|{frac} of the {whole} {things} in {name}'s {box} were {adj1}.|How many {adj1} {things} were
    in the {box}?
fraction.whole whole c - - n|{name} has {part} {things}, which is {frac} as many as {friend} has.|How many {things} does
    {friend} have?
fraction.whole whole c - - p|{frac} of {name}'s {things} were {adj1}, and {he} had {part} {adj1} {things}.|How many
    {things} did {name} have in all?
fraction.part part $ whole - n|{name} has {whole}.|{He} spends {frac} of it on {a_item}.|How much does the {item} cost?
fraction.rest rest c whole s n|{name} has {WHOLE}.|{He} {loses} {frac} of them.|How many {things} does {he} have left?
fraction.rest rest c whole s p|{name} had {WHOLE}.|{He} {lost} {frac} of them.|How many {things} did {he} still have
    after that?
fraction.rest rest $ whole s n|{name} has {whole}.|{He} spends {frac} of it on {a_item}.|How much money does {he} have
    left?
"""
