"""The shared half of local chat models: messages -> sandboxed template -> streamed completion.

Subclasses supply only the engine (llama.cpp or transformers): tokenising and a streamed
completion of a prompt. Everything the graphs rely on lives here: prefill (an unfinished
assistant message is continued, which is how the ReAct text protocol runs), stop strings,
per-call temperature/max_tokens/seed, and ``usage_metadata`` on every answer.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import ConfigDict, Field, PrivateAttr

from apprentice.backends.streaming import StreamingChatModel, token_chunk, usage_chunk
from apprentice.backends.template import render_chat
from apprentice.errors import ModelUnavailableError

__all__ = ["LineFirst", "LocalChatModel", "to_chat_dicts"]

#: Marks the end of a decode's pieces.
_END = object()

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "user", "chat": "user"}


def to_chat_dicts(messages: list[BaseMessage]) -> tuple[list[dict[str, str]], str | None]:
    """Convert LangChain messages to template dicts; a trailing AI message becomes the prefill."""
    prefill = None
    if messages and isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls:
        prefill = messages[-1].text
        messages = messages[:-1]
    out = []
    for m in messages:
        text = m.text
        if isinstance(m, ToolMessage):
            text = f"Observation: {text}"
        out.append({"role": _ROLES.get(m.type, "user"), "content": text})
    return out, prefill


@dataclass(frozen=True)
class LineFirst:
    """A grammar whose output opens with one line of free text (a ReAct thought: a space, then anything but a
    newline). ``full`` admits the whole output; ``cont`` admits what may follow a non-empty start of that line
    (the rest of the line, its newline, then the structured part).

    llama.cpp's grammar sampler checks every token of the vocabulary at every step (about 0.65x the decode speed
    here), so an engine may decode the line without it, stop at the newline, and run only the rest under
    ``cont``: the same language, with most tokens at full speed. ``str(grammar)`` is ``full``.
    """

    full: str
    cont: str

    def __str__(self) -> str:
        return self.full


class LocalChatModel(StreamingChatModel):
    """A chat model over a local engine; see the module docstring."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    spec: str = "local"
    temperature: float = 0.0
    max_tokens: int = 512
    top_p: float = 0.95
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    #: Whether ``_complete`` honours a ``grammar`` (GBNF text, ``apprentice.agents.grammar``).
    supports_grammar: bool = False
    #: Whether the engine gives its scores for the next token (:meth:`choice_probabilities`).
    supports_scores: bool = False
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        """LangSmith's standard params: the spec is the model name; the constructor's stops count too."""
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "apprentice"
        params["ls_model_name"] = kwargs.get("model") or self.spec
        params["ls_model_type"] = "chat"
        params["ls_temperature"] = kwargs.get("temperature", self.temperature)
        params["ls_max_tokens"] = kwargs.get("max_tokens", self.max_tokens)
        stops = [*self.stop, *(stop or [])]
        if stops:
            params["ls_stop"] = stops
        return params

    # -- what an engine provides -------------------------------------------------------------

    @property
    @abstractmethod
    def chat_template(self) -> str | None:
        """The model's own Jinja chat template, or None for ChatML."""

    @property
    def special_tokens(self) -> dict[str, str]:
        """``bos_token`` / ``eos_token`` strings for the template."""
        return {}

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` encodes to."""

    @abstractmethod
    def _complete(
        self, prompt: str, *, stop: list[str], temperature: float, max_tokens: int, seed: int | None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Stream the completion of a raw prompt, piece by piece, ending at a stop or EOS; an engine with
        ``supports_grammar`` samples only what ``grammar`` admits."""

    def _first_token(self, text: str) -> int:
        """The id of the first token ``text`` encodes to (an engine with ``supports_scores``)."""
        raise ModelUnavailableError(f"{self.spec}: this engine gives no token scores")

    def _next_scores(self, prompt: str) -> Sequence[float]:
        """The model's scores (logits) for the token after ``prompt``, by token id (``supports_scores``)."""
        raise ModelUnavailableError(f"{self.spec}: this engine gives no token scores")

    def choice_probabilities(self, messages: list[BaseMessage], choices: Sequence[str]) -> dict[str, float]:
        """Each of ``choices``' probability as the reply to ``messages``, from the model's scores for the reply's first
        token, normalized over ``choices`` (greedy decoding under a grammar that admits only them takes the likeliest;
        a threshold on these trades one choice for another). Their first tokens must differ."""
        firsts = [self._first_token(choice) for choice in choices]
        if len(set(firsts)) != len(firsts):
            raise ValueError(f"choices {choices!r} share a first token")
        prompt = self.render(messages)
        with self._lock:
            scores = self._next_scores(prompt)
        top = max(float(scores[t]) for t in firsts)
        weights = [math.exp(float(scores[t]) - top) for t in firsts]
        return {choice: weight / sum(weights) for choice, weight in zip(choices, weights, strict=True)}

    # -- BaseChatModel -----------------------------------------------------------------------

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"spec": self.spec, "temperature": self.temperature, "max_tokens": self.max_tokens}

    def render(self, messages: list[BaseMessage]) -> str:
        """The exact prompt text the engine sees for ``messages``."""
        dicts, prefill = to_chat_dicts(messages)
        return render_chat(self._template(), dicts, prefill=prefill, **self.special_tokens)

    def _template(self) -> str | None:
        """The model's own template; ChatML (None) only for a model whose vocabulary has ChatML's tokens.

        Raises:
            ModelUnavailableError: no template and no ChatML tokens (a Gemma GGUF without its template
                would read ``<|im_start|>`` as plain text and answer garbage).
        """
        template = self.chat_template
        if template:
            return template
        if self.count_tokens("<|im_start|>") == 1 and self.count_tokens("<|im_end|>") == 1:
            return None
        raise ModelUnavailableError(
            f"{self.spec}: the model file carries no chat template and its vocabulary has no ChatML tokens, so "
            "no prompt format can be known; use a GGUF or Hugging Face folder that includes its chat template")

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        prompt = self.render(messages)
        stops = [*self.stop, *(stop or [])]
        params = {
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "seed": kwargs.get("seed", self.seed),
        }
        if kwargs.get("grammar") and self.supports_grammar:
            params["grammar"] = kwargs["grammar"]
        started = time.perf_counter()
        pieces: list[str] = []
        for piece in self._decode(prompt, stops, params):
            pieces.append(piece)
            yield token_chunk(piece, run_manager)
        text = "".join(pieces)
        n_in, n_out = self.count_tokens(prompt), self.count_tokens(text) if text else 0
        yield usage_chunk(n_in, n_out, response_metadata={"model_name": self.spec,
                                                          "latency_s": time.perf_counter() - started})

    def _decode(self, prompt: str, stop: list[str], params: dict[str, Any]) -> Iterator[str]:
        """The engine's pieces, decoded under the model lock in a thread of their own.

        The lock is never held across a ``yield``: a consumer that stops reading (a dropped client, an
        abandoned generator) cannot keep the model from everyone else. Closing this generator stops the
        decode at the next token and returns once the lock is free; a generator nobody closes lets its
        decode run to ``max_tokens`` and then frees the lock all the same.
        """
        pieces: queue.SimpleQueue = queue.SimpleQueue()
        stopped = threading.Event()
        decoder = threading.Thread(target=self._decode_into, args=(pieces, stopped, prompt, stop, params),
                                   name="apprentice-decode")
        decoder.start()
        try:
            while (item := pieces.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stopped.set()
            decoder.join()

    def _decode_into(self, pieces: queue.SimpleQueue, stopped: threading.Event, prompt: str,
                     stop: list[str], params: dict[str, Any]) -> None:
        try:
            with self._lock:
                if stopped.is_set():  # the consumer left while this decode waited for the model: no prefill
                    return
                engine = self._complete(prompt, stop=stop, **params)
                try:
                    for piece in engine:
                        if stopped.is_set():
                            break
                        pieces.put(piece)
                finally:
                    if hasattr(engine, "close"):  # an engine generator's own clean-up, here and now
                        engine.close()
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            pieces.put(exc)
        finally:
            pieces.put(_END)
