"""A user's document folder as text: which files count, how to read them, how to chunk them."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

__all__ = [
    "CHUNK_CHARS",
    "DOC_SUFFIXES",
    "OVERLAP_CHARS",
    "chunk_text",
    "html_to_text",
    "read_document",
    "scan_folder",
]

DOC_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".py", ".json", ".jsonl", ".csv", ".html", ".htm"})
CHUNK_CHARS = 800
OVERLAP_CHARS = 120
_MAX_FILE_BYTES = 2_000_000
_MAX_FILES = 5000
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox"})


def scan_folder(folder: Path) -> dict[str, tuple[int, int]]:
    """Map each indexable file (relative POSIX path) to its ``(mtime_ns, size)``.

    Hidden and tool folders (``.git``, ``node_modules``, ...) are skipped, as are files over 2 MB;
    at most 5000 files are taken, in sorted order, so that a huge folder cannot stall a tool call.
    """
    found: dict[str, tuple[int, int]] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(root, name)
            if name.startswith(".") or path.suffix.lower() not in DOC_SUFFIXES:
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            if 0 < stat.st_size <= _MAX_FILE_BYTES:
                found[path.relative_to(folder).as_posix()] = (stat.st_mtime_ns, stat.st_size)
            if len(found) >= _MAX_FILES:
                return found
    return found


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML page (no scripts or styles), one block per line."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"})
    _HIDDEN = frozenset({"script", "style", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Strip tags, scripts and styles from ``html``; paragraphs stay separated by blank lines."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = "".join(extractor.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r"\n\s*\n\s*", "\n\n", text).strip()


def read_document(path: Path) -> str | None:
    """Read a document as text, or ``None`` for a binary, unreadable or too large file."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)  # bounded: the file may have grown since it was scanned
    except OSError:
        return None
    if len(data) > _MAX_FILE_BYTES:
        return None
    if b"\x00" in data[:8192]:
        return None
    text = data.decode("utf-8", errors="replace")
    if path.suffix.lower() in {".html", ".htm"}:
        text = html_to_text(text)
    return text


def _split_long(line: str, size: int) -> list[str]:
    """Cut a line longer than ``size`` at spaces (or hard, when there are none)."""
    pieces = []
    while len(line) > size:
        cut = line.rfind(" ", 0, size)
        if cut < size // 2:
            cut = size
        pieces.append(line[:cut].strip())
        line = line[cut:].strip()
    if line:
        pieces.append(line)
    return pieces


def _pieces(text: str, size: int) -> list[str]:
    """Paragraphs of at most ``size`` chars; long paragraphs split by lines, long lines by words."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if len(paragraph) <= size:
            pieces.extend([paragraph] if paragraph else [])
            continue
        current = ""
        for line in paragraph.splitlines():
            for part in _split_long(line.strip(), size):
                if current and len(current) + 1 + len(part) > size:
                    pieces.append(current)
                    current = part
                else:
                    current = f"{current}\n{part}" if current else part
        if current:
            pieces.append(current)
    return pieces


def _tail(text: str, overlap: int) -> str:
    """The last ``overlap`` chars of ``text``, starting at a word boundary."""
    if len(text) <= overlap:
        return ""
    tail = text[-overlap:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail


def chunk_text(text: str, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Pack paragraphs into chunks of about ``size`` chars; each chunk repeats the previous one's tail.

    The overlap keeps a sentence that straddles a boundary findable from either side.
    """
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text, size):
        if current and len(current) + 2 + len(piece) > size:
            chunks.append(current)
            tail = _tail(current, overlap)
            current = f"{tail}\n\n{piece}" if tail else piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks
