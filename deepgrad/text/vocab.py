"""Character vocabulary: a sorted list of the distinct characters of a corpus."""
from __future__ import annotations

from ..backend import int64
from ..creation import tensor
from ..tensor import Tensor


class CharVocab:
    """Maps characters to integer ids and back. Any Unicode text works.

    Example::

        vocab = CharVocab.from_text("hello")
        vocab.encode("he")    # tensor([1, 0])
        vocab.decode([1, 0])  # 'he'
    """

    def __init__(self, chars):
        self.chars = list(chars)
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("CharVocab: characters must be distinct")
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: str) -> bool:
        return ch in self.index

    def missing(self, text: str) -> list:
        """Characters of ``text`` that are not in the vocabulary (each once, in order)."""
        seen = []
        for ch in text:
            if ch not in self.index and ch not in seen:
                seen.append(ch)
        return seen

    def encode(self, text: str) -> Tensor:
        """Ids of ``text`` as an int64 tensor; unknown characters raise a ValueError listing them."""
        missing = self.missing(text)
        if missing:
            raise ValueError(f"characters not in the vocabulary: {''.join(missing)!r} "
                             f"({', '.join(repr(c) for c in missing)}); the model knows {len(self)} "
                             f"characters")
        index = self.index
        return tensor([index[c] for c in text], dtype=int64)

    def decode(self, ids) -> str:
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        return "".join(self.chars[int(i)] for i in ids)

    def to_dict(self) -> dict:
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, d: dict) -> "CharVocab":
        return cls(list(d["chars"]))

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"
