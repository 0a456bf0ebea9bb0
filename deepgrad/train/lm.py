"""Training the character-level language model (``deepgrad train-lm``).

Truncated backpropagation through time over contiguous streams (char-rnn): the recurrent state is
carried from one batch to the next and detached, so each backward covers ``seq_len`` steps while the
model still reads the text as one long sequence. Checkpoints hold everything needed to continue
exactly: config, vocabulary, weights, optimizer state, step, position in the data, carried state,
random-generator state.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import optim
from deepgrad.models.charlm import CharLM
from deepgrad.text import CharVocab, CorpusError, StreamBatches, read_corpus, split_train_val

from .guard import DivergenceGuard
from .progress import Progress
from .rundir import open_run_dir

FORMAT = "deepgrad-charlm"


@dataclass
class LMConfig:
    """Everything that defines a language-model run (stored in every checkpoint)."""

    corpus: str | None = None
    cell: str = "lstm"
    hidden: int = 256
    layers: int = 2
    embed_dim: int = 64
    seq_len: int = 64
    batch: int = 32
    lr: float = 2e-3
    dropout: float = 0.0
    clip: float = 5.0
    val_fraction: float = 0.1
    val_every: int = 200
    seed: int = 0
    keep: int = 3

    @classmethod
    def from_dict(cls, d: dict) -> "LMConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def detach_state(state):
    """The recurrent state cut from its history (a tensor or a tuple of tensors)."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(s.detach() for s in state)
    return state.detach()


def _state_to_list(state):
    if state is None:
        return None
    return list(state) if isinstance(state, (tuple, list)) else [state]


def _state_from_list(items, like_tuple: bool):
    if items is None:
        return None
    return tuple(items) if like_tuple else items[0]


def build_model(config: LMConfig, vocab_size: int) -> CharLM:
    return CharLM(vocab_size, config.hidden, config.layers, config.cell, config.dropout, config.embed_dim)


def load_lm(path: str | Path):
    """(model, vocab, checkpoint dict) from a language-model checkpoint; the model is in eval mode."""
    ckpt = dg.load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a deepgrad language-model checkpoint (written by train-lm)")
    config = LMConfig.from_dict(ckpt["config"])
    vocab = CharVocab.from_dict(ckpt["vocab"])
    model = build_model(config, len(vocab))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, vocab, ckpt


@dg.no_grad()
def evaluate(model: CharLM, batches: StreamBatches) -> float:
    """Mean cross-entropy (nats per character) over all batches, carrying the state across them."""
    was_training = model.training
    model.eval()
    state, total, count = None, 0.0, 0
    for x, y in batches:
        logits, state = model(x, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count


class LMTrainer:
    """One language-model run: data, model, optimizer, checkpoints, and the loop.

    Example::

        trainer = LMTrainer(LMConfig(hidden=128), "runs/lm")
        result = trainer.fit(minutes=3)
    """

    def __init__(self, config: LMConfig, out_dir: str | Path, resume: bool = False,
                 overwrite: bool = False):
        self.out = Path(out_dir)
        ckpt = open_run_dir(self.out, resume, overwrite, FORMAT, "language-model")
        if ckpt is not None:
            config = LMConfig.from_dict(ckpt["config"])
        self.config = config
        text = read_corpus(config.corpus)
        self.vocab = CharVocab.from_dict(ckpt["vocab"]) if ckpt else CharVocab.from_text(text)
        missing = self.vocab.missing(text)
        if missing:
            raise CorpusError(f"the corpus has characters the checkpoint's vocabulary lacks: {missing!r}")
        train_ids, val_ids = split_train_val(self.vocab.encode(text), config.val_fraction)
        self.train_batches = StreamBatches(train_ids, config.batch, config.seq_len, "training split")
        val_batch = min(config.batch, max((len(val_ids) - 1) // config.seq_len, 1))
        self.val_batches = StreamBatches(val_ids, val_batch, config.seq_len, "validation split")
        dg.manual_seed(config.seed)
        self.model = build_model(config, len(self.vocab))
        self.optimizer = optim.Adam(self.model.parameters(), lr=config.lr)
        self.guard = DivergenceGuard()
        self.step = self.epoch = self.batch_index = 0
        self.state = None
        self.best_val = math.inf
        self.last_val = math.nan
        if ckpt is not None:
            self._restore(ckpt)

    # ------------------------------------------------------------------ checkpoints
    def _payload(self, val_loss: float) -> dict:
        return {
            "format": FORMAT, "config": asdict(self.config), "vocab": self.vocab.to_dict(),
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "step": self.step, "epoch": self.epoch, "batch_index": self.batch_index,
            "rng": dg.get_rng_state(), "best_val": self.best_val, "val_loss": val_loss,
            "guard": self.guard.state_dict(), "state": _state_to_list(self.state),
            "state_is_tuple": isinstance(self.state, tuple),
        }

    def _restore(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        dg.set_rng_state(ckpt["rng"])
        self.step, self.epoch, self.batch_index = ckpt["step"], ckpt["epoch"], ckpt["batch_index"]
        self.best_val, self.last_val = ckpt["best_val"], ckpt["val_loss"]
        self.guard.load_state_dict(ckpt["guard"])
        self.state = _state_from_list(ckpt["state"], ckpt["state_is_tuple"])

    def save(self, val_loss: float) -> Path:
        """Write the char-rnn style checkpoint ``lm_<cell>_epoch<E>_<val>.ckpt``, ``last.ckpt`` and,
        when the validation loss is the best so far, ``best.ckpt``; keep the ``keep`` newest epoch
        checkpoints."""
        self.out.mkdir(parents=True, exist_ok=True)
        improved = val_loss < self.best_val
        if improved:
            self.best_val = val_loss
        payload = self._payload(val_loss)
        epoch_f = self.step / len(self.train_batches)
        path = self.out / f"lm_{self.config.cell}_epoch{epoch_f:.2f}_{val_loss:.4f}.ckpt"
        dg.save(payload, path)
        dg.save(payload, self.out / "last.ckpt")
        if improved:
            dg.save(payload, self.out / "best.ckpt")
        olds = sorted(self.out.glob(f"lm_{self.config.cell}_epoch*.ckpt"), key=lambda p: p.stat().st_mtime)
        for old in olds[:-self.config.keep] if self.config.keep > 0 else olds:
            old.unlink(missing_ok=True)
        return path

    # ------------------------------------------------------------------ the loop
    def fit(self, epochs: float | None = None, minutes: float | None = None, steps: int | None = None,
            progress: bool = True) -> dict:
        """Train until ``epochs`` (over the training split), ``minutes`` of wall-clock time or a total
        of ``steps`` steps, whichever comes first (at least one must be given). Returns a summary."""
        if epochs is None and minutes is None and steps is None:
            raise ValueError("fit: give epochs, minutes or steps")
        cfg = self.config
        per_epoch = len(self.train_batches)
        limit = [s for s in (steps, math.ceil(epochs * per_epoch) if epochs is not None else None)
                 if s is not None]
        target = min(limit) if limit else None
        params = list(self.model.parameters())
        chars = cfg.batch * cfg.seq_len
        if self.step == 0 and not (self.out / "last.ckpt").exists():
            self.last_val = evaluate(self.model, self.val_batches)
            self.save(self.last_val)  # a good state to fall back on
        deadline = time.perf_counter() + 60 * minutes if minutes is not None else None
        bar = Progress(target - self.step if target else None, "train-lm", force_plain=not progress)
        started, done_here = time.perf_counter(), 0
        self.model.train()
        val = self.last_val
        while (target is None or self.step < target) and (deadline is None or time.perf_counter() < deadline):
            x, y = self.train_batches.batch(self.batch_index)
            logits, new_state = self.model(x, self.state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            verdict = self.guard.update(loss.item(), self.optimizer, params, cfg.clip, self.model,
                                        self.out / "last.ckpt",
                                        lambda msg: bar.write(f"step {self.step}: {msg}"))
            # after a bad step the carried state may hold NaN: start the streams afresh
            self.state = detach_state(new_state) if verdict == "ok" else None
            self.step += 1
            done_here += 1
            self.batch_index += 1
            if self.batch_index == per_epoch:
                self.batch_index, self.state = 0, None
                self.epoch += 1
            rate = done_here * chars / max(time.perf_counter() - started, 1e-9)
            bar.update(1, loss=loss.item(), val=val, chars_per_s=round(rate))
            if self.step % cfg.val_every == 0:
                val = evaluate(self.model, self.val_batches)
                self.save(val)
        bar.close()
        if done_here and self.step % cfg.val_every != 0:
            val = evaluate(self.model, self.val_batches)
            self.save(val)
        self.last_val = val
        elapsed = time.perf_counter() - started
        return {"steps": self.step, "epoch": self.step / per_epoch, "val_loss": val,
                "best_val": self.best_val, "seconds": elapsed,
                "chars_per_s": done_here * chars / max(elapsed, 1e-9),
                "skipped_steps": self.guard.total_skipped}
