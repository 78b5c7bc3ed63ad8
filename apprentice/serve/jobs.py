"""What a worker runs for a request that is more than a plain completion: one step of the text
protocol that answers in OpenAI tool calls (:class:`ToolStep`), and a whole strategy run behind a
model id such as ``student+react`` (:class:`StrategyRun`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from apprentice.agents.grammar import react_step_grammar
from apprentice.agents.react import STOP_SEQUENCES, earlier_turns, stands_alone
from apprentice.errors import ApprenticeError
from apprentice.graphs import STRATEGIES, run_question, strategy_config
from apprentice.models import supports_grammar
from apprentice.serve.protocol import ChatRequest, message_text, to_messages
from apprentice.serve.step_reader import Step, StepReader
from apprentice.serve.tool_protocol import ToolSet, text_protocol_prompt
from apprentice.serve.worker import Generation, GenerationPool

__all__ = ["BadRequest", "NoToolCall", "StrategyRun", "ToolStep", "strategy_run", "tool_step"]


class BadRequest(ValueError):
    """A request this server cannot take (a 400): ``param`` names the field at fault."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class NoToolCall(Exception):
    """``tool_choice`` asked for a tool call and the model wrote none that could be read, asked twice."""


@dataclass
class ToolStep:
    """One text-protocol step for a request with tools; the answer goes out as content or a tool call.

    A llama.cpp model writes the step under a grammar (:func:`apprentice.agents.grammar.react_step_grammar`
    over the offered functions; ``required`` leaves out the final answer, a named function the others), as
    llama.cpp's server forces a call. Other engines, and a grammar step cut short by ``max_tokens``: ``required``
    and a named function get one more try when the step is not the call they need, the same prompt with the
    model's thought and ``Action:`` (and the function's name) already written. No call then is
    :class:`NoToolCall` (a 500).
    """

    pool: GenerationPool
    prompt: list[BaseMessage]
    scratch: str
    tools: ToolSet
    mode: str  # auto | required | function
    function: str | None
    stop: list[str]
    params: dict[str, Any]

    def __call__(self, generation: Generation) -> None:
        step = self._step(generation, self.prompt, StepReader(self.tools, stream_answer=self.mode == "auto"))
        if step is not None and self.mode != "auto" and not self._wanted(step):
            step = self._forced(generation, step)
        self._send(generation, step)

    def _forced(self, generation: Generation, step: Step) -> Step | None:
        """The second try: the step's thought and ``Action:`` (with the named function) written for it."""
        head = (f"Thought: {step.thought}" if step.thought else "Thought:") + "\nAction:"
        if self.function:
            head += f" {self.function}\nAction Input:"
        prompt = [*self.prompt[:-1], AIMessage(self.scratch + head)]
        free = {k: v for k, v in self.params.items() if k != "grammar"}  # the step's grammar starts at "Thought:"
        retry = self._step(generation, prompt, StepReader(self.tools, head=head, stream_answer=False), free)
        if retry is not None and not self._wanted(retry):
            wanted = f"the function '{self.function}'" if self.function else "'required'"
            raise NoToolCall(f"tool_choice is {wanted}, and the model wrote no readable call of "
                             f"{'it' if self.function else 'an offered tool'}, asked twice; it wrote: "
                             f"{retry.text[:300]!r}")
        return retry

    def _wanted(self, step: Step) -> bool:
        return step.kind == "call" and step.call is not None and self.function in (None, step.call.name)

    def _step(self, generation: Generation, prompt: list[BaseMessage], reader: StepReader,
              params: dict[str, Any] | None = None) -> Step | None:
        """Run the model on ``prompt``, sending answer text as the reader lets it through; None if cancelled."""
        before = generation.usage.completion_tokens
        params = self.params if params is None else params
        for piece in self.pool.stream(generation, prompt, stop=self.stop, params=params):
            if text := reader.feed(piece):
                generation.put(text)
        if generation.cancelled.is_set():
            return None
        limit = params.get("max_tokens")
        return reader.finish(capped=bool(limit) and generation.usage.completion_tokens - before >= limit)

    @staticmethod
    def _send(generation: Generation, step: Step | None) -> None:
        if step is None:
            return
        if step.kind == "call" and step.call is not None:
            if step.thought:  # the text before a call is its content, as vLLM's and llama.cpp's parsers keep it
                generation.put(step.thought)
            generation.finish = "tool_calls"
            generation.put(step.call)
        elif text := step.unsent if step.kind == "answer" else step.text:
            generation.put(text)


def tool_step(pool: GenerationPool, request: ChatRequest) -> ToolStep:
    """The job for a request whose ``tools`` the model may (``auto``) or must call.

    Raises:
        BadRequest: a conversation the text protocol cannot hold (no user message, a call without result).
    """
    tools = ToolSet(request.tools or [])
    try:
        prompt, scratch = text_protocol_prompt(request.messages, tools,
                                               react_prompt=getattr(pool.chat, "react_prompt", "full"))
    except ValueError as exc:
        raise BadRequest(str(exc), "messages") from None
    mode = request.tool_mode()
    params = request.call_params()
    if supports_grammar(pool.chat):  # every step well formed, as llama.cpp's server does
        function = request.forced_function()
        params["grammar"] = react_step_grammar([function] if function else [t.name for t in tools.tools], final=mode == "auto",
                                               expressions=False)
    return ToolStep(pool, prompt, scratch, tools, mode, request.forced_function(),
                    [*STOP_SEQUENCES, *(request.stop_list() or [])], params)


@dataclass
class StrategyRun:
    """A strategy's graph run server-side (:func:`apprentice.graphs.run_question`) with the server's tools;
    its final answer is the assistant message and its trace id goes back with it."""

    pool: GenerationPool
    strategy: str
    question: str
    spec: str
    tools: Sequence[str]
    options: dict[str, Any]
    served_as: str

    def __call__(self, generation: Generation) -> None:
        result = run_question(self.question, strategy=self.strategy, model=self.pool.chat, model_spec=self.spec,
                              tools=list(self.tools), options=self.options, cancel=generation.cancelled,
                              sink=lambda _step: self.pool.touch(), meta={"served_as": self.served_as})
        generation.trace_id = result.run_id
        generation.usage.prompt_tokens, generation.usage.completion_tokens = result.tokens_in, result.tokens_out
        if result.answer:
            generation.put(result.answer)


def strategy_run(pool: GenerationPool, request: ChatRequest, strategy: str, *, spec: str,
                 tools: Sequence[str]) -> StrategyRun:
    """The job for a strategy model id. The last user message is the question; earlier turns go before it
    as the transcript a student reads (``Earlier in this conversation: Q: .. A: ..``), unless the question stands
    alone (:func:`~apprentice.agents.react.stands_alone`: its own numbers, nothing that points back); system
    messages are the strategy's own business and are left out.

    Raises:
        BadRequest: client ``tools`` (a strategy runs the server's own), no question, or options the
            strategy does not take.
    """
    if request.tool_mode() != "none":
        raise BadRequest(f"the model '{request.model}' runs the server's own tools ({', '.join(tools) or 'none'}); "
                         "leave out 'tools', or send them to the plain model", "tools")
    try:
        texts = [(m.role, message_text(m)) for m in request.messages]
    except ValueError as exc:
        raise BadRequest(str(exc), "messages") from None
    users = [i for i, (role, text) in enumerate(texts) if role == "user" and text.strip()]
    if not users:
        raise BadRequest("messages: there is no user message with a question", "messages")
    history = [m for m in to_messages(request.messages[:users[-1]]) if m.type in ("human", "ai")]
    question = texts[users[-1]][1].strip()
    if not stands_alone(question) and (transcript := earlier_turns(history)):
        question = f"{transcript}\n\n{question}"
    options = dict(request.strategy_options or {})
    sampling = {"max_tokens": request.max_completion_tokens or request.max_tokens, "seed": request.seed,
                "temperature": request.temperature}
    takes = STRATEGIES[strategy].config.option_names()
    options.update({k: v for k, v in sampling.items() if v is not None and k in takes and k not in options})
    try:
        strategy_config(strategy, options)
    except ApprenticeError as exc:
        raise BadRequest(str(exc), "strategy_options") from None
    return StrategyRun(pool, strategy, question, spec, tools, options, request.model)
