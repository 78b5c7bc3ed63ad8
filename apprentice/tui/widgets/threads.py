"""The sidebar: the conversation threads, most recent first."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.content import Content
from textual.message import Message
from textual.widgets import Label, ListItem, ListView

from apprentice.tui.sessions import Session

__all__ = ["ThreadList"]


class ThreadList(ListView):
    """Lists threads; choosing one posts :class:`ThreadList.Chosen`."""

    @dataclass
    class Chosen(Message):
        """The user picked thread ``thread_id``."""

        thread_id: str

    async def show(self, sessions: list[Session], current: str | None) -> None:
        """Replace the list with ``sessions`` and highlight ``current``."""
        await self.clear()
        await self.extend([ListItem(Label(Content(s.title[:40])), name=s.id) for s in sessions])
        ids = [s.id for s in sessions]
        if current in ids:
            self.index = ids.index(current)

    @on(ListView.Selected)
    def _chosen(self, event: ListView.Selected) -> None:
        event.stop()
        if event.item.name:
            self.post_message(self.Chosen(event.item.name))
