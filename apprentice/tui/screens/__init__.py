"""Screens of the chat UI: they compose widgets and route their messages."""

from apprentice.tui.screens.chat import ChatScreen
from apprentice.tui.screens.dialogs import ConfirmScreen, PickerScreen, TextPromptScreen
from apprentice.tui.screens.help import HelpScreen

__all__ = ["ChatScreen", "HelpScreen", "PickerScreen", "TextPromptScreen", "ConfirmScreen"]
