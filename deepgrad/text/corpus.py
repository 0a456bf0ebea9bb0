"""Reading text corpora: explicit UTF-8 decoding with errors that point at the bad byte."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


class CorpusError(ValueError):
    """A corpus that cannot be used: undecodable, empty, or too small for the requested batches."""


def default_corpus_path() -> Path:
    """The tiny Shakespeare corpus shipped inside the package (about 1.1 MB, 65 distinct characters)."""
    return Path(str(resources.files("deepgrad") / "data" / "tinyshakespeare.txt"))


def read_corpus(path: str | Path | None = None, encoding: str = "utf-8") -> str:
    """The text of ``path`` (default: tiny Shakespeare), decoded with ``encoding``.

    Undecodable bytes raise a ``CorpusError`` naming the file, the byte offset and the bytes, and
    an empty file is refused.
    """
    p = Path(path) if path is not None else default_corpus_path()
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"corpus file not found: {p}") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        bad = raw[e.start:e.end]
        raise CorpusError(
            f"{p}: byte offset {e.start} ({bad!r}) is not valid {encoding}: {e.reason}. Convert the file "
            f"to {encoding} (e.g. iconv -f latin1 -t utf-8) or pass the right encoding") from None
    if not text:
        raise CorpusError(f"{p}: the corpus is empty")
    return text
