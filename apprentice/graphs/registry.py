"""Strategy name -> graph builder. Every front end (ask, batch, eval, chat) picks from here."""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apprentice.errors import ApprenticeError
from apprentice.graphs import cot, cot_sc, io, lats, react, tot, verify
from apprentice.graphs.config import (
    CoTConfig,
    CoTSCConfig,
    IOConfig,
    LATSConfig,
    OptionError,
    ReactConfig,
    ReactSCConfig,
    StrategyConfig,
    ToTConfig,
    VerifyConfig,
)

__all__ = ["Strategy", "STRATEGIES", "build_graph", "compiled_graph", "turn_input", "strategy_config",
           "options_for", "options_help", "option_help"]


@dataclass(frozen=True)
class Strategy:
    """A strategy: how to build its graph and what state each new turn starts from.

    Every strategy graph's state has ``messages`` (the thread, ``add_messages``), ``question``
    and ``answer``; it may also set ``tree`` (a search tree) and ``run_meta`` (a dict merged
    into the trace's meta, e.g. a vote distribution). ``config`` is the class of its options.
    """

    name: str
    build: Callable[..., Any]
    description: str
    turn_defaults: dict[str, Any] = field(default_factory=dict)
    config: type[StrategyConfig] = StrategyConfig


#: Strategy name -> :class:`Strategy`; ask, batch, eval and chat all choose from here.
STRATEGIES: dict[str, Strategy] = {
    "io": Strategy("io", io.build, "answer directly, no reasoning (input-output prompting)", io.TURN_DEFAULTS,
                   IOConfig),
    "cot": Strategy("cot", cot.build, "chain of thought, zero- or few-shot (similar examples)", cot.TURN_DEFAULTS,
                    CoTConfig),
    "cot-sc": Strategy("cot-sc", cot_sc.build,
                       "self-consistency: n sampled chains, majority vote (or weighted by a verifier)",
                       cot_sc.TURN_DEFAULTS, CoTSCConfig),
    "react": Strategy("react", react.build, "reason + act with tools (ReAct)", react.TURN_DEFAULTS, ReactConfig),
    "react-sc": Strategy("react-sc", cot_sc.build_react,
                         "self-consistency over n sampled ReAct runs, majority vote (or weighted by a verifier)",
                         cot_sc.TURN_DEFAULTS, ReactSCConfig),
    "tot": Strategy("tot", tot.build, "Tree-of-Thought: propose, value, select (BFS beam or DFS)",
                    tot.TURN_DEFAULTS, ToTConfig),
    "verify": Strategy("verify", verify.build, "generate, verify (rules, LLM judge or CoVe), revise",
                       verify.TURN_DEFAULTS, VerifyConfig),
    "lats": Strategy("lats", lats.build,
                     "Language Agent Tree Search: Monte-Carlo tree search over ReAct steps, with reflection",
                     lats.TURN_DEFAULTS, LATSConfig),
}


def turn_input(strategy: str, question: str) -> dict[str, Any]:
    """The graph input that starts a new turn of ``strategy`` on ``question``."""
    from langchain_core.messages import HumanMessage

    return {**_get(strategy).turn_defaults, "messages": [HumanMessage(question)], "question": question,
            "answer": None}


def _get(strategy: str) -> Strategy:
    try:
        return STRATEGIES[strategy]
    except KeyError:
        raise ApprenticeError(f"unknown strategy {strategy!r}; choose from: {', '.join(STRATEGIES)}") from None


def strategy_config(strategy: str, options: Mapping[str, Any] | None = None) -> StrategyConfig:
    """The checked config of ``strategy`` from raw ``options`` (``--option`` values; strings are converted).

    Raises:
        ApprenticeError: an unknown strategy; or one line that names the option it does not take, or the
            value it cannot use, and lists every option it takes with type and default.
    """
    config = _get(strategy).config
    try:
        return config.from_options(options)
    except OptionError as exc:
        raise ApprenticeError(_option_error_line(strategy, config, exc)) from None


def options_for(strategy: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options ``strategy`` takes out of a set given to several (an eval grid, a chat whose strategy
    changes), checked; a name that no strategy takes is still an error."""
    given = {k: v for k, v in (options or {}).items() if v is not None}
    takes = {name for s in STRATEGIES.values() for name in s.config.option_names()}
    unknown = next((name for name in given if name not in takes), None)
    if unknown is not None:
        raise ApprenticeError(f"unknown option {unknown!r}: no strategy takes it; options: {', '.join(sorted(takes))}")
    mine = {k: v for k, v in given.items() if k in _get(strategy).config.option_names()}
    strategy_config(strategy, mine)
    return mine


def options_help() -> str:
    """The options of each strategy in a few words, for ``--option``'s help."""
    common = StrategyConfig.option_names()
    per = "; ".join(f"{s.name}: {', '.join(n for n in s.config.option_names() if n not in common)}"
                    for s in STRATEGIES.values())
    return f"{per}; every strategy: {', '.join(common)}"


def option_help(name: str) -> str:
    """What option ``name`` does in each strategy that takes it, with its defaults, for a flag of its own
    (``eval --samples``): ``cot-sc, react-sc: sampled answers that vote (default 5)``."""
    by_help: dict[str, dict[str, list[str]]] = {}  # help -> default -> strategies
    for s in STRATEGIES.values():
        if name in s.config.option_names():
            _, metadata, default = s.config.option_spec(name)
            by_help.setdefault(metadata.get("help", ""), {}).setdefault(default, []).append(s.name)
    parts = []
    for text, defaults in by_help.items():
        takers = ", ".join(s for s in STRATEGIES if any(s in names for names in defaults.values()))
        shown = (next(iter(defaults)) if len(defaults) == 1
                 else "; ".join(f"{', '.join(names)} {default}" for default, names in defaults.items()))
        parts.append(f"{takers}: {text} (default {shown})")
    return "; ".join(parts)


def _option_error_line(strategy: str, config: type[StrategyConfig], exc: OptionError) -> str:
    """``unknown option 'bogus' for strategy react-sc; valid: samples (int >= 1, default 5), ...``."""
    hint = ""
    if exc.unknown:
        close = difflib.get_close_matches(exc.option, config.option_names(), n=1)
        others = [s.name for s in STRATEGIES.values() if exc.option in s.config.option_names()]
        hint = (f" (did you mean {close[0]!r}?)" if close
                else f" (an option of {', '.join(others)})" if others else "")
    reason = f": {exc.reason}" if exc.reason else ""
    kind = "unknown" if exc.unknown else "invalid"
    return f"{kind} option {exc.given} for strategy {strategy}{hint}{reason}; valid: {config.describe()}"


_COMPILED: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def build_graph(strategy: str, checkpointer: Any = None):
    """Compile the graph of ``strategy``; an unknown name is an error naming the choices."""
    return _get(strategy).build(checkpointer=checkpointer)


def compiled_graph(strategy: str, checkpointer: Any = None):
    """Like :func:`build_graph`, compiled once per (strategy, checkpointer) and reused."""
    key = (strategy, id(checkpointer))
    with _LOCK:
        if key not in _COMPILED:
            _COMPILED[key] = build_graph(strategy, checkpointer)
        return _COMPILED[key]
