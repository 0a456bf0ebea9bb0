"""The character-level language model: sampling, beam search, training loop, resume, CLI."""
import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import deepgrad as dg
from deepgrad.models import CharLM, beam_search, sample
from deepgrad.models.charlm import _prime
from deepgrad.nn.functional import log_softmax
from deepgrad.text import CharVocab
from deepgrad.train import DivergenceGuard
from deepgrad.train.lm import LMConfig, LMTrainer, load_lm

ROOT = Path(__file__).resolve().parents[1]
SMALL_TEXT = ("To be, or not to be, that is the question:\n"
              "Whether 'tis nobler in the mind to suffer\n"
              "The slings and arrows of outrageous fortune,\n") * 12


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "small.txt"
    p.write_text(SMALL_TEXT, encoding="utf-8")
    return p


def tiny_model(vocab_size=3, hidden=4, seed=0):
    dg.manual_seed(seed)
    model = CharLM(vocab_size, hidden=hidden, layers=1, embed_dim=3)
    return model.eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "rnn_relu", "mut1", "mut2", "mut3", "peephole",
                                  "coupled"])
def test_charlm_cells_shapes_and_state(cell):
    dg.manual_seed(0)
    model = CharLM(10, hidden=8, layers=2, cell=cell, embed_dim=5)
    ids = dg.randint(0, 10, (3, 7))
    logits, state = model(ids)
    assert logits.shape == (3, 7, 10)
    logits2, _ = model(ids[:, :1], state)       # the state continues the sequence
    assert logits2.shape == (3, 1, 10)
    dg.nn.functional.cross_entropy(logits.reshape(-1, 10), ids.reshape(-1)).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="unknown cell 'tcn'"):
        CharLM(5, cell="tcn")


@pytest.mark.parametrize("temperature", [1e-3, 0.1, 0.5, 0.8, 1.0, 2.0])
def test_sampling_never_crashes_and_is_seeded(temperature):
    vocab = CharVocab.from_text("abcdef\n")
    model = tiny_model(len(vocab), hidden=8)
    a = sample(model, vocab, 40, temperature, "a", dg.Generator().manual_seed(3))
    b = sample(model, vocab, 40, temperature, "a", dg.Generator().manual_seed(3))
    assert a == b and len(a) == 40 and set(a) <= set(vocab.chars)


def test_low_temperature_equals_argmax():
    vocab = CharVocab.from_text("abcdef\n")
    model = tiny_model(len(vocab), hidden=8)
    greedy = sample(model, vocab, 30, prime="b", argmax=True)
    assert sample(model, vocab, 30, 1e-4, "b", dg.Generator().manual_seed(1)) == greedy
    assert sample(model, vocab, 30, 0.0, "b") == greedy


def test_sampling_rejects_bad_temperature():
    vocab = CharVocab.from_text("ab")
    with pytest.raises(ValueError, match="temperature"):
        sample(tiny_model(2), vocab, 5, -1.0, "a")


def _sequence_logprob(model, vocab, prime, seq):
    logits, state = _prime(model, vocab, prime)
    total = 0.0
    for c in seq:
        total += log_softmax(logits.double(), -1)[c].item()
        logits, state = model(dg.tensor([[c]]), state)
        logits = logits[0, -1]
    return total


def test_beam_search_finds_the_exact_best_sequence():
    vocab = CharVocab.from_text("abc")
    model = tiny_model(3, hidden=4, seed=5)
    length = 4
    with dg.no_grad():
        brute = max(itertools.product(range(3), repeat=length),
                    key=lambda s: _sequence_logprob(model, vocab, "a", s))
        best_lp = _sequence_logprob(model, vocab, "a", brute)
    text, lp = beam_search(model, vocab, length, beam=3 ** (length - 1), prime="a")
    assert text == vocab.decode(brute)
    assert math.isclose(lp, best_lp, rel_tol=1e-6)  # float32 model run in a batch vs alone


def test_beam_width_one_is_greedy():
    vocab = CharVocab.from_text("abcd")
    model = tiny_model(4, hidden=6, seed=2)
    text, _ = beam_search(model, vocab, 12, beam=1, prime="a")
    assert text == sample(model, vocab, 12, prime="a", argmax=True)


def test_divergence_guard_policy():
    g = DivergenceGuard(explode_factor=4.0, max_failures=3, warmup=2)
    assert [g.check(v) for v in (2.0, 2.0, 2.0)] == ["ok"] * 3
    assert g.check(float("nan")) == "skip"
    assert g.check(100.0) == "skip"                   # exploding: 50x the running average
    assert g.check(2.0, grad_norm=float("inf")) == "restore"
    assert g.check(1.9) == "ok" and g.failures == 0 and g.total_skipped == 3


def _config(corpus, **kw):
    base = dict(corpus=str(corpus), hidden=16, layers=1, embed_dim=8, seq_len=8, batch=4, lr=3e-3,
                val_every=3, val_fraction=0.2)
    base.update(kw)
    return LMConfig(**base)


def test_training_lowers_loss_and_writes_checkpoints(corpus, tmp_path):
    trainer = LMTrainer(_config(corpus), tmp_path / "run")
    first = trainer.last_val
    result = trainer.fit(steps=30, progress=False)
    assert result["steps"] == 30
    assert result["val_loss"] < math.log(len(trainer.vocab))   # better than uniform guessing
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"last.ckpt", "best.ckpt"} <= files
    epochs = [f for f in files if f.startswith("lm_lstm_epoch")]
    assert 1 <= len(epochs) <= 3                                # --keep 3
    model, vocab, ckpt = load_lm(tmp_path / "run" / "best.ckpt")
    assert vocab.chars == trainer.vocab.chars and ckpt["step"] > 0
    assert first != result["val_loss"]


def test_nan_loss_skips_step_and_repeated_failures_restore(corpus, tmp_path):
    trainer = LMTrainer(_config(corpus), tmp_path / "run")
    trainer.fit(steps=3, progress=False)               # writes last.ckpt at step 3
    good = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    lr0 = trainer.optimizer.param_groups[0]["lr"]
    handle = trainer.model.head.register_forward_hook(lambda m, i, o: o * float("nan"))
    trainer.fit(steps=6, progress=False)                # three NaN steps in a row
    handle.remove()
    for k, v in trainer.model.state_dict().items():
        assert dg.equal(v, good[k]), k                  # no update applied, last good state restored
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(lr0 * 0.5 ** 3)
    assert trainer.guard.total_skipped == 3


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "deepgrad.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_resume_continues_exactly_in_a_fresh_process(corpus, tmp_path):
    common = [str(corpus), "--hidden", "16", "--layers", "2", "--dropout", "0.2", "--embed-dim", "8",
              "--seq-len", "8", "--batch", "4", "--val-every", "3", "--val-fraction", "0.2",
              "--no-progress"]
    r = _cli("train-lm", *common, "--steps", "6", "--out", "straight", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _cli("train-lm", *common, "--steps", "3", "--out", "resumed", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _cli("train-lm", "--resume", "--steps", "6", "--out", "resumed", "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    a = dg.load(tmp_path / "straight" / "last.ckpt")
    b = dg.load(tmp_path / "resumed" / "last.ckpt")
    assert a["step"] == b["step"] == 6
    for k in a["model"]:
        assert dg.equal(a["model"][k], b["model"][k]), k


def test_cli_train_sample_and_errors(corpus, tmp_path):
    r = _cli("train-lm", str(corpus), "--hidden", "16", "--layers", "1", "--seq-len", "8", "--batch", "4",
             "--steps", "4", "--val-every", "2", "--val-fraction", "0.2", "--out", "run", "--no-progress",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "validation loss" in r.stdout
    ckpt = str(tmp_path / "run" / "best.ckpt")
    r1 = _cli("sample", ckpt, "--length", "50", "--seed", "7", "--prime", "To be", cwd=tmp_path)
    r2 = _cli("sample", ckpt, "--length", "50", "--seed", "7", "--prime", "To be", cwd=tmp_path)
    assert r1.returncode == 0, r1.stderr
    assert r1.stdout == r2.stdout and r1.stdout.startswith("To be") and len(r1.stdout) >= 55
    r = _cli("sample", ckpt, "--length", "10", "--beam", "3", "--prime", "T", cwd=tmp_path)
    assert r.returncode == 0 and "log-probability" in r.stderr
    r = _cli("sample", ckpt, "--prime", "Zebra§", cwd=tmp_path)
    assert r.returncode == 2 and "'Z'" in r.stderr and "'§'" in r.stderr
    r = _cli("train-lm", str(corpus), "--batch", "64", "--seq-len", "64", "--out", "big", cwd=tmp_path)
    assert r.returncode == 2 and "too few for one batch" in r.stderr
    r = _cli("train-lm", "--resume", "--out", "nothing-here", cwd=tmp_path)
    assert r.returncode == 2 and "no checkpoint to resume" in r.stderr
    r = _cli("train-lm", str(corpus), "--steps", "1", "--out", "run", cwd=tmp_path)
    assert r.returncode == 2 and "already holds checkpoints" in r.stderr and "--overwrite" in r.stderr


def test_cli_viz_cells_and_grad_flow(corpus, tmp_path):
    r = _cli("train-lm", str(corpus), "--hidden", "12", "--layers", "1", "--seq-len", "8", "--batch", "4",
             "--steps", "2", "--val-every", "2", "--val-fraction", "0.2", "--out", "run", "--no-progress",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _cli("viz-cells", "run/best.ckpt", "--text", str(corpus), "--max-chars", "300", "--out", "c.html",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert page.count("<span style='background:rgb(") >= 300 and "inside quotes" in page
    r = _cli("grad-flow", str(corpus), "--steps", "40", "--batch", "4", "--hidden", "16", "--out", "g.png",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = {ln.split()[0]: ln for ln in r.stdout.splitlines() if "ratio" in ln}
    assert set(lines) == {"vanilla", "LSTM"}
