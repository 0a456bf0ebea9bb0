"""Training sequence-to-sequence models on the synthetic tasks (``deepgrad train-seq2seq``) and
translating with them (``deepgrad translate``).

Teacher forcing with a masked cross-entropy; batches are drawn in a seeded shuffled order and
grouped by source length (sorted within windows of 20 batches, then the batches shuffled), so
little time goes to padding. The run validates every ``val_every`` steps by greedy exact-match
accuracy on the validation split, keeps ``last.ckpt`` and ``best.ckpt`` (highest validation
accuracy, then lowest loss), and can stop as soon as a target accuracy is reached. Checkpoints
hold everything needed to continue exactly: config, both vocabularies, weights, optimizer state,
step, position in the data, random-generator state.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import deepgrad as dg
from deepgrad import optim
from deepgrad.models.seq2seq import (
    ATTENTIONS, CELLS, Seq2Seq, decode_batch, sequence_loss, translate)
from deepgrad.text.tasks import TASKS, CharTokens, make_task

from .guard import DivergenceGuard
from .progress import Progress
from .rundir import open_run_dir
from ..cli import positive_int

__all__ = ["Seq2SeqConfig", "Seq2SeqTrainer", "build_seq2seq", "load_seq2seq", "evaluate_pairs",
           "add_parsers"]

FORMAT = "deepgrad-seq2seq"
_BUCKET = 20          # batches per window sorted by source length


@dataclass
class Seq2SeqConfig:
    """Everything that defines a sequence-to-sequence run (stored in every checkpoint)."""

    task: str = "dates"
    train_size: int = 20000
    val_size: int = 1000
    test_size: int = 2000
    min_len: int = 1                 # string lengths of 'reverse' and 'sort'
    max_len: int = 12
    cell: str = "lstm"
    attention: str | None = "bahdanau"
    bidirectional: bool = True
    layers: int = 1
    embed_dim: int = 32
    hidden: int = 64
    attn_dim: int | None = None
    dropout: float = 0.0
    batch: int = 64
    lr: float = 3e-3
    clip: float = 1.0
    lr_decay: float = 0.5            # learning-rate factor when validation accuracy plateaus
    patience: int = 2                # validations without improvement before it is applied
    val_every: int = 250
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> "Seq2SeqConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def build_seq2seq(config: Seq2SeqConfig, src_vocab_size: int, tgt_vocab_size: int) -> Seq2Seq:
    return Seq2Seq(src_vocab_size, tgt_vocab_size, config.embed_dim, config.hidden, config.cell,
                   config.attention, config.bidirectional, config.layers, config.attn_dim, config.dropout)


def load_seq2seq(path: str | Path) -> tuple:
    """(model, source vocabulary, target vocabulary, checkpoint dict) from a checkpoint written by
    ``train-seq2seq``; the model is in eval mode."""
    ckpt = dg.load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a deepgrad sequence-to-sequence checkpoint (written by train-seq2seq)")
    config = Seq2SeqConfig.from_dict(ckpt["config"])
    src_vocab, tgt_vocab = CharTokens.from_dict(ckpt["src_vocab"]), CharTokens.from_dict(ckpt["tgt_vocab"])
    model = build_seq2seq(config, len(src_vocab), len(tgt_vocab))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, src_vocab, tgt_vocab, ckpt


def _encode_pairs(pairs: list, src_vocab: CharTokens, tgt_vocab: CharTokens) -> list:
    return [(src_vocab.encode(s, start=False, end=False), tgt_vocab.encode(t)) for s, t in pairs]


def _tensors(encoded: list, rows: list, src_vocab: CharTokens, tgt_vocab: CharTokens) -> tuple:
    return src_vocab.pad([encoded[i][0] for i in rows]), tgt_vocab.pad([encoded[i][1] for i in rows])


def _by_length(encoded: list, batch: int) -> list:
    """Row lists of at most ``batch`` pairs of similar source length."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    return [order[i:i + batch] for i in range(0, len(order), batch)]


@dg.no_grad()
def evaluate_pairs(model: Seq2Seq, pairs: list, src_vocab: CharTokens, tgt_vocab: CharTokens, beam: int = 1,
                   batch: int = 256, max_len: int | None = None) -> dict:
    """Exact-match accuracy of the decoded outputs against the targets of (source, target) string
    ``pairs``, the mean teacher-forced loss, and the first wrong outputs (up to 10) as
    (source, target, output). Greedy for ``beam`` 1, beam search otherwise."""
    if not pairs:
        raise ValueError("evaluate_pairs: no pairs to evaluate")
    encoded = _encode_pairs(pairs, src_vocab, tgt_vocab)
    max_len = max_len or max(len(t) for _, t in encoded)
    was_training = model.training
    model.eval()
    correct, loss_sum, tokens, wrong = 0, 0.0, 0, []
    try:
        for rows in _by_length(encoded, batch):
            src, tgt = _tensors(encoded, rows, src_vocab, tgt_vocab)
            n_tokens = int((tgt[:, 1:] != tgt_vocab.pad_id).long().sum().item())
            loss_sum += sequence_loss(model(src, tgt)[0], tgt).item() * n_tokens
            tokens += n_tokens
            for i, hyp in zip(rows, decode_batch(model, src, beam, max_len)):
                out = tgt_vocab.decode(hyp.ids)
                if out == pairs[i][1]:
                    correct += 1
                elif len(wrong) < 10:
                    wrong.append((pairs[i][0], pairs[i][1], out))
    finally:
        model.train(was_training)
    return {"accuracy": correct / len(pairs), "loss": loss_sum / tokens, "n": len(pairs), "wrong": wrong}


class Seq2SeqTrainer:
    """One sequence-to-sequence run: data, vocabularies, model, optimizer, checkpoints, and the loop.

    Example::

        trainer = Seq2SeqTrainer(Seq2SeqConfig(task="dates"), "runs/dates")
        result = trainer.fit(minutes=10, target_accuracy=0.995)
        trainer.evaluate("test")["accuracy"]
    """

    def __init__(self, config: Seq2SeqConfig, out_dir: str | Path, resume: bool = False,
                 overwrite: bool = False):
        self.out = Path(out_dir)
        ckpt = open_run_dir(self.out, resume, overwrite, FORMAT, "sequence-to-sequence")
        if ckpt is not None:
            config = Seq2SeqConfig.from_dict(ckpt["config"])
        _check_config(config)
        self.config = config
        self.data = make_task(config.task, config.train_size, config.val_size, config.test_size, config.seed,
                              config.min_len, config.max_len)
        if ckpt:
            self.src_vocab = CharTokens.from_dict(ckpt["src_vocab"])
            self.tgt_vocab = CharTokens.from_dict(ckpt["tgt_vocab"])
        else:
            self.src_vocab = CharTokens.from_texts(s for s, _ in self.data.train)
            self.tgt_vocab = CharTokens.from_texts(t for _, t in self.data.train)
        self.train_pairs = _encode_pairs(self.data.train, self.src_vocab, self.tgt_vocab)
        if len(self.train_pairs) < config.batch:
            raise ValueError(f"{len(self.train_pairs)} training pairs are fewer than one batch of "
                             f"{config.batch}; lower --batch or raise --train-size")
        self.max_output = max(len(t) for _, t in self.train_pairs)   # <end> included, <start> not
        dg.manual_seed(config.seed)
        self.model = build_seq2seq(config, len(self.src_vocab), len(self.tgt_vocab))
        self.params = list(self.model.parameters())
        self.optimizer = optim.Adam(self.params, lr=config.lr)
        self.scheduler = optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="max", factor=config.lr_decay, patience=config.patience,
            min_lr=config.lr * 1e-3)
        # only non-finite losses and gradient norms count as divergence: a converged model's loss is
        # about 1e-3, where one wrong token in a batch is many times the running average
        self.guard = DivergenceGuard()
        self.step = self.epoch = self.batch_index = 0
        self.best = (-1.0, -math.inf)           # (validation accuracy, -validation loss)
        self.last_val = {"accuracy": math.nan, "loss": math.nan}
        if ckpt is not None:
            self._restore(ckpt)

    @property
    def batches_per_epoch(self) -> int:
        return len(self.train_pairs) // self.config.batch

    def _batches(self) -> list:
        """This epoch's batches (row lists): a function of seed and epoch, so a resumed run sees the
        same ones. Rows are shuffled, sorted by source length within windows of ``_BUCKET``
        batches, cut into batches, and the batches shuffled."""
        gen = dg.Generator().manual_seed(self.config.seed * 100_003 + self.epoch)
        size = self.config.batch
        order = dg.randperm(len(self.train_pairs), generator=gen).tolist()[:self.batches_per_epoch * size]
        batches = []
        for start in range(0, len(order), _BUCKET * size):
            window = sorted(order[start:start + _BUCKET * size], key=lambda i: len(self.train_pairs[i][0]))
            batches += [window[i:i + size] for i in range(0, len(window), size)]
        return [batches[i] for i in dg.randperm(len(batches), generator=gen).tolist()]

    # ------------------------------------------------------------------ checkpoints
    def _payload(self) -> dict:
        return {"format": FORMAT, "config": asdict(self.config), "model_config": self.model.config,
                "src_vocab": self.src_vocab.to_dict(), "tgt_vocab": self.tgt_vocab.to_dict(),
                "max_output": self.max_output, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "step": self.step, "epoch": self.epoch,
                "batch_index": self.batch_index, "rng": dg.get_rng_state(), "best": list(self.best),
                "val_accuracy": self.last_val["accuracy"], "val_loss": self.last_val["loss"],
                "guard": self.guard.state_dict()}

    def _restore(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        dg.set_rng_state(ckpt["rng"])
        self.step, self.epoch, self.batch_index = ckpt["step"], ckpt["epoch"], ckpt["batch_index"]
        self.best = tuple(ckpt["best"])
        self.last_val = {"accuracy": ckpt["val_accuracy"], "loss": ckpt["val_loss"]}
        self.guard.load_state_dict(ckpt["guard"])

    def save(self) -> bool:
        """Write ``last.ckpt`` and, when the last validation is the best so far (accuracy first, then
        loss), ``best.ckpt``; returns whether it was. Both writes are atomic."""
        self.out.mkdir(parents=True, exist_ok=True)
        score = (self.last_val["accuracy"], -self.last_val["loss"])
        improved = score > self.best
        if improved:
            self.best = score
        payload = self._payload()
        dg.save(payload, self.out / "last.ckpt")
        if improved:
            dg.save(payload, self.out / "best.ckpt")
        return improved

    def evaluate(self, split: str = "val", beam: int = 1) -> dict:
        """``evaluate_pairs`` on the 'val' or 'test' split with the current weights."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"evaluate: split must be 'train', 'val' or 'test', got {split!r}")
        return evaluate_pairs(self.model, getattr(self.data, split), self.src_vocab, self.tgt_vocab, beam,
                              max_len=self.max_output)

    def validate(self) -> dict:
        """Evaluate on the validation split, let the plateau schedule see the accuracy, checkpoint."""
        self.last_val = self.evaluate("val")
        self.scheduler.step(self.last_val["accuracy"])
        self.save()
        return self.last_val

    # ------------------------------------------------------------------ the loop
    def fit(self, epochs: float | None = None, minutes: float | None = None, steps: int | None = None,
            target_accuracy: float | None = None, progress: bool = True) -> dict:
        """Train until ``epochs`` (passes over the training pairs), ``minutes`` of wall-clock time, a
        total of ``steps`` steps, or a validation accuracy of ``target_accuracy``, whichever comes
        first (at least one must be given). Returns a summary."""
        if epochs is None and minutes is None and steps is None and target_accuracy is None:
            raise ValueError("fit: give epochs, minutes, steps or target_accuracy")
        cfg = self.config
        per_epoch = self.batches_per_epoch
        limits = [s for s in (steps, math.ceil(epochs * per_epoch) if epochs is not None else None)
                  if s is not None]
        target = min(limits) if limits else None
        if self.step == 0 and not (self.out / "last.ckpt").exists():
            self.validate()  # a good state to fall back on
        deadline = time.perf_counter() + 60 * minutes if minutes is not None else None
        bar = Progress(target - self.step if target else None, "train-seq2seq", force_plain=not progress)
        started, done_here = time.perf_counter(), 0
        batches = self._batches()
        self.model.train()
        while ((target is None or self.step < target) and (deadline is None or time.perf_counter() < deadline)
               and not (target_accuracy is not None and self.last_val["accuracy"] >= target_accuracy)):
            src, tgt = _tensors(self.train_pairs, batches[self.batch_index], self.src_vocab, self.tgt_vocab)
            loss = sequence_loss(self.model(src, tgt)[0], tgt)
            self.optimizer.zero_grad()
            loss.backward()
            self.guard.update(loss.item(), self.optimizer, self.params, cfg.clip, self.model,
                              self.out / "last.ckpt", lambda msg: bar.write(f"step {self.step}: {msg}"))
            self.step += 1
            done_here += 1
            self.batch_index += 1
            if self.batch_index == per_epoch:
                self.batch_index = 0
                self.epoch += 1
                batches = self._batches()
            rate = done_here * cfg.batch / max(time.perf_counter() - started, 1e-9)
            bar.update(1, loss=loss.item(), val_acc=self.last_val["accuracy"], pairs_per_s=round(rate, 1))
            if self.step % cfg.val_every == 0:
                self.validate()
        bar.close()
        if done_here and self.step % cfg.val_every != 0:
            self.validate()
        elapsed = time.perf_counter() - started
        return {"steps": self.step, "epoch": self.step / per_epoch, "val_accuracy": self.last_val["accuracy"],
                "val_loss": self.last_val["loss"], "best_val_accuracy": self.best[0], "seconds": elapsed,
                "pairs_per_s": done_here * cfg.batch / max(elapsed, 1e-9),
                "skipped_steps": self.guard.total_skipped}


def _check_config(config: Seq2SeqConfig) -> None:
    if config.task not in TASKS:
        raise ValueError(f"unknown task {config.task!r}; choose one of {', '.join(TASKS)}")
    if config.cell not in CELLS:
        raise ValueError(f"unknown cell {config.cell!r}; choose one of {', '.join(CELLS)}")
    if config.attention not in ATTENTIONS:
        raise ValueError(f"unknown attention {config.attention!r}; choose bahdanau, luong or none")
    if not 0 < config.lr_decay < 1:
        raise ValueError(f"lr_decay must be in (0, 1), got {config.lr_decay}")


# ---------------------------------------------------------------------------------------- CLI


def add_parsers(sub) -> None:
    """Register ``train-seq2seq`` and ``translate`` on an argparse subparsers object."""
    d = Seq2SeqConfig()
    p = sub.add_parser("train-seq2seq", help="train an encoder-decoder on dates, reverse or sort",
                       description="Train a recurrent encoder-decoder (optionally with attention) on a "
                                   "synthetic task: 'dates' (dates in many human formats -> ISO "
                                   "YYYY-MM-DD), 'reverse' or 'sort' (strings of letters). Validation "
                                   "and test examples are never in the training set.")
    p.add_argument("--task", choices=TASKS, default=d.task)
    p.add_argument("--train-size", type=positive_int, default=d.train_size)
    p.add_argument("--val-size", type=positive_int, default=d.val_size)
    p.add_argument("--test-size", type=positive_int, default=d.test_size)
    p.add_argument("--min-len", type=positive_int, default=d.min_len, help="shortest string (reverse, sort)")
    p.add_argument("--max-len", type=positive_int, default=d.max_len, help="longest string (reverse, sort)")
    p.add_argument("--cell", choices=CELLS, default=d.cell)
    att = p.add_mutually_exclusive_group()
    # "none" rather than None, and no default here: argparse only sees a conflict between the two
    # options when the value given differs from the default
    att.add_argument("--attention", nargs="?", choices=[a for a in ATTENTIONS if a], const="bahdanau",
                     help="bahdanau (additive, the default) or luong (multiplicative)")
    att.add_argument("--no-attention", dest="attention", action="store_const", const="none",
                     help="a plain encoder-decoder: the decoder sees only the encoder's summary vector")
    p.add_argument("--unidirectional", dest="bidirectional", action="store_false",
                   help="a forward-only encoder (default: bidirectional)")
    p.add_argument("--layers", type=positive_int, default=d.layers, help="encoder layers")
    p.add_argument("--embed-dim", type=positive_int, default=d.embed_dim)
    p.add_argument("--hidden", type=positive_int, default=d.hidden)
    p.add_argument("--attn-dim", type=positive_int, default=d.attn_dim, help="additive attention size "
                   "(default: --hidden)")
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--batch", type=positive_int, default=d.batch)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--clip", type=float, default=d.clip, help="gradient-norm clipping (0 disables)")
    p.add_argument("--lr-decay", type=float, default=d.lr_decay,
                   help="multiply the learning rate by this when validation accuracy stops improving")
    p.add_argument("--patience", type=int, default=d.patience,
                   help="validations without improvement before --lr-decay applies (a large value: never)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--epochs", type=float, help="passes over the training pairs")
    stop.add_argument("--minutes", type=float, help="wall-clock training budget")
    p.add_argument("--steps", type=positive_int, help="stop after this many steps in total")
    p.add_argument("--target-accuracy", type=float, default=None,
                   help="stop once the validation exact-match accuracy reaches this (e.g. 0.995)")
    p.add_argument("--val-every", type=positive_int, default=d.val_every, help="steps between validations")
    p.add_argument("--beam", type=positive_int, default=1, help="beam width for the final test evaluation")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", default="runs/seq2seq", help="run directory for checkpoints")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--overwrite", action="store_true", help="replace the checkpoints of a run in --out")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a bar")
    p.set_defaults(func=_train_seq2seq)

    p = sub.add_parser("translate", help="decode texts with a sequence-to-sequence checkpoint",
                       description="Print the output of a train-seq2seq checkpoint for each TEXT.")
    p.add_argument("checkpoint")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--beam", type=positive_int, default=1, help="beam width (1: greedy)")
    p.add_argument("--length-norm", type=float, nargs="?", const=1.0, default=0.0, metavar="ALPHA",
                   help="rank finished beams by log-probability / length^ALPHA (ALPHA 1 if not given)")
    p.add_argument("--max-len", type=positive_int, default=None,
                   help="longest output in tokens (default: the longest training target)")
    p.add_argument("--show-attention", action="store_true", help="print each output token's attention "
                   "over the source as a character heat map")
    p.set_defaults(func=_translate)


def _train_seq2seq(args) -> int:
    if args.epochs is None and args.minutes is None and args.steps is None and args.target_accuracy is None:
        args.epochs = 1.0
    names = {f.name for f in fields(Seq2SeqConfig)}
    config = Seq2SeqConfig(**{k: v for k, v in vars(args).items() if k in names})
    config.attention = {None: Seq2SeqConfig.attention, "none": None}.get(args.attention, args.attention)
    trainer = Seq2SeqTrainer(config, args.out, resume=args.resume, overwrite=args.overwrite)
    cfg = trainer.config
    print(f"training a {cfg.cell} encoder-decoder (attention: {cfg.attention or 'none'}, hidden "
          f"{cfg.hidden}) on {len(trainer.data.train)} '{cfg.task}' pairs, vocabularies "
          f"{len(trainer.src_vocab)} -> {len(trainer.tgt_vocab)}; checkpoints in {args.out}")
    result = trainer.fit(epochs=args.epochs, minutes=args.minutes, steps=args.steps,
                         target_accuracy=args.target_accuracy, progress=not args.no_progress)
    print(f"done: {result['steps']} steps ({result['epoch']:.2f} epochs) in {result['seconds']:.0f} s, "
          f"validation exact match {result['val_accuracy']:.2%} (best {result['best_val_accuracy']:.2%}), "
          f"{result['pairs_per_s']:.0f} pairs/s, {result['skipped_steps']} steps skipped")
    model, src_vocab, tgt_vocab, _ = load_seq2seq(trainer.out / "best.ckpt")
    test = evaluate_pairs(model, trainer.data.test, src_vocab, tgt_vocab, args.beam,
                          max_len=trainer.max_output)
    print(f"test ({test['n']} held-out pairs, best checkpoint, beam {args.beam}): exact match "
          f"{test['accuracy']:.2%}")
    for src, tgt, out in test["wrong"][:5]:
        print(f"  {src!r} -> {out!r} (expected {tgt!r})")
    return 0


_SHADES = " .:-=+*#%@"


def _attention_map(source: str, output: str, alphas) -> str:
    """Rows of characters shading each output token's attention weights over the source."""
    lines = ["      " + source]
    for token, row in zip(list(output) + ["<end>"], alphas.tolist()):
        shades = "".join(_SHADES[min(int(w * len(_SHADES)), len(_SHADES) - 1)] for w in row[:len(source)])
        lines.append(f"{token:>5} " + shades)
    return "\n".join(lines)


def _translate(args) -> int:
    model, src_vocab, tgt_vocab, ckpt = load_seq2seq(args.checkpoint)
    if args.show_attention and model.attention is None:
        print("error: --show-attention needs a model trained with attention", file=sys.stderr)
        return 2
    for text in args.texts:
        missing = src_vocab.missing(text)
        if missing:
            print(f"warning: {text!r} has characters the model never saw, read as <unk>: "
                  f"{', '.join(repr(c) for c in missing)}", file=sys.stderr)
    max_len = args.max_len or ckpt["max_output"]
    results = translate(model, src_vocab, tgt_vocab, args.texts, args.beam, max_len, args.length_norm)
    for text, (output, hyp) in zip(args.texts, results):
        print(f"{text} -> {output}")
        if args.show_attention:
            print(_attention_map(text, output, hyp.alphas))
    return 0
