"""Widgets of the chat UI; each owns its behaviour and posts typed messages up."""

from apprentice.tui.widgets.conversation import (
    AnswerBlock,
    Conversation,
    QuestionBlock,
    StepBlock,
)
from apprentice.tui.widgets.search_tree import SearchTree
from apprentice.tui.widgets.status import StatusBar
from apprentice.tui.widgets.threads import ThreadList

__all__ = ["AnswerBlock", "Conversation", "QuestionBlock", "StepBlock", "SearchTree", "StatusBar", "ThreadList"]
