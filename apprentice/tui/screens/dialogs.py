"""Small modal dialogs: pick from a list (or type a value), rename, confirm."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

__all__ = ["PickerScreen", "TextPromptScreen", "ConfirmScreen"]


class PickerScreen(ModalScreen[str | None]):
    """Choose one of ``choices`` ((value, description) pairs), or type a value when ``free_text``."""

    BINDINGS = [("escape", "dismiss(None)", "Close")]

    def __init__(self, title: str, choices: list[tuple[str, str]], *, current: str | None = None,
                 free_text: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current
        self.free_text = free_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(self.title_text), classes="dialog-title")
            options = [Option(Content(f"{'● ' if v == self.current else '  '}{v}  — {d}"), id=v)
                       for v, d in self.choices]
            yield OptionList(*options, id="choices")
            if self.free_text is not None:
                yield Input(placeholder=self.free_text, id="free")

    def on_mount(self) -> None:
        ids = [v for v, _ in self.choices]
        if self.current in ids:
            self.query_one(OptionList).highlighted = ids.index(self.current)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Input.Submitted, "#free")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())


class TextPromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (e.g. a thread's new title)."""

    BINDINGS = [("escape", "dismiss(None)", "Close")]

    def __init__(self, title: str, value: str = "", *, empty: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.empty = empty  # what an empty Enter gives (None: the same as Esc)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(self.title_text), classes="dialog-title")
            yield Input(value=self.value, id="text")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or self.empty)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: ``y`` confirms, ``n`` or Esc declines."""

    BINDINGS = [("y", "dismiss(True)", "Yes"), ("n", "dismiss(False)", "No"),
                ("escape", "dismiss(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(self.question), classes="dialog-title")
            yield Label("y = yes · n = no")
