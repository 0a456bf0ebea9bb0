"""Synthetic sequence-to-sequence tasks with real structure and no download, and the character
vocabulary their models read and write.

- ``dates``: a calendar date written in one of many human formats ("3rd of March 2019",
  "03/03/19", "March 3, 2019", "Sun 3 Mar 2019", "20190303", ...) -> ISO 8601 "2019-03-03".
  Dates run from 1950-01-01 to 2049-12-31, so a two-digit year is unambiguous (50-99 -> 19xx,
  00-49 -> 20xx). Slashed day-month orders are American (month first: "03/04/19" is the 4th of
  March), dotted ones European (day first: "04.03.2019"), and a leading four-digit year is
  followed by month then day; that way no string has two readings. The calendar days are shuffled
  and split, so the validation and test dates are days the training set never shows, in any
  format.
- ``reverse``: a random string of letters -> the same string reversed.
- ``sort``: a random string of letters -> its letters in alphabetical order.

Validation and test sources of ``reverse`` and ``sort`` never occur among the training sources.
Everything is drawn from a seeded ``deepgrad.Generator``: the same seed gives the same data.

Example::

    data = make_task("dates", train_size=20000, seed=0)
    data.train[0]                      # ('15.02.2021', '2021-02-15')
    vocab = CharTokens.from_texts(src for src, _ in data.train)
    vocab.encode("9/8/94")             # [1, 19, 9, 18, 9, 19, 14, 2]: <start> 9 / 8 / 9 4 <end>
"""
from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import deepgrad as dg
from deepgrad import Tensor

from .words import SPECIALS, WordVocab

__all__ = ["TASKS", "DATE_FORMATS", "FIRST_DATE", "LAST_DATE", "CharTokens", "TaskData", "format_date",
           "make_task"]

TASKS = ("dates", "reverse", "sort")
FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)

# str.format templates over the fields of _date_fields; the case of the words varies separately
DATE_FORMATS = (
    "{D}{sfx} of {Month} {Y}",             # 3rd of March 2019
    "the {D}{sfx} of {Month}, {Y}",        # the 3rd of March, 2019
    "{MM}/{DD}/{yy}",                      # 03/03/19
    "{M}/{D}/{Y}",                         # 3/3/2019
    "{Month} {D}, {Y}",                    # March 3, 2019
    "{Month} {D}{sfx}, {Y}",               # March 3rd, 2019
    "{Mon} {D}, {Y}",                      # Mar 3, 2019
    "{D} {Month} {Y}",                     # 3 March 2019
    "{D} {Mon} {Y}",                       # 3 Mar 2019
    "{DD} {Mon} '{yy}",                    # 03 Mar '19
    "{D}-{Mon}-{yy}",                      # 3-Mar-19
    "{DD}.{MM}.{Y}",                       # 03.03.2019
    "{D}.{M}.{Y}",                         # 3.3.2019
    "{Y}.{MM}.{DD}",                       # 2019.03.03
    "{Y}/{M}/{D}",                         # 2019/3/3
    "{Y}{MM}{DD}",                         # 20190303
    "{Weekday}, {Month} {D}, {Y}",         # Sunday, March 3, 2019
    "{Wkd} {D} {Mon} {Y}",                 # Sun 3 Mar 2019
    "{Weekday} the {D}{sfx} of {Month} {Y}",  # Sunday the 3rd of March 2019
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CASES = ("as is", "lower", "upper")
_LETTERS = "abcdefghij"


class CharTokens(WordVocab):
    """A character vocabulary with the special tokens of ``WordVocab``: ids 0-3 are ``<pad>``,
    ``<start>``, ``<end>``, ``<unk>``, then the characters in sorted order. Texts are encoded one
    character per token; characters outside the vocabulary become ``<unk>``.

    Example::

        vocab = CharTokens.from_texts(["2019-03-03"])
        vocab.encode("2019")               # [1, 7, 5, 6, 9, 2]
        vocab.decode([1, 7, 5, 6, 9, 2])   # '2019'
    """

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "CharTokens":
        """The vocabulary of every character in ``texts``."""
        chars = set()
        for text in texts:
            chars.update(text)
        return cls(list(SPECIALS) + sorted(chars))

    def encode(self, text: str, start: bool = True, end: bool = True) -> list[int]:
        """Ids of the characters of ``text``, framed by ``<start>`` and ``<end>`` unless turned off."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokens.encode: expected a str, got {type(text).__name__}")
        return super().encode(list(text), start, end)

    def decode(self, ids: Iterable[int] | Tensor) -> str:
        """The text of ``ids`` up to the first ``<end>``, without ``<start>`` and ``<pad>``."""
        return "".join(self.decode_words(ids))

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` outside the vocabulary (each once, in order of appearance)."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def __repr__(self) -> str:
        return f"CharTokens({len(self) - len(SPECIALS)} characters + {len(SPECIALS)} specials)"


@dataclass
class TaskData:
    """(source, target) string pairs of one task: ``train``, ``val`` (to choose checkpoints and
    stop) and ``test`` (held out, reported once)."""

    name: str
    train: list[tuple[str, str]]
    val: list[tuple[str, str]]
    test: list[tuple[str, str]]


def _ordinal_suffix(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _date_fields(d: datetime.date) -> dict:
    month, weekday = _MONTHS[d.month - 1], _WEEKDAYS[d.weekday()]
    return {"D": d.day, "DD": f"{d.day:02d}", "sfx": _ordinal_suffix(d.day), "M": d.month,
            "MM": f"{d.month:02d}", "Month": month, "Mon": month[:3], "Y": d.year,
            "yy": f"{d.year % 100:02d}", "Weekday": weekday, "Wkd": weekday[:3]}


def format_date(d: datetime.date, fmt: str, case: str = "as is") -> str:
    """``d`` written with the template ``fmt`` (one of ``DATE_FORMATS``, or any str.format template
    over the fields D, DD, sfx, M, MM, Month, Mon, Y, yy, Weekday, Wkd), in ``case`` 'as is',
    'lower' or 'upper'.

    Example::

        format_date(datetime.date(2019, 3, 3), DATE_FORMATS[0])          # '3rd of March 2019'
        format_date(datetime.date(2019, 3, 3), "{Mon} {D}, {Y}", "upper")  # 'MAR 3, 2019'
    """
    if case not in _CASES:
        raise ValueError(f"format_date: case must be one of {', '.join(_CASES)}, got {case!r}")
    text = fmt.format(**_date_fields(d))
    return {"as is": text, "lower": text.lower(), "upper": text.upper()}[case]


def _uniforms(n: int, k: int, generator: dg.Generator) -> list:
    return dg.rand(n, k, generator=generator, dtype=dg.float64).tolist() if n else []


def _pick(seq: Sequence, u: float):
    return seq[min(int(u * len(seq)), len(seq) - 1)]


def _date_pair(d: datetime.date, u_format: float, u_case: float) -> tuple[str, str]:
    return format_date(d, _pick(DATE_FORMATS, u_format), _pick(_CASES, u_case)), d.isoformat()


def _date_task(train_size: int, val_size: int, test_size: int, generator: dg.Generator) -> TaskData:
    n_days = (LAST_DATE - FIRST_DATE).days + 1
    order = dg.randperm(n_days, generator=generator).tolist()
    held_out = max(val_size, test_size, n_days // 10)
    if 2 * held_out >= n_days:
        raise ValueError(f"make_task('dates'): val_size {val_size} and test_size {test_size} need "
                         f"{2 * held_out} held-out days out of the {n_days} in the calendar; ask for fewer")
    days = [FIRST_DATE + datetime.timedelta(days=i) for i in order]
    val_days, test_days, train_days = days[:held_out], days[held_out:2 * held_out], days[2 * held_out:]

    def held(split_days: list, n: int) -> list:
        return [_date_pair(d, u[0], u[1]) for d, u in zip(split_days[:n], _uniforms(n, 2, generator))]
    val, test = held(val_days, val_size), held(test_days, test_size)
    train = [_date_pair(_pick(train_days, u[0]), u[1], u[2]) for u in _uniforms(train_size, 3, generator)]
    return TaskData("dates", train, val, test)


def _random_strings(n: int, min_len: int, max_len: int, generator: dg.Generator) -> list[str]:
    span = max_len - min_len + 1
    return ["".join(_pick(_LETTERS, v) for v in u[1:min_len + min(int(u[0] * span), span - 1) + 1])
            for u in _uniforms(n, max_len + 1, generator)]


def _letter_task(name: str, train_size: int, val_size: int, test_size: int, generator: dg.Generator,
                 min_len: int, max_len: int) -> TaskData:
    if not 1 <= min_len <= max_len:
        raise ValueError(f"make_task({name!r}): need 1 <= min_len <= max_len, got {min_len} and {max_len}")
    # at most a tenth of the strings of each length are held out (at least one), so that the short
    # lengths, which have few strings, still appear in training
    room = {n: max(1, len(_LETTERS) ** n // 10) for n in range(min_len, max_len + 1)}
    n_held = val_size + test_size
    if n_held > sum(room.values()):
        raise ValueError(f"make_task({name!r}): {n_held} held-out strings asked for, but at most "
                         f"{sum(room.values())} of the strings of {min_len} to {max_len} letters can be "
                         "held out (a tenth of each length); ask for fewer or allow longer strings")
    held, seen = [], set()
    while len(held) < n_held:
        for s in _random_strings(n_held - len(held), min_len, max_len, generator):
            if s not in seen and room[len(s)] > 0 and len(held) < n_held:
                room[len(s)] -= 1
                seen.add(s)
                held.append(s)
    train = []
    while len(train) < train_size:  # training strings may repeat, but are never held-out ones
        train += [s for s in _random_strings(train_size - len(train), min_len, max_len, generator)
                  if s not in seen]
    target = (lambda s: s[::-1]) if name == "reverse" else (lambda s: "".join(sorted(s)))
    return TaskData(name, [(s, target(s)) for s in train], [(s, target(s)) for s in held[:val_size]],
                    [(s, target(s)) for s in held[val_size:]])


def make_task(name: str, train_size: int = 20000, val_size: int = 1000, test_size: int = 2000, seed: int = 0,
              min_len: int = 1, max_len: int = 12) -> TaskData:
    """The (source, target) pairs of task ``name`` ('dates', 'reverse' or 'sort'), drawn from a
    generator seeded with ``seed``. ``min_len`` and ``max_len`` bound the string lengths of
    'reverse' and 'sort' (strings of the letters a-j).

    Example::

        data = make_task("reverse", train_size=1000, seed=1)
        data.test[0]                        # ('ihehbbagj', 'jgabbhehi')
    """
    if name not in TASKS:
        raise ValueError(f"make_task: unknown task {name!r}; choose one of {', '.join(TASKS)}")
    for label, n in (("train_size", train_size), ("val_size", val_size), ("test_size", test_size)):
        if n < 0:
            raise ValueError(f"make_task: {label} must be >= 0, got {n}")
    generator = dg.Generator().manual_seed(seed)
    if name == "dates":
        return _date_task(train_size, val_size, test_size, generator)
    return _letter_task(name, train_size, val_size, test_size, generator, min_len, max_len)
