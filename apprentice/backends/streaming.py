"""What every chat model of ours shares: it streams, and a whole answer is its merged stream."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import (
    BaseChatModel,
    generate_from_stream,
)
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

__all__ = ["StreamingChatModel", "token_chunk", "usage_chunk"]


def token_chunk(piece: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
    """A streamed piece of text, announced to the callbacks (LangGraph's ``messages`` stream)."""
    chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
    if run_manager:
        run_manager.on_llm_new_token(piece, chunk=chunk)
    return chunk


def usage_chunk(n_in: int, n_out: int, **fields: Any) -> ChatGenerationChunk:
    """The closing chunk: token usage (and any other message fields, e.g. tool call chunks)."""
    return ChatGenerationChunk(message=AIMessageChunk(
        content="", usage_metadata={"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out},
        chunk_position="last", **fields))


class StreamingChatModel(BaseChatModel):
    """A chat model defined by ``_stream`` alone; ``invoke`` merges the stream."""

    #: The ReAct text-protocol system prompt this model runs with (``apprentice.agents.react.REACT_PROMPTS``):
    #: a student adapter trained with prompt erasure says ``student``.
    react_prompt: str = "full"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))
