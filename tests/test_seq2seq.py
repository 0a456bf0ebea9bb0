"""Sequence to sequence: the synthetic tasks, the character vocabulary, the encoder-decoder (against
PyTorch's packed bidirectional RNNs), beam search against brute force, training, resume, CLI."""
import argparse
import datetime
import itertools
import math

import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.models.seq2seq import (
    END_ID, PAD_ID, START_ID, Seq2Seq, beam_search, greedy_decode, sequence_log_prob, sequence_loss,
    translate)
from deepgrad.text.tasks import DATE_FORMATS, FIRST_DATE, LAST_DATE, CharTokens, format_date, make_task
from deepgrad.train.seq2seq import Seq2SeqConfig, Seq2SeqTrainer, add_parsers, evaluate_pairs, load_seq2seq

CONFIGS = [(cell, attention) for cell in ("lstm", "gru") for attention in (None, "bahdanau", "luong")]


# ---------------------------------------------------------------------------------------- tasks
def test_every_date_format_on_a_known_date():
    d = datetime.date(2019, 3, 3)
    expected = ["3rd of March 2019", "the 3rd of March, 2019", "03/03/19", "3/3/2019", "March 3, 2019",
                "March 3rd, 2019", "Mar 3, 2019", "3 March 2019", "3 Mar 2019", "03 Mar '19", "3-Mar-19",
                "03.03.2019", "3.3.2019", "2019.03.03", "2019/3/3", "20190303", "Sunday, March 3, 2019",
                "Sun 3 Mar 2019", "Sunday the 3rd of March 2019"]
    assert [format_date(d, f) for f in DATE_FORMATS] == expected
    assert format_date(datetime.date(1968, 11, 12), "{MM}/{DD}/{yy}") == "11/12/68"
    assert format_date(d, "{Mon} {D}, {Y}", "upper") == "MAR 3, 2019"
    assert format_date(d, "{Weekday}", "lower") == "sunday"
    with pytest.raises(ValueError, match="case must be one of"):
        format_date(d, "{Y}", "title")


@pytest.mark.parametrize("day,suffix", [(1, "st"), (2, "nd"), (3, "rd"), (4, "th"), (11, "th"), (12, "th"),
                                        (13, "th"), (21, "st"), (22, "nd"), (23, "rd"), (30, "th"),
                                        (31, "st")])
def test_ordinal_suffixes(day, suffix):
    assert format_date(datetime.date(2001, 1, day), "{D}{sfx}") == f"{day}{suffix}"


def test_dates_task_is_seeded_unambiguous_and_holds_out_unseen_days():
    data = make_task("dates", train_size=3000, val_size=300, test_size=400, seed=3)
    assert (len(data.train), len(data.val), len(data.test)) == (3000, 300, 400)
    assert make_task("dates", train_size=3000, val_size=300, test_size=400, seed=3) == data
    assert make_task("dates", train_size=3000, val_size=300, test_size=400, seed=4).train != data.train
    pairs = data.train + data.val + data.test
    for _, target in pairs:
        assert FIRST_DATE <= datetime.date.fromisoformat(target) <= LAST_DATE
    train_days = {t for _, t in data.train}
    val_days, test_days = {t for _, t in data.val}, {t for _, t in data.test}
    assert not train_days & val_days and not train_days & test_days and not val_days & test_days
    assert len(test_days) == 400                   # distinct days
    readings = {}
    for source, target in pairs:                   # no source string has two readings
        assert readings.setdefault(source, target) == target
    assert len({s for s, _ in data.test}) > 350    # many formats and cases really occur
    formats_seen = {next(i for i, f in enumerate(DATE_FORMATS)
                         if format_date(datetime.date.fromisoformat(t), f).lower() == s.lower())
                    for s, t in data.train}
    assert formats_seen == set(range(len(DATE_FORMATS)))


@pytest.mark.parametrize("name,fn", [("reverse", lambda s: s[::-1]), ("sort", lambda s: "".join(sorted(s)))])
def test_letter_tasks(name, fn):
    data = make_task(name, train_size=2000, val_size=100, test_size=200, seed=1, min_len=2, max_len=6)
    assert make_task(name, train_size=2000, val_size=100, test_size=200, seed=1, min_len=2, max_len=6) == data
    for source, target in data.train + data.val + data.test:
        assert target == fn(source) and 2 <= len(source) <= 6 and set(source) <= set("abcdefghij")
    held = [s for s, _ in data.val + data.test]
    assert len(set(held)) == 300 and not set(held) & {s for s, _ in data.train}
    assert {len(s) for s, _ in data.train} == {2, 3, 4, 5, 6}
    # short strings are few: at most a tenth of those of each length are held out
    data = make_task(name, train_size=3000, val_size=20, test_size=40, seed=2, min_len=1, max_len=3)
    held = [s for s, _ in data.val + data.test]
    assert sum(len(s) == 1 for s in held) <= 1 and sum(len(s) == 2 for s in held) <= 10
    assert len({s for s, _ in data.train if len(s) == 1}) == 9


def test_task_errors():
    with pytest.raises(ValueError, match="unknown task 'copy'"):
        make_task("copy")
    with pytest.raises(ValueError, match="train_size must be >= 0"):
        make_task("dates", train_size=-1)
    with pytest.raises(ValueError, match="held-out days"):
        make_task("dates", train_size=1, val_size=20000, test_size=1)
    with pytest.raises(ValueError, match="at most 1 of the strings of 1 to 1 letters can be held out"):
        make_task("sort", train_size=10, val_size=1, test_size=1, min_len=1, max_len=1)
    with pytest.raises(ValueError, match="1 <= min_len <= max_len"):
        make_task("reverse", min_len=4, max_len=3)


def test_char_tokens():
    vocab = CharTokens.from_texts(["2019-03-03", "1999"])
    assert vocab.words[:4] == ["<pad>", "<start>", "<end>", "<unk>"]
    assert vocab.words[4:] == ["-", "0", "1", "2", "3", "9"]
    ids = vocab.encode("2019")
    assert ids == [START_ID, 7, 5, 6, 9, END_ID]
    assert vocab.encode("2019", start=False, end=False) == [7, 5, 6, 9]
    assert vocab.decode(ids) == "2019" and vocab.decode(dg.tensor(ids + [0, 0])) == "2019"
    assert vocab.encode("2x", start=False, end=False) == [7, vocab.unk_id]
    assert vocab.missing("2x0yx") == ["x", "y"]
    assert CharTokens.from_dict(vocab.to_dict()).words == vocab.words
    assert vocab.pad([[4, 5], [6]]).tolist() == [[4, 5], [6, PAD_ID]]
    with pytest.raises(TypeError, match="expected a str, got list"):
        vocab.encode(["2", "0"])


# ---------------------------------------------------------------------------------------- the model
def padded(rows):
    width = max(len(r) for r in rows)
    return dg.tensor([r + [PAD_ID] * (width - len(r)) for r in rows], dtype=dg.int64)


def tiny_model(cell="lstm", attention="bahdanau", src_vocab=9, tgt_vocab=6, seed=0, **kw):
    dg.manual_seed(seed)
    kw = {"embed_dim": 5, "hidden": 6, **kw}
    return Seq2Seq(src_vocab, tgt_vocab, cell=cell, attention=attention, **kw).double().eval()


SOURCES = [[4, 5, 6, 7, 8], [5, 4], [8, 8, 6], [7]]
TARGETS = [[START_ID, 4, 5, END_ID], [START_ID, 5, END_ID], [START_ID, 4, 4, 5, END_ID], [START_ID, END_ID]]


@pytest.mark.parametrize("cell,attention", CONFIGS)
def test_shapes_masks_and_gradients(cell, attention):
    model = tiny_model(cell, attention).float().train()
    src, tgt = padded(SOURCES), padded(TARGETS)
    logits, alphas = model(src, tgt)
    assert logits.shape == (4, 4, 6) and logits.dtype == dg.float32
    if attention is None:
        assert alphas is None
    else:
        assert alphas.shape == (4, 4, 5) and alphas.dtype == dg.float32
        np.testing.assert_allclose(alphas.sum(-1).numpy(force=True), 1.0, rtol=1e-5)
        assert not (alphas.numpy(force=True) * (src.numpy() == PAD_ID)[:, None, :]).any()  # none on padding
    sequence_loss(logits, tgt).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == dg.float32, name
    assert not model.src_embed.weight.grad[PAD_ID].numpy().any()     # padding_idx


@pytest.mark.parametrize("cell,attention", CONFIGS)
@pytest.mark.parametrize("bidirectional,layers", [(True, 1), (True, 2), (False, 2)])
def test_padding_does_not_change_the_outputs(cell, attention, bidirectional, layers):
    model = tiny_model(cell, attention, bidirectional=bidirectional, layers=layers)
    src, tgt = padded(SOURCES), padded(TARGETS)
    batched, _ = model(src, tgt)
    for i, (s, t) in enumerate(zip(SOURCES, TARGETS)):
        alone, _ = model(padded([s]), padded([t]))
        np.testing.assert_allclose(batched[i, :len(t) - 1].numpy(force=True), alone[0].numpy(force=True),
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_encoder_matches_torch_packed_bidirectional(cell, layers):
    model = tiny_model(cell, "luong", layers=layers)
    ref = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(5, 6, num_layers=layers, bidirectional=True,
                                                            batch_first=True).double()
    with torch.no_grad():
        for i in range(layers):
            for direction, suffix in ((model.forward_layers[i], ""), (model.backward_layers[i], "_reverse")):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(ref, f"{name}_l{i}{suffix}").copy_(
                        torch.from_numpy(getattr(direction, f"{name}_l0").numpy(force=True).copy()))
    src = padded(SOURCES)
    with dg.no_grad():
        memory = model.encode(src)
        embedded = torch.from_numpy(model.src_embed(src).numpy())
    lengths = torch.tensor([len(s) for s in SOURCES])
    packed = torch.nn.utils.rnn.pack_padded_sequence(embedded, lengths, batch_first=True,
                                                     enforce_sorted=False)
    with torch.no_grad():
        out, state = ref(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    h_n = (state[0] if cell == "lstm" else state)[-2:]                 # top layer, both directions
    real = ~memory.mask.numpy()
    np.testing.assert_allclose(memory.outputs.numpy()[real], out.numpy()[real], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(memory.summary.numpy(), torch.cat([h_n[0], h_n[1]], -1).numpy(), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("attention", [None, "bahdanau", "luong"])
def test_gradcheck_through_the_whole_model(attention):
    model = tiny_model("lstm", attention, src_vocab=6, tgt_vocab=5, embed_dim=2, hidden=2).train()
    src, tgt = padded([[4, 5, 4], [5]]), padded([[START_ID, 4, END_ID], [START_ID, END_ID]])
    # the encoder's recurrent layers are checked against PyTorch above
    params = [p for name, p in model.named_parameters() if not name.startswith(("forward_", "backward_"))]
    assert dg.autograd.gradcheck(lambda *_: sequence_loss(model(src, tgt)[0], tgt), params)


def test_model_errors():
    with pytest.raises(ValueError, match="cell must be one of lstm, gru, got 'rnn'"):
        Seq2Seq(9, 9, cell="rnn")
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2Seq(9, 9, attention="dot")
    with pytest.raises(ValueError, match="tgt_vocab_size must count the 4 special tokens"):
        Seq2Seq(9, 4)
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        Seq2Seq(9, 9, hidden=0)
    model = tiny_model()
    tgt = padded(TARGETS[:2])
    with pytest.raises(ValueError, match="expected int64 source ids of shape \\(B, S\\), got float32"):
        model(dg.zeros(2, 3), tgt)
    with pytest.raises(ValueError, match="at least one token before its padding"):
        model(padded([[4, 5], [PAD_ID]]), tgt)
    with pytest.raises(ValueError, match="pad on the right"):
        model(dg.tensor([[4, PAD_ID, 5], [4, 5, 6]]), tgt)
    with pytest.raises(ValueError, match="expected int64 targets \\(B, T\\) with T >= 2"):
        model(padded(SOURCES[:2]), dg.tensor([[START_ID], [START_ID]]))
    with pytest.raises(ValueError, match="3 sources but 2 targets"):
        model(padded(SOURCES[:3]), tgt)
    with pytest.raises(ValueError, match="do not match targets"):
        sequence_loss(dg.zeros(2, 5, 6), tgt)


# ---------------------------------------------------------------------------------------- decoding
def brute_force(model, src_row, max_len, length_norm=0.0):
    """Score every possible output (ending in <end>, or cut at max_len) by teacher forcing."""
    allowed = [t for t in range(model.config["tgt_vocab_size"]) if t not in (PAD_ID, START_ID)]
    candidates = [list(seq) for n in range(1, max_len + 1) for seq in itertools.product(allowed, repeat=n)
                  if END_ID not in seq[:-1] and (seq[-1] == END_ID or n == max_len)]
    src = padded([src_row] * len(candidates))
    log_probs = sequence_log_prob(model, src, padded([[START_ID] + c for c in candidates])).tolist()
    scores = [lp / len(c) ** length_norm for lp, c in zip(log_probs, candidates)]
    best = max(range(len(candidates)), key=scores.__getitem__)
    return candidates[best], log_probs[best], len(candidates)


@pytest.mark.parametrize("cell,attention", CONFIGS)
@pytest.mark.parametrize("length_norm", [0.0, 1.0])
def test_exhaustive_beam_search_equals_brute_force(cell, attention, length_norm):
    for seed in range(2):
        # large logits make some outputs far likelier than others, so the test is not decided by ties
        model = tiny_model(cell, attention, seed=seed)
        with dg.no_grad():
            model.head.weight.mul_(4.0)
        for src_row in SOURCES[:2]:
            ids, log_prob, n = brute_force(model, src_row, max_len=3, length_norm=length_norm)
            hyp = beam_search(model, padded([src_row]), beam=n, max_len=3, length_norm=length_norm)[0]
            assert hyp.ids == ids
            assert math.isclose(hyp.log_prob, log_prob, rel_tol=1e-9)


@pytest.mark.parametrize("cell,attention", CONFIGS)
def test_greedy_equals_beam_width_one(cell, attention):
    for seed in range(3):
        model = tiny_model(cell, attention, seed=seed)
        src = padded(SOURCES)
        greedy = greedy_decode(model, src, max_len=6)
        beam = beam_search(model, src, beam=1, max_len=6)
        for g, b in zip(greedy, beam):
            assert g.ids == b.ids
            assert math.isclose(g.log_prob, b.log_prob, rel_tol=1e-9)
            assert (g.alphas is None) == (attention is None) == (b.alphas is None)
            if attention:
                assert g.alphas.shape == (len(g.ids), 5)
                np.testing.assert_allclose(g.alphas.numpy(), b.alphas.numpy(), rtol=1e-9)
        # the beam's score is the teacher-forced log-probability of what it returns
        for row, b in zip(SOURCES, beam_search(model, src, beam=3, max_len=6)):
            lp = sequence_log_prob(model, padded([row]), padded([[START_ID] + b.ids])).item()
            assert math.isclose(b.log_prob, lp, rel_tol=1e-9)


def test_decoding_stops_at_end_or_max_len():
    model = tiny_model()
    with dg.no_grad():                       # <end> always most likely
        model.head.bias[END_ID] = 50.0
    assert [h.ids for h in greedy_decode(model, padded(SOURCES), max_len=4)] == [[END_ID]] * 4
    with dg.no_grad():                       # <end> never likely
        model.head.bias[END_ID] = -50.0
    src = padded(SOURCES)
    hyps = greedy_decode(model, src, max_len=4) + beam_search(model, src, 3, max_len=4)
    assert all(len(h.ids) == 4 and END_ID not in h.ids for h in hyps)


def test_decoding_errors():
    model, src = tiny_model(), padded(SOURCES)
    with pytest.raises(ValueError, match="max_len must be >= 1, got 0"):
        greedy_decode(model, src, max_len=0)
    with pytest.raises(ValueError, match="beam width must be >= 1, got 0"):
        beam_search(model, src, beam=0)
    with pytest.raises(ValueError, match="length_norm must be >= 0"):
        beam_search(model, src, length_norm=-1.0)
    vocab = CharTokens.from_texts(["abcde"])
    with pytest.raises(TypeError, match="wrap it in a list"):
        translate(model, vocab, vocab, "abc")
    with pytest.raises(ValueError, match="at least one character"):
        translate(model, vocab, vocab, ["ab", ""])


# ---------------------------------------------------------------------------------------- learning
@pytest.mark.parametrize("cell,attention", [("lstm", "bahdanau"), ("gru", "luong"), ("lstm", None)])
def test_overfits_a_tiny_set(cell, attention):
    pairs = make_task("dates", train_size=8, val_size=1, test_size=1, seed=5).train
    src_vocab = CharTokens.from_texts(s for s, _ in pairs)
    tgt_vocab = CharTokens.from_texts(t for _, t in pairs)
    src = src_vocab.pad([src_vocab.encode(s, start=False, end=False) for s, _ in pairs])
    tgt = tgt_vocab.pad([tgt_vocab.encode(t) for _, t in pairs])
    dg.manual_seed(0)
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), embed_dim=16, hidden=32, cell=cell, attention=attention)
    opt = dg.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        loss = sequence_loss(model(src, tgt)[0], tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02
    outputs = [out for out, _ in translate(model, src_vocab, tgt_vocab, [s for s, _ in pairs], max_len=11)]
    assert outputs == [t for _, t in pairs]
    assert evaluate_pairs(model, pairs, src_vocab, tgt_vocab, beam=2)["accuracy"] == 1.0


TINY = dict(task="reverse", train_size=64, val_size=8, test_size=8, max_len=4, hidden=8, embed_dim=4, batch=8,
            val_every=3)


def test_trainer_checkpoints_and_exact_resume(tmp_path):
    config = Seq2SeqConfig(**TINY)
    straight = Seq2SeqTrainer(config, tmp_path / "a")
    result = straight.fit(steps=6, progress=False)
    assert result["steps"] == 6 and 0.0 <= result["val_accuracy"] <= 1.0
    assert {p.name for p in (tmp_path / "a").iterdir()} == {"last.ckpt", "best.ckpt"}
    first = Seq2SeqTrainer(config, tmp_path / "b")
    first.fit(steps=3, progress=False)
    resumed = Seq2SeqTrainer(Seq2SeqConfig(), tmp_path / "b", resume=True)   # the config comes from the run
    assert resumed.config == config and resumed.step == 3
    resumed.fit(steps=6, progress=False)
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), name
    ckpt = dg.load(tmp_path / "b" / "last.ckpt")
    assert ckpt["format"] == "deepgrad-seq2seq" and ckpt["step"] == 6 and ckpt["config"]["task"] == "reverse"
    assert ckpt["optimizer"]["state"]
    assert ckpt["src_vocab"]["words"][:4] == ["<pad>", "<start>", "<end>", "<unk>"]
    model, src_vocab, tgt_vocab, _ = load_seq2seq(tmp_path / "b" / "last.ckpt")
    assert not model.training and tgt_vocab.words == resumed.tgt_vocab.words
    src = src_vocab.pad([src_vocab.encode("abca", start=False, end=False)])
    assert greedy_decode(model, src)[0].ids == greedy_decode(resumed.model, src)[0].ids


def test_trainer_batches_stop_and_refusals(tmp_path):
    trainer = Seq2SeqTrainer(Seq2SeqConfig(**TINY), tmp_path)
    batches = trainer._batches()
    rows = [i for b in batches for i in b]
    assert len(batches) == trainer.batches_per_epoch == 8 and sorted(rows) == list(range(64))
    assert trainer._batches() == batches                    # a function of seed and epoch
    assert trainer.fit(target_accuracy=0.0, progress=False)["steps"] == 0   # reached at the first validation
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        Seq2SeqTrainer(Seq2SeqConfig(**TINY), tmp_path)
    Seq2SeqTrainer(Seq2SeqConfig(**TINY), tmp_path, overwrite=True)
    assert not list(tmp_path.glob("*.ckpt"))
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        Seq2SeqTrainer(Seq2SeqConfig(**TINY), tmp_path / "none", resume=True)
    with pytest.raises(ValueError, match="fewer than one batch"):
        Seq2SeqTrainer(Seq2SeqConfig(**{**TINY, "batch": 100}), tmp_path / "c")
    with pytest.raises(ValueError, match="unknown cell"):
        Seq2SeqTrainer(Seq2SeqConfig(cell="rnn"), tmp_path / "d")
    with pytest.raises(ValueError, match="not a deepgrad sequence-to-sequence checkpoint"):
        dg.save({"format": "other"}, tmp_path / "x.ckpt")
        load_seq2seq(tmp_path / "x.ckpt")


# ---------------------------------------------------------------------------------------- CLI
def parser():
    p = argparse.ArgumentParser(prog="deepgrad")
    add_parsers(p.add_subparsers(dest="command", required=True))
    return p


def test_cli_options():
    p = parser()
    assert p.parse_args(["train-seq2seq"]).attention is None                 # the config's default
    assert p.parse_args(["train-seq2seq", "--attention"]).attention == "bahdanau"
    assert p.parse_args(["train-seq2seq", "--attention", "luong"]).attention == "luong"
    args = p.parse_args(["train-seq2seq", "--no-attention", "--unidirectional", "--cell", "gru"])
    assert (args.attention, args.bidirectional, args.cell) == ("none", False, "gru")
    with pytest.raises(SystemExit):
        p.parse_args(["train-seq2seq", "--attention", "--no-attention"])
    with pytest.raises(SystemExit):
        p.parse_args(["train-seq2seq", "--task", "copy"])


def test_cli_train_and_translate(tmp_path, capsys):
    p = parser()
    out = str(tmp_path / "run")
    argv = ["train-seq2seq", "--task", "reverse", "--train-size", "64", "--val-size", "8", "--test-size", "8",
            "--max-len", "4", "--hidden", "8", "--embed-dim", "4", "--batch", "8", "--steps", "2",
            "--val-every", "2", "--out", out, "--no-progress"]
    args = p.parse_args(argv)
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "on 64 'reverse' pairs" in text and "test (8 held-out pairs, best checkpoint, beam 1)" in text
    args = p.parse_args(["translate", f"{out}/best.ckpt", "abc", "dba!", "--beam", "2", "--show-attention"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("abc -> ") and lines[1] == "      abc"
    assert any(line.startswith("dba! -> ") for line in lines)
    assert "never saw, read as <unk>: '!'" in captured.err
    nonattentive = str(tmp_path / "plain")
    args = p.parse_args([*argv[:-2], nonattentive, "--no-attention", "--no-progress"])
    assert args.func(args) == 0
    assert "(attention: none, hidden 8)" in capsys.readouterr().out
    args = p.parse_args(["translate", f"{nonattentive}/last.ckpt", "abc", "--show-attention"])
    assert args.func(args) == 2
    assert "needs a model trained with attention" in capsys.readouterr().err
