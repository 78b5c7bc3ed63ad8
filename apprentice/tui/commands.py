"""The command palette's chat commands: every screen action, plus one entry per strategy."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["ChatCommands"]


class ChatCommands(Provider):
    """Commands of the chat screen, found by fuzzy search in the palette (ctrl+p)."""

    def _commands(self) -> list[tuple[str, str, object]]:
        from apprentice.tui.agent import strategy_names

        screen = self.screen
        out = [
            ("New thread", "start a new conversation", screen.action_new_thread),
            ("Rename thread", "give this thread a title", screen.action_rename_thread),
            ("Delete thread", "forget this thread", screen.action_delete_thread),
            ("Export thread to Markdown", "with its reasoning steps", screen.action_export_thread),
            ("Copy last answer", "to the clipboard", screen.action_copy_answer),
            ("Rate last answer", "good or bad, with the right answer: a human verdict for the next harvest",
             screen.action_rate_answer),
            ("Switch model…", "student, embedded, local path, adapter or OpenAI-compatible", screen.action_pick_model),
            ("Base / student", "switch between the shipped student and the untrained base", screen.action_toggle_base),
            ("Cancel answer", "stop the running answer", screen.action_cancel),
            ("Help", "keys and what you see", screen.action_help),
        ]
        for name in strategy_names():
            out.append((f"Strategy: {name}", "use it from the next question on",
                        partial(screen.switch_strategy, name)))
        return out

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
