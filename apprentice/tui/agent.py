"""The chat UI's link to the library: which model and strategy sit in the seat, and one turn of
the agent with its steps and tokens relayed as they happen. No widgets here, so it is testable
on its own and the same code runs in the app's thread workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel

from apprentice.errors import ApprenticeError

__all__ = ["ChatAgent", "TurnCancelled", "TokenRelay", "TurnListener", "model_choices", "strategy_names"]


class TurnCancelled(KeyboardInterrupt):
    """Raised inside a model call when the user cancels; the run is recorded as ``cancelled``."""


@dataclass
class TurnListener:
    """Where one turn's live events go (called on the worker thread). ``call`` names the model call
    (LangChain's run id): strategies that sample side by side (cot-sc, react-sc) have several calls
    streaming at once, and their tokens must not run together."""

    on_token: Callable[[str, Any], None]
    on_call: Callable[[Any], None]
    cancel: threading.Event
    on_done: Callable[[Any], None] = lambda call: None


class TokenRelay(BaseCallbackHandler):
    """A LangChain callback on the model: forwards each model call's start, tokens and end to the
    current turn's listener, and stops generation mid-call when that turn is cancelled."""

    def __init__(self) -> None:
        self.listener: TurnListener | None = None

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any = None, **kwargs: Any) -> None:
        if self.listener is not None:
            self.listener.on_call(run_id)

    def on_llm_new_token(self, token: str, *, run_id: Any = None, **kwargs: Any) -> None:
        listener = self.listener
        if listener is None:
            return
        if listener.cancel.is_set():
            raise TurnCancelled()
        if token:
            listener.on_token(token, run_id)

    def on_llm_end(self, response: Any, *, run_id: Any = None, **kwargs: Any) -> None:
        if self.listener is not None:
            self.listener.on_done(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: Any = None, **kwargs: Any) -> None:
        self.on_llm_end(None, run_id=run_id)


def seat_label(spec: str) -> str:
    """How the status line names the model in the seat: the shipped student and the base say what they are."""
    return {"student": "student (trained)", "local": "local (untrained base)"}.get(spec, spec)


def strategy_names() -> list[str]:
    """The strategies registered right now (read at run time: the registry grows)."""
    from apprentice.graphs import STRATEGIES

    return list(STRATEGIES)


def model_choices() -> list[tuple[str, str]]:
    """(spec, description) pairs for the model picker: the embedded model, trained adapters from
    the registry, and OpenAI when a key is set (any other spec can be typed in)."""
    import os

    from apprentice.training.registry import list_adapters
    from apprentice.training.student import student_available

    choices = [("student", "the trained student shipped with apprentice (on the embedded model)")] \
        if student_available() else []
    choices.append(("local", "embedded SmolLM2-135M, the untrained base (llama.cpp, no network)"))

    try:
        records = list_adapters()  # unreadable entries are skipped there
    except Exception:  # noqa: BLE001 - whatever breaks in the registry, the picker keeps the other models
        records = []
    for record in records:
        choices.append((f"adapter:{record.name}", f"trained adapter on {record.base}"))
    if os.environ.get("OPENAI_API_KEY"):
        url = os.environ.get("OPENAI_BASE_URL")
        choices.append(("openai:gpt-4o-mini", f"OpenAI-compatible{' at ' + url if url else ''} (key set)"))
    return choices


class ChatAgent:
    """The model spec and strategy in the seat, the strategies' settings (``options``: samples=5,
    verifier=rules, ...), and the loaded model (lazily, on a worker)."""

    def __init__(self, model: str | BaseChatModel | None = None, strategy: str = "react",
                 loader: Callable[[str], BaseChatModel] | None = None, max_steps: int = 6,
                 options: dict[str, Any] | None = None) -> None:
        self.relay = TokenRelay()
        self.max_steps = max_steps
        self.options = dict(options or {})
        self.strategy = strategy
        self._loader = loader
        self._lock = threading.Lock()
        self._model: BaseChatModel | None = None
        if model is None:
            from apprentice.models import default_model

            model = default_model()
        if isinstance(model, str):
            self.spec = model
        else:
            self.spec = getattr(model, "spec", type(model).__name__)
            self._attach(model)

    def _attach(self, model: BaseChatModel) -> None:
        callbacks = [c for c in (model.callbacks or []) if not isinstance(c, TokenRelay)]
        model.callbacks = [*callbacks, self.relay]
        self._model = model

    @property
    def loaded(self) -> bool:
        """Whether the model in the seat is loaded."""
        return self._model is not None

    def set_model(self, spec: str) -> None:
        """Put the model ``spec`` names in the seat, loading it now (call from a worker).

        Raises:
            ApprenticeError: a malformed spec, or a model that cannot be loaded or reached.
        """
        from apprentice.models import load_chat_model, parse_spec

        spec = str(parse_spec(spec))
        loader = self._loader or load_chat_model
        try:
            model = loader(spec)
        except ApprenticeError:
            raise
        except Exception as exc:  # weights that fail to load are the user's problem, not a bug
            raise ApprenticeError(f"model {spec} failed to load: {type(exc).__name__}: {exc}") from exc
        with self._lock:
            self.spec = spec
            self._attach(model)

    def model(self) -> BaseChatModel:
        """The loaded model, loading the current spec first if needed (call from a worker)."""
        with self._lock:
            if self._model is not None:
                return self._model
        self.set_model(self.spec)
        assert self._model is not None
        return self._model

    def set_strategy(self, name: str) -> None:
        """Choose the strategy for the next turns; an unknown name raises ApprenticeError."""
        names = strategy_names()
        if name not in names:
            raise ApprenticeError(f"unknown strategy {name!r}; choose from: {', '.join(names)}")
        self.strategy = name

    def ask(self, question: str, *, thread_id: str, listener: TurnListener,
            sink: Callable[[Any], None]) -> Any:
        """Run one turn (blocking; call from a worker). Returns the RunResult, or None if cancelled."""
        from apprentice.graphs import run_question

        model = self.model()
        self.relay.listener = listener
        try:
            from apprentice.graphs.registry import options_for

            # the chat's options serve every strategy it switches to: each turn takes the ones its strategy has
            return run_question(question, strategy=self.strategy, model=model, model_spec=self.spec,
                                thread_id=thread_id, sink=sink, cancel=listener.cancel,
                                max_steps=self.max_steps, options=options_for(self.strategy, self.options))
        except TurnCancelled:
            return None
        finally:
            self.relay.listener = None
