"""Each strategy's settings as a typed dataclass, as TRL types its trainers' (``trl/trainer/sft_config.py``):
one field per option, with its default and, in ``metadata``, its help, choices and least value.

``--option KEY=VALUE`` reaches a run as a dict of raw values; :meth:`StrategyConfig.from_options` turns it
into the strategy's config (strings converted to the field types) and the config checks itself on
construction. An option several strategies take is declared once, on the base class they share; a
strategy with another default redeclares only the default (:func:`_default`). This module imports no
graph code, so help text can be built from it cheaply.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints

from apprentice.errors import ApprenticeError

__all__ = ["OptionError", "StrategyConfig", "SamplingConfig", "FewShotConfig", "CheckConfig", "VoteConfig",
           "IOConfig", "CoTConfig", "CoTSCConfig", "ReactConfig", "ReactSCConfig", "ToTConfig", "VerifyConfig",
           "LATSConfig", "VERIFIERS", "INNER", "REVISE_MODES", "TOT_METHODS", "VALUE_METHODS", "SWITCH", "DECIDE_MODES"]

VERIFIERS = ("rules", "judge", "cove")
INNER = ("cot", "io", "react")
REVISE_MODES = ("feedback", "resample")
TOT_METHODS = ("bfs", "dfs")
VALUE_METHODS = ("llm", "rules", "both")
SWITCH = ("on", "off")
DECIDE_MODES = ("self", "ask", "listed")


class OptionError(ApprenticeError):
    """An option a strategy does not take (``unknown``), or a value it cannot use.

    ``option`` is the name, ``given`` how it was given (``samples=-3``), ``reason`` what is wrong; the
    registry adds the strategy and the options it takes to make the one line a user sees.
    """

    def __init__(self, option: str, given: str, reason: str = "", *, unknown: bool = False) -> None:
        self.option, self.given, self.reason, self.unknown = option, given, reason, unknown
        super().__init__(f"{'unknown' if unknown else 'invalid'} option {given}" + (f": {reason}" if reason else ""))


def option(default: Any, help: str, *, choices: tuple[str, ...] | None = None, minimum: float | None = None,
           maximum: float | None = None, shown: str | None = None, noun: str | None = None) -> Any:
    """A config field: its default, and the metadata that help, error lines and checks read.

    ``shown`` says what a ``None`` default means (``"the model's"``); ``noun`` names a choice in errors
    (``unknown revise mode 'x'``).
    """
    metadata = {"help": help, "choices": choices, "minimum": minimum, "maximum": maximum, "shown": shown,
                "noun": noun}
    return field(default=default, metadata={k: v for k, v in metadata.items() if v is not None})


def _default(base: type, name: str, default: Any, *, shown: str | None = None, help: str | None = None) -> Any:
    """Option ``name`` of ``base`` with this strategy's own default (and what it means, or its own help)."""
    metadata = dict(base.__dataclass_fields__[name].metadata)
    metadata.pop("shown", None)
    metadata.update({k: v for k, v in (("shown", shown), ("help", help)) if v is not None})
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class StrategyConfig:
    """Options every strategy takes."""

    max_tokens: int | None = option(None, "tokens per model call", minimum=1, shown="the model's")
    seed: int | None = option(None, "seed of the model calls; each sample, resample or proposal adds its number",
                              minimum=0, shown="none")
    recursion_limit: int | None = option(None, "LangGraph's limit on graph steps in one run", minimum=1,
                                         shown="8 x max steps + 50, at least 200")

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            checked = _check(f.name, value, _kind(hints[f.name]), f.metadata)
            if checked is not value:
                object.__setattr__(self, f.name, checked)  # an int given for a float field

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> StrategyConfig:
        """The config from raw options (``None`` values stand for the default; strings, as ``--option``
        gives them, are converted to the field's type).

        Raises:
            OptionError: a name this config does not have, or a value it cannot hold.
        """
        known = {f.name for f in fields(cls)}
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for name, raw in (options or {}).items():
            if raw is None:
                continue
            if name not in known:
                raise OptionError(name, repr(name), unknown=True)
            values[name] = _convert(name, raw, _kind(hints[name]))
        return cls(**values)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The options this config takes, the strategy's own first and the ones every strategy takes last."""
        return tuple(_ordered(cls))

    @classmethod
    def describe(cls) -> str:
        """Every option as ``name (type, default)``: ``samples (int >= 1, default 5), ...``."""
        by_name = {f.name: f for f in fields(cls)}
        hints = _hints(cls)
        return ", ".join(f"{name} ({_summary(by_name[name], _kind(hints[name]))})" for name in cls.option_names())

    @classmethod
    def option_spec(cls, name: str) -> tuple[type, Mapping[str, Any], str]:
        """Option ``name``'s type (``int`` for ``int | None``), its metadata, and its default as words."""
        f = next(f for f in fields(cls) if f.name == name)
        return _kind(_hints(cls)[name]), f.metadata, _default_text(f)


@dataclass(frozen=True)
class SamplingConfig(StrategyConfig):
    """Strategies whose model calls take a sampling temperature."""

    temperature: float | None = option(None, "sampling temperature", minimum=0.0, shown="the model's")


@dataclass(frozen=True)
class FewShotConfig(SamplingConfig):
    """Strategies that prompt the solver with worked examples (io, cot and those built on them)."""

    fewshot: int = option(2, "few-shot examples, the task's most similar to the question; 0 is zero-shot", minimum=0)
    temperature: float | None = _default(SamplingConfig, "temperature", 0.0)
    max_tokens: int | None = _default(StrategyConfig, "max_tokens", 256)


@dataclass(frozen=True)
class CheckConfig(StrategyConfig):
    """Strategies that can check an answer with a verifier."""

    verifier: str | None = option(None, "weigh each sample's vote by this verifier's verdict", choices=VERIFIERS,
                                  shown="none, a plain majority vote", noun="verifier")
    questions: int = option(3, "verification questions of the cove verifier", minimum=1)


@dataclass(frozen=True)
class VoteConfig(SamplingConfig, CheckConfig):
    """Self-consistency: n samples at a temperature, each seeded by its number, and a (weighted) vote."""

    samples: int = option(5, "sampled answers that vote", minimum=1)
    temperature: float | None = _default(SamplingConfig, "temperature", 0.7)
    seed: int | None = _default(StrategyConfig, "seed", None, shown="0")


@dataclass(frozen=True)
class IOConfig(FewShotConfig):
    """io: the answer alone (examples show only their final answer)."""

    max_tokens: int | None = _default(StrategyConfig, "max_tokens", 64)


@dataclass(frozen=True)
class CoTConfig(FewShotConfig):
    """cot: chain of thought, zero- or few-shot."""


@dataclass(frozen=True)
class CoTSCConfig(VoteConfig, FewShotConfig):
    """cot-sc: self-consistency over sampled chains of thought."""

    max_tokens: int | None = _default(StrategyConfig, "max_tokens", 256)  # VoteConfig's would win (MRO)


@dataclass(frozen=True)
class ReactConfig(SamplingConfig):
    """react: reason and act with tools (its step limit is ``--max-steps``)."""

    decide: str = option("self", "after a calculator result while question numbers are unused: the model's step "
                         "decides whether to go on (self), the harness asks the model whether one is still needed "
                         "(ask) or goes on while any is (listed); on go on the next step must call a tool (text "
                         "protocol, a model that takes a grammar)", choices=DECIDE_MODES, noun="decide mode")
    go_on_at: float | None = option(None, "with decide=ask: go on where the model's probability of yes is at least "
                                    "this (a model that gives token scores: llama.cpp)", minimum=0.0, maximum=1.0,
                                    shown="its greedy yes or no")


@dataclass(frozen=True)
class ReactSCConfig(VoteConfig):
    """react-sc: self-consistency over sampled ReAct runs."""


@dataclass(frozen=True)
class ToTConfig(StrategyConfig):
    """tot: Tree-of-Thought search."""

    method: str = option("bfs", "breadth-first beam or depth-first with backtracking", choices=TOT_METHODS,
                         noun="search method")
    breadth: int = option(2, "states bfs keeps per level", minimum=1)
    proposals: int = option(4, "next steps proposed per state", minimum=1)
    depth: int = option(3, "search depth", minimum=1)
    values_per_state: int = option(1, "LLM value samples averaged per state", minimum=1)
    value: str | None = option(None, "how states are valued", choices=VALUE_METHODS,
                               shown="both where the task has rules, else llm", noun="value method")
    threshold: float = option(0.5, "the least value dfs explores", minimum=0.0)
    max_expansions: int = option(12, "expansion budget of dfs", minimum=1)
    max_tokens: int | None = _default(StrategyConfig, "max_tokens", 128)
    seed: int | None = _default(StrategyConfig, "seed", None, shown="0")


@dataclass(frozen=True)
class VerifyConfig(CheckConfig, FewShotConfig):
    """verify: draft, check, revise."""

    inner: str = option("cot", "strategy of the drafts", choices=INNER, noun="inner strategy")
    revise: str | None = option(None, "rewrite a rejected draft from the feedback, or sample a new one",
                                choices=REVISE_MODES, shown="resample for inner react, else feedback",
                                noun="revise mode")
    rounds: int | None = option(None, "revisions at most", minimum=0, shown="2 for feedback, 4 for resample")
    verifier: str | None = _default(CheckConfig, "verifier", None, shown="rules with a task, else judge",
                                    help="how a draft is checked")
    temperature: float | None = _default(SamplingConfig, "temperature", None,
                                         shown="0 for drafts, 0.7 for resamples")
    max_tokens: int | None = _default(StrategyConfig, "max_tokens", None, shown="256, the model's for ReAct drafts")
    seed: int | None = _default(StrategyConfig, "seed", None, shown="0")


@dataclass(frozen=True)
class LATSConfig(SamplingConfig, CheckConfig):
    """lats: Monte-Carlo tree search over ReAct steps (Zhou et al., 2023)."""

    max_expansions: int = option(8, "expansions at most; each samples `children` steps, then rolls one out",
                                 minimum=1)
    children: int = option(3, "ReAct steps sampled per expansion", minimum=1)
    depth: int = option(5, "steps in a trajectory at most; a step at this depth must answer", minimum=1)
    exploration: float = option(1.0, "UCT's exploration constant c", minimum=0.0)
    value: str | None = option(None, "llm: the evaluator values steps and answers; rules: the verifier scores "
                               "answers, steps get no model call; both: the evaluator values steps, the "
                               "verifier scores answers", choices=VALUE_METHODS,
                               shown="both where there is a verifier, else llm", noun="value method")
    reflect: str = option("on", "after a failed answer, reflect on it and show the lesson to later steps",
                          choices=SWITCH, noun="switch")
    max_calls: int | None = option(None, "model calls at most; no new work starts once they are spent",
                                   minimum=1, shown="no cap but max_expansions")
    verifier: str | None = _default(CheckConfig, "verifier", None, shown="rules with a task, else none",
                                    help="how a final answer is scored (its reward)")
    temperature: float | None = _default(SamplingConfig, "temperature", 0.7)
    seed: int | None = _default(StrategyConfig, "seed", None, shown="0")
    recursion_limit: int | None = _default(StrategyConfig, "recursion_limit", None,
                                           shown="7 x max_expansions + 50, at least 200")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.recursion_limit is None:  # about 7 graph steps an expansion; the runner's default is 200
            object.__setattr__(self, "recursion_limit", max(200, 7 * self.max_expansions + 50))


# -- checks and conversions --------------------------------------------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _kind(hint: Any) -> type:
    """``int`` of ``int | None``."""
    if get_origin(hint) in (Union, types.UnionType):
        return next(a for a in get_args(hint) if a is not type(None))
    return hint


def _convert(name: str, raw: Any, kind: type) -> Any:
    """A raw option value as ``kind``: ``"5"`` -> 5 for an int, ``2`` -> ``"2"`` for a string."""
    if kind is str:
        return raw if isinstance(raw, str) else str(raw)
    if isinstance(raw, str):
        try:
            return kind(raw.strip())
        except ValueError:
            raise OptionError(name, f"{name}={raw!r}", f"expected {_TYPE_WORDS[kind]}") from None
    return raw


_TYPE_WORDS = {int: "a whole number", float: "a number", str: "a word"}


def _check(name: str, value: Any, kind: type, metadata: Mapping[str, Any]) -> Any:
    """``value`` if a field of ``kind`` with ``metadata`` can hold it (an int as a float), else OptionError."""
    given = f"{name}={value!r}"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int and not (numeric and isinstance(value, int)):
        raise OptionError(name, given, f"expected {_TYPE_WORDS[int]}")
    if kind is float:
        if not numeric or not math.isfinite(value):
            raise OptionError(name, given, f"expected {_TYPE_WORDS[float]}")
        value = float(value)
    if kind is str and not isinstance(value, str):
        raise OptionError(name, given, f"expected {_TYPE_WORDS[str]}")
    choices = metadata.get("choices")
    if choices and value not in choices:
        raise OptionError(name, given, f"unknown {metadata.get('noun', 'value')} {value!r}, "
                                       f"choose from {', '.join(choices)}")
    minimum = metadata.get("minimum")
    if minimum is not None and value < minimum:
        raise OptionError(name, given, f"must be >= {minimum:g}")
    maximum = metadata.get("maximum")
    if maximum is not None and value > maximum:
        raise OptionError(name, given, f"must be <= {maximum:g}")
    return value


def _summary(f: Any, kind: type) -> str:
    """``int >= 1, default 5`` or ``rules|judge|cove, default: rules with a task, else judge``."""
    meta = f.metadata
    if meta.get("choices"):
        what = "|".join(meta["choices"])
    else:
        low, high = meta.get("minimum"), meta.get("maximum")
        what = kind.__name__ + (f" from {low:g} to {high:g}" if low is not None and high is not None else
                                f" >= {low:g}" if low is not None else f" <= {high:g}" if high is not None else "")
    if f.default is not None:
        return f"{what}, default {_default_text(f)}"
    return f"{what}, default: {meta['shown']}" if meta.get("shown") else what


def _default_text(f: Any) -> str:
    """``5``, ``0.7``, or what a None default means (``the model's``)."""
    if f.default is None:
        return f.metadata.get("shown", "none")
    return f"{f.default:g}" if isinstance(f.default, float) else str(f.default)


def _ordered(cls: type) -> list[str]:
    """Field names by the class that first declares them, the most specific class first."""
    declared: dict[str, type] = {}
    for klass in reversed(cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            declared.setdefault(name, klass)
    return [name for klass in cls.__mro__ for name, owner in declared.items() if owner is klass]
