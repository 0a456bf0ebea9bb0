"""Word-level text for captioning: a tokenizer and a word vocabulary with the special tokens
``<pad>``, ``<start>``, ``<end>`` and ``<unk>`` and a frequency threshold (neuraltalk's
``word_count_threshold``)."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import deepgrad as dg
from deepgrad import Tensor

__all__ = ["tokenize", "WordVocab", "bleu_scores"]

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
_WORD = re.compile(r"\w+(?:'\w+)*")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text``; punctuation is dropped, apostrophes inside words are kept.

    Example::

        tokenize("A dog's frisbee, on the GRASS.")   # ['a', "dog's", 'frisbee', 'on', 'the', 'grass']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: expected a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


def _tokens(caption: str | Sequence[str]) -> list[str]:
    return tokenize(caption) if isinstance(caption, str) else list(caption)


class WordVocab:
    """Maps words to ids and back. Ids 0-3 are ``<pad>``, ``<start>``, ``<end>``, ``<unk>``; then the
    words, most frequent first (ties alphabetical). Words not in the vocabulary encode as ``<unk>``.

    Example::

        vocab = WordVocab.build(["a red circle", "a blue square"], min_count=1)
        vocab.encode("a red square")     # [1, 4, 7, 8, 2]: <start> a red square <end>
        vocab.decode([1, 4, 7, 8, 2])    # 'a red square'
    """

    def __init__(self, words: Iterable[str]):
        words = list(words)
        if tuple(words[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"WordVocab: the word list must start with the special tokens {list(SPECIALS)}, "
                             f"got {words[:len(SPECIALS)]}")
        if len(set(words)) != len(words):
            dupes = sorted({w for w in words if words.count(w) > 1})
            raise ValueError(f"WordVocab: words must be distinct, repeated: {dupes[:10]}")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.pad_id, self.start_id, self.end_id, self.unk_id = range(len(SPECIALS))

    @classmethod
    def build(cls, captions: Iterable[str | Sequence[str]], min_count: int = 5,
              max_size: int | None = None) -> "WordVocab":
        """The vocabulary of the words seen at least ``min_count`` times in ``captions`` (strings are
        tokenized; token lists are taken as they are), at most ``max_size`` words besides the
        specials."""
        if min_count < 1:
            raise ValueError(f"WordVocab.build: min_count must be >= 1, got {min_count}")
        counts = Counter(w for c in captions for w in _tokens(c))
        kept = sorted((w for w, n in counts.items() if n >= min_count and w not in SPECIALS),
                      key=lambda w: (-counts[w], w))
        if max_size is not None:
            kept = kept[:max_size]
        return cls(list(SPECIALS) + kept)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def encode(self, caption: str | Sequence[str], start: bool = True, end: bool = True) -> list[int]:
        """Ids of a caption (a string, tokenized, or a list of words), framed by ``<start>`` and
        ``<end>`` unless turned off; unknown words become ``<unk>``."""
        ids = [self.index.get(w, self.unk_id) for w in _tokens(caption)]
        return ([self.start_id] if start else []) + ids + ([self.end_id] if end else [])

    def decode_words(self, ids: Iterable[int] | Tensor) -> list[str]:
        """The words of ``ids`` up to the first ``<end>``, without ``<start>`` and ``<pad>``."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        words = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i not in (self.pad_id, self.start_id):
                words.append(self.words[i])
        return words

    def decode(self, ids: Iterable[int] | Tensor) -> str:
        return " ".join(self.decode_words(ids))

    def pad(self, sequences: Sequence[Sequence[int]], length: int | None = None) -> Tensor:
        """An int64 (batch, length) tensor of the id sequences, filled on the right with ``<pad>``;
        ``length`` defaults to the longest, and longer sequences are cut to it."""
        length = max((len(s) for s in sequences), default=0) if length is None else length
        rows = [list(s)[:length] for s in sequences]
        return dg.tensor([r + [self.pad_id] * (length - len(r)) for r in rows], dtype=dg.int64).reshape(
            len(rows), length)

    def to_dict(self) -> dict:
        return {"words": list(self.words)}

    @classmethod
    def from_dict(cls, d: dict) -> "WordVocab":
        return cls(d["words"])

    def __repr__(self) -> str:
        return f"WordVocab({len(self)} words)"


def bleu_scores(references: Sequence[Sequence[Sequence[str]]], hypotheses: Sequence[Sequence[str]]) -> dict:
    """Corpus BLEU-1 to BLEU-4 (Papineni et al. 2002) of tokenized ``hypotheses`` (one word list per
    item) against ``references`` (several word lists per item), with nltk's ``corpus_bleu`` and
    smoothing method 1 (an epsilon count for n-gram orders with no match), as keys 'bleu1'..'bleu4'.
    Needs nltk, the ``deepgrad[text]`` extra.

    Example::

        bleu_scores([[["a", "red", "circle"], ["the", "red", "circle"]]], [["a", "red", "circle"]])
    """
    try:
        from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
    except ImportError:
        raise ImportError("BLEU scores need nltk, the deepgrad[text] extra: "
                          "pip install 'deepgrad[text]'") from None
    if len(references) != len(hypotheses):
        raise ValueError(f"bleu_scores: {len(references)} reference lists but {len(hypotheses)} hypotheses")
    if not hypotheses:
        raise ValueError("bleu_scores: no hypotheses to score")
    smooth = SmoothingFunction().method1
    refs = [[list(r) for r in rs] for rs in references]
    hyps = [list(h) for h in hypotheses]
    return {f"bleu{n}": float(corpus_bleu(refs, hyps, weights=(1.0 / n,) * n, smoothing_function=smooth))
            for n in range(1, 5)}
