"""Text pipeline: vocabulary, corpus reading, contiguous-stream batching."""
import pytest

import deepgrad as dg
from deepgrad.text import CharVocab, CorpusError, StreamBatches, default_corpus_path, read_corpus
from deepgrad.text import split_train_val


def test_default_corpus_is_tiny_shakespeare():
    text = read_corpus()
    assert text.startswith("First Citizen:")
    assert len(text) == 1115394
    assert len(CharVocab.from_text(text)) == 65
    assert default_corpus_path().name == "tinyshakespeare.txt"


def test_vocab_round_trip_with_non_ascii():
    text = "naïve café — ελληνικά 日本語\n"
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    assert ids.dtype == dg.int64
    assert vocab.decode(ids) == text
    assert CharVocab.from_dict(vocab.to_dict()).chars == vocab.chars


def test_vocab_unknown_characters_are_listed():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match=r"not in the vocabulary: 'xz'"):
        vocab.encode("axbz")
    assert vocab.missing("axbzx") == ["x", "z"]


def test_undecodable_bytes_name_file_and_offset(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1.txt: byte offset 3 \(b'\\xe9'\)"):
        read_corpus(p)
    assert read_corpus(p, encoding="latin-1") == "café au lait"


def test_missing_and_empty_corpus(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_corpus(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(CorpusError, match="empty"):
        read_corpus(tmp_path / "empty.txt")


def test_stream_batches_are_contiguous_streams():
    ids = dg.arange(1000)
    b = StreamBatches(ids, batch_size=4, seq_len=10)
    # 999 usable transitions -> 4 streams of 249 -> 24 batches of 10 steps
    assert len(b) == 24
    x0, y0 = b.batch(0)
    x1, _ = b.batch(1)
    assert x0.shape == (4, 10) and x0.dtype == dg.int64
    assert x0[:, 0].tolist() == [0, 249, 498, 747]           # each row is its own stream
    assert (y0 == x0 + 1).all().item()                        # targets are the next character
    assert (x1[:, 0] == x0[:, -1] + 1).all().item()           # batch k+1 continues batch k
    assert sum(1 for _ in b) == 24


def test_corpus_too_small_says_the_sizes():
    with pytest.raises(CorpusError, match=r"has 50 characters, too few for one batch of 4 streams x 16 "
                                          r"steps \(needs at least 65\)"):
        StreamBatches(dg.arange(50), 4, 16, name="corpus")


def test_split_train_val():
    tr, va = split_train_val(dg.arange(100), 0.1)
    assert tr.tolist() == list(range(90)) and va.tolist() == list(range(90, 100))
    with pytest.raises(ValueError, match="val_fraction"):
        split_train_val(dg.arange(10), 1.5)
