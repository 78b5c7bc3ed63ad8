"""Chat-model engines behind the model specs: llama.cpp, transformers, and a scripted fake."""

from apprentice.backends.local import LocalChatModel, to_chat_dicts
from apprentice.backends.scripted import ScriptedChatModel
from apprentice.backends.template import CHATML_TEMPLATE, render_chat

__all__ = ["CHATML_TEMPLATE", "LocalChatModel", "ScriptedChatModel", "render_chat", "to_chat_dicts"]
