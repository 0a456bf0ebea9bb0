"""Training and using image captioners (``deepgrad train-captioner``, ``deepgrad caption``).

Teacher forcing on (image, reference caption) pairs -- every reference of every image is a
training example -- with the cross-entropy masked over padding, Adam, gradient clipping and the
shared divergence guard. The default data are generated scenes (``deepgrad.vision.scenes``); a
COCO or Karpathy-split folder works the same way. Checkpoints hold everything needed to continue
exactly or to caption new images: config, vocabulary, model and optimizer state, step, position in
the data, random-generator state.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import deepgrad as dg
from deepgrad import optim
from deepgrad.models.captioner import (
    MODES, Captioner, beam_search, caption_loss, greedy_decode, sample_captions)
from deepgrad.text.words import WordVocab, bleu_scores, tokenize
from deepgrad.vision.captions import CaptionCorpus, load_caption_data, read_image
from deepgrad.vision.scenes import SceneCorpus, attribute_accuracy, generate_scenes

from .guard import DivergenceGuard
from .progress import Progress
from .rundir import open_run_dir
from ..cli import positive_int

__all__ = ["FORMAT", "CaptionConfig", "CaptionTrainer", "load_captioner", "build_captioner", "decode",
           "evaluate_captions", "add_parsers"]

FORMAT = "deepgrad-captioner"
_VAL_SEED_OFFSET = 1_000_003        # validation scenes come from another stream than training ones


@dataclass
class CaptionConfig:
    """Everything that defines a captioning run (stored in every checkpoint)."""

    data: str | None = None          # caption data folder or file; None: generated scenes
    images: str | None = None        # image folder, when not found from the annotations
    scenes: int = 8000               # generated training scenes (validation: val_scenes more)
    val_scenes: int = 300
    captions_per_scene: int = 5
    image_size: int = 64
    mode: str = "attention"
    encoder: str = "small"
    width: int = 16
    freeze_encoder: bool = False
    embed_dim: int = 64
    hidden: int = 192
    attn_dim: int = 64
    dropout: float = 0.0
    min_count: int = 5
    max_len: int = 20
    batch: int = 64
    lr: float = 3e-3
    clip: float = 5.0
    val_fraction: float = 0.05
    val_every: int = 250
    seed: int = 0
    keep: int = 3

    @classmethod
    def from_dict(cls, d: dict) -> "CaptionConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def load_data(config: CaptionConfig) -> tuple:
    """(training corpus, validation corpus) of a run: generated scenes, or the data set's 'train'
    and 'val' splits (without a 'val' split, ``val_fraction`` of the training images, chosen with
    the run's seed)."""
    if config.data is None:
        return (generate_scenes(config.scenes, config.image_size, config.captions_per_scene, config.seed),
                generate_scenes(config.val_scenes, config.image_size, config.captions_per_scene,
                                config.seed + _VAL_SEED_OFFSET))
    train = load_caption_data(config.data, "train", config.image_size, config.images)
    try:
        val = load_caption_data(config.data, "val", config.image_size, config.images)
    except FileNotFoundError:
        val = None
    if val is None or len(val) == 0:
        if len(train) < 2:
            raise ValueError(f"{config.data}: {len(train)} training image(s) and no validation split; "
                             "need at least 2 images to hold one out")
        order = dg.randperm(len(train), generator=dg.Generator().manual_seed(config.seed)).tolist()
        n_val = min(max(1, round(config.val_fraction * len(train))), len(train) - 1)
        train, val = train.subset(sorted(order[n_val:])), train.subset(sorted(order[:n_val]))
    if len(train) == 0:
        raise ValueError(f"{config.data}: the training split has no images")
    return train, val


def build_captioner(config: CaptionConfig, vocab_size: int) -> Captioner:
    return Captioner(vocab_size, mode=config.mode, encoder=config.encoder, image_size=config.image_size,
                     embed_dim=config.embed_dim, hidden=config.hidden, attn_dim=config.attn_dim,
                     dropout=config.dropout, width=config.width, freeze_encoder=config.freeze_encoder)


def load_captioner(path: str | Path) -> tuple:
    """(model, vocab, checkpoint dict) from a captioner checkpoint; the model is in eval mode."""
    ckpt = dg.load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a deepgrad captioner checkpoint (written by train-captioner)")
    vocab = WordVocab.from_dict(ckpt["vocab"])
    model = build_captioner(CaptionConfig.from_dict(ckpt["config"]), len(vocab))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, vocab, ckpt


def _pairs(corpus: CaptionCorpus, vocab: WordVocab, max_len: int) -> list:
    """(image index, caption ids) for every reference of every image, captions cut to ``max_len``
    words."""
    return [(i, vocab.encode(tokenize(c)[:max_len])) for i, refs in enumerate(corpus.captions) for c in refs]


def _batch(corpus: CaptionCorpus, pairs: list, vocab: WordVocab, rows: list) -> tuple:
    return (corpus.float_images([pairs[r][0] for r in rows]), vocab.pad([pairs[r][1] for r in rows]))


@dg.no_grad()
def validation_loss(model: Captioner, corpus: CaptionCorpus, pairs: list, vocab: WordVocab,
                    batch: int = 128) -> float:
    """Mean masked cross-entropy (nats per word) of the teacher-forced model over ``pairs``."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(pairs), batch):
        images, captions = _batch(corpus, pairs, vocab, list(range(start, min(start + batch, len(pairs)))))
        logits, _ = model(images, captions)
        words = (captions[:, 1:] != vocab.pad_id).sum().item()
        total += caption_loss(logits, captions, vocab.pad_id).item() * words
        count += words
    model.train(was_training)
    return total / max(count, 1)


def decode(model: Captioner, images: dg.Tensor, vocab: WordVocab, beam: int = 1,
           temperature: float | None = None, length_norm: float = 0.0, max_len: int = 20,
           generator: dg.Generator | None = None) -> list:
    """Captions (``Caption`` objects) of float images: sampled at ``temperature`` when it is given,
    else greedy (beam 1) or beam search."""
    if temperature is not None:
        return sample_captions(model, images, vocab, temperature, generator, max_len)
    if beam == 1 and not length_norm:
        return greedy_decode(model, images, vocab, max_len)
    return beam_search(model, images, vocab, beam, max_len, length_norm)


def evaluate_captions(model: Captioner, vocab: WordVocab, corpus: CaptionCorpus, beam: int = 1,
                      length_norm: float = 0.0, max_len: int = 20, batch: int = 100) -> dict:
    """Caption every image of ``corpus`` and score against its references: corpus BLEU-1..4 (needs
    nltk) and, for generated scenes, ``attribute_accuracy``. Returns the scores and the captions."""
    hypotheses = []
    for start in range(0, len(corpus), batch):
        images = corpus.float_images(range(start, min(start + batch, len(corpus))))
        captions = decode(model, images, vocab, beam, None, length_norm, max_len)
        hypotheses += [vocab.decode_words(c.ids) for c in captions]
    result = bleu_scores([[tokenize(r) for r in refs] for refs in corpus.captions], hypotheses)
    if isinstance(corpus, SceneCorpus):
        result.update(attribute_accuracy(corpus.scenes, hypotheses))
    result["captions"] = [" ".join(h) for h in hypotheses]
    return result


class CaptionTrainer:
    """One captioning run: data, vocabulary, model, optimizer, checkpoints, and the loop.

    Example::

        trainer = CaptionTrainer(CaptionConfig(mode="attention", scenes=4000), "runs/captioner")
        result = trainer.fit(minutes=10)
    """

    def __init__(self, config: CaptionConfig, out_dir: str | Path, resume: bool = False,
                 overwrite: bool = False):
        self.out = Path(out_dir)
        ckpt = open_run_dir(self.out, resume, overwrite, FORMAT, "captioner")
        if ckpt is not None:
            config = CaptionConfig.from_dict(ckpt["config"])
        if config.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {config.mode!r}")
        self.config = config
        self.train_data, self.val_data = load_data(config)
        self.vocab = (WordVocab.from_dict(ckpt["vocab"]) if ckpt else WordVocab.build(
            (c for refs in self.train_data.captions for c in refs), config.min_count))
        self.train_pairs = _pairs(self.train_data, self.vocab, config.max_len)
        self.val_pairs = _pairs(self.val_data, self.vocab, config.max_len)
        if len(self.train_pairs) < config.batch:
            raise ValueError(f"{len(self.train_pairs)} training captions are fewer than one batch of "
                             f"{config.batch}; lower --batch or add data")
        dg.manual_seed(config.seed)
        self.model = build_captioner(config, len(self.vocab))
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = optim.Adam(self.params, lr=config.lr)
        self.guard = DivergenceGuard()
        self.step = self.epoch = self.batch_index = 0
        self.best_val = math.inf
        self.last_val = math.nan
        if ckpt is not None:
            self._restore(ckpt)

    @property
    def batches_per_epoch(self) -> int:
        return len(self.train_pairs) // self.config.batch

    def _order(self) -> list:
        """This epoch's shuffled order of the training pairs (a function of seed and epoch, so a
        resumed run sees the same batches)."""
        gen = dg.Generator().manual_seed(self.config.seed * 100_003 + self.epoch)
        return dg.randperm(len(self.train_pairs), generator=gen).tolist()

    # ------------------------------------------------------------------ checkpoints
    def _payload(self, val_loss: float) -> dict:
        return {"format": FORMAT, "config": asdict(self.config), "model_config": self.model.config,
                "vocab": self.vocab.to_dict(), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "step": self.step, "epoch": self.epoch,
                "batch_index": self.batch_index, "rng": dg.get_rng_state(), "best_val": self.best_val,
                "val_loss": val_loss, "guard": self.guard.state_dict()}

    def _restore(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        dg.set_rng_state(ckpt["rng"])
        self.step, self.epoch, self.batch_index = ckpt["step"], ckpt["epoch"], ckpt["batch_index"]
        self.best_val, self.last_val = ckpt["best_val"], ckpt["val_loss"]
        self.guard.load_state_dict(ckpt["guard"])

    def save(self, val_loss: float) -> Path:
        """Write ``captioner_<mode>_epoch<E>_<val>.ckpt``, ``last.ckpt`` and, when the validation loss
        is the best so far, ``best.ckpt``; keep the ``keep`` newest epoch checkpoints."""
        self.out.mkdir(parents=True, exist_ok=True)
        improved = val_loss < self.best_val
        if improved:
            self.best_val = val_loss
        payload = self._payload(val_loss)
        epoch = self.step / self.batches_per_epoch
        path = self.out / f"captioner_{self.config.mode}_epoch{epoch:.2f}_{val_loss:.4f}.ckpt"
        dg.save(payload, path)
        dg.save(payload, self.out / "last.ckpt")
        if improved:
            dg.save(payload, self.out / "best.ckpt")
        olds = sorted(self.out.glob("captioner_*_epoch*.ckpt"), key=lambda p: p.stat().st_mtime)
        for old in olds[:-self.config.keep] if self.config.keep > 0 else olds:
            old.unlink(missing_ok=True)
        return path

    def validate(self) -> float:
        return validation_loss(self.model, self.val_data, self.val_pairs, self.vocab, self.config.batch)

    # ------------------------------------------------------------------ the loop
    def fit(self, epochs: float | None = None, minutes: float | None = None, steps: int | None = None,
            progress: bool = True) -> dict:
        """Train until ``epochs`` (passes over all training captions), ``minutes`` of wall-clock time
        or a total of ``steps`` steps, whichever comes first (at least one must be given). Returns a
        summary."""
        if epochs is None and minutes is None and steps is None:
            raise ValueError("fit: give epochs, minutes or steps")
        cfg = self.config
        per_epoch = self.batches_per_epoch
        limits = [s for s in (steps, math.ceil(epochs * per_epoch) if epochs is not None else None)
                  if s is not None]
        target = min(limits) if limits else None
        if self.step == 0 and not (self.out / "last.ckpt").exists():
            self.last_val = self.validate()
            self.save(self.last_val)  # a good state to fall back on
        deadline = time.perf_counter() + 60 * minutes if minutes is not None else None
        bar = Progress(target - self.step if target else None, "train-captioner", force_plain=not progress)
        started, done_here = time.perf_counter(), 0
        order = self._order()
        self.model.train()
        val = self.last_val
        while (target is None or self.step < target) and (deadline is None or time.perf_counter() < deadline):
            rows = order[self.batch_index * cfg.batch:(self.batch_index + 1) * cfg.batch]
            images, captions = _batch(self.train_data, self.train_pairs, self.vocab, rows)
            logits, _ = self.model(images, captions)
            loss = caption_loss(logits, captions, self.vocab.pad_id)
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
                order = self._order()
            rate = done_here * cfg.batch / max(time.perf_counter() - started, 1e-9)
            bar.update(1, loss=loss.item(), val=val, captions_per_s=round(rate, 1))
            if self.step % cfg.val_every == 0:
                val = self.validate()
                self.save(val)
        bar.close()
        if done_here and self.step % cfg.val_every != 0:
            val = self.validate()
            self.save(val)
        self.last_val = val
        elapsed = time.perf_counter() - started
        return {"steps": self.step, "epoch": self.step / per_epoch, "val_loss": val,
                "best_val": self.best_val, "seconds": elapsed,
                "captions_per_s": done_here * cfg.batch / max(elapsed, 1e-9),
                "skipped_steps": self.guard.total_skipped}


# ---------------------------------------------------------------------------------------- CLI


def add_parsers(sub) -> None:
    """Register ``train-captioner`` and ``caption`` on an argparse subparsers object."""
    defaults = CaptionConfig()
    p = sub.add_parser("train-captioner", help="train an image captioner (CNN encoder + LSTM decoder)",
                       description="Train an image captioner on generated scenes (the default) or on a "
                                   "caption data set in COCO or Karpathy-split format.")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--data", default=None,
                        help="caption data: a folder with dataset_*.json (Karpathy) or captions_*.json "
                             "(COCO), or such a file")
    source.add_argument("--scenes", type=positive_int, default=defaults.scenes,
                        help=f"generated training scenes (default {defaults.scenes})")
    p.add_argument("--images", default=None, help="image folder, if not found next to the annotations")
    p.add_argument("--val-scenes", type=positive_int, default=defaults.val_scenes)
    p.add_argument("--image-size", type=positive_int, default=defaults.image_size)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--mode", choices=MODES, default=None,
                      help="how the image conditions the decoder (default: attention)")
    mode.add_argument("--attention", dest="mode", action="store_const", const="attention",
                      help="soft attention over the feature map (same as --mode attention)")
    p.add_argument("--encoder", default=defaults.encoder, help="small, resnet20, resnet18, vgg11 or vgg16")
    p.add_argument("--width", type=positive_int, default=defaults.width, help="the small encoder's width")
    p.add_argument("--freeze-encoder", action="store_true")
    p.add_argument("--embed-dim", type=positive_int, default=defaults.embed_dim)
    p.add_argument("--hidden", type=positive_int, default=defaults.hidden)
    p.add_argument("--attn-dim", type=positive_int, default=defaults.attn_dim)
    p.add_argument("--dropout", type=float, default=defaults.dropout)
    p.add_argument("--min-count", type=positive_int, default=defaults.min_count,
                   help="words seen fewer times become <unk>")
    p.add_argument("--max-len", type=positive_int, default=defaults.max_len)
    p.add_argument("--batch", type=positive_int, default=defaults.batch)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--clip", type=float, default=defaults.clip, help="gradient-norm clipping (0 disables)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--epochs", type=float, help="passes over all training captions")
    stop.add_argument("--minutes", type=float, help="wall-clock training budget")
    p.add_argument("--steps", type=positive_int, help="stop after this many steps in total")
    p.add_argument("--val-every", type=positive_int, default=defaults.val_every)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--keep", type=int, default=defaults.keep,
                   help="epoch checkpoints to keep (plus best, last)")
    p.add_argument("--out", default="runs/captioner", help="run directory for checkpoints")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--overwrite", action="store_true", help="replace the checkpoints of a run in --out")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a bar")
    p.set_defaults(func=_train_captioner)

    p = sub.add_parser("caption", help="caption image files with a trained captioner",
                       description="Print a caption for each image; optionally draw where the model "
                                   "looked for each word (attention checkpoints).")
    p.add_argument("checkpoint")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--beam", type=positive_int, default=1, help="beam width (1: greedy; Karpathy uses 7)")
    how.add_argument("--temperature", type=float, default=None, help="sample at this temperature instead")
    p.add_argument("--length-norm", type=float, nargs="?", const=1.0, default=0.0, metavar="ALPHA",
                   help="rank finished beams by log-probability / length^ALPHA (ALPHA 1 if not given)")
    p.add_argument("--max-len", type=positive_int, default=20)
    p.add_argument("--seed", type=int, default=None, help="seed for repeatable sampling")
    p.add_argument("--show-attention", default=None, metavar="OUT.png",
                   help="draw each word's attention map over the image (OUT-<i>.png for several images)")
    p.set_defaults(func=_caption)


def _train_captioner(args) -> int:
    if args.epochs is None and args.minutes is None and args.steps is None:
        args.epochs = 1.0
    config = CaptionConfig(
        data=args.data, images=args.images, scenes=args.scenes, val_scenes=args.val_scenes,
        image_size=args.image_size, mode=args.mode or "attention", encoder=args.encoder, width=args.width,
        freeze_encoder=args.freeze_encoder, embed_dim=args.embed_dim, hidden=args.hidden,
        attn_dim=args.attn_dim, dropout=args.dropout, min_count=args.min_count, max_len=args.max_len,
        batch=args.batch, lr=args.lr, clip=args.clip, val_every=args.val_every, seed=args.seed,
        keep=args.keep)
    trainer = CaptionTrainer(config, args.out, resume=args.resume, overwrite=args.overwrite)
    cfg = trainer.config
    print(f"training a '{cfg.mode}' captioner ({cfg.encoder} encoder, {trainer.model.grid[0]}x"
          f"{trainer.model.grid[1]} feature map) on {len(trainer.train_data)} images / "
          f"{len(trainer.train_pairs)} captions, vocabulary {len(trainer.vocab)}; checkpoints in {args.out}")
    result = trainer.fit(epochs=args.epochs, minutes=args.minutes, steps=args.steps,
                         progress=not args.no_progress)
    print(f"done: {result['steps']} steps ({result['epoch']:.2f} epochs), validation loss "
          f"{result['val_loss']:.4f} nats/word (best {result['best_val']:.4f}), "
          f"{result['captions_per_s']:.1f} captions/s, {result['skipped_steps']} steps skipped")
    try:
        scores = evaluate_captions(trainer.model, trainer.vocab, trainer.val_data, max_len=cfg.max_len)
    except ImportError as e:
        print(f"(no BLEU: {e})")
        return 0
    line = "  ".join(f"BLEU-{n} {scores[f'bleu{n}']:.3f}" for n in range(1, 5))
    if "attributes" in scores:
        line += f"  attribute accuracy {scores['attributes']:.1%}"
    print(f"validation, greedy: {line}")
    for refs, hyp in list(zip(trainer.val_data.captions, scores["captions"]))[:3]:
        print(f"  {hyp!r}   (reference: {refs[0]!r})")
    return 0


def _attention_paths(out: str, n: int) -> list:
    path = Path(out)
    if n == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix or '.png'}") for i in range(n)]


def _caption(args) -> int:
    model, vocab, ckpt = load_captioner(args.checkpoint)
    if args.show_attention and model.mode != "attention":
        print(f"error: --show-attention needs an attention captioner; this checkpoint's mode is "
              f"{model.mode!r} (train with --attention)", file=sys.stderr)
        return 2
    size = model.config["image_size"]
    images = dg.stack([read_image(p, size) for p in args.images])
    gen = None
    if args.temperature is not None:
        gen = dg.Generator()
        if args.seed is None:
            gen.seed()
        else:
            gen.manual_seed(args.seed)
    captions = decode(model, images.float() / 255, vocab, args.beam, args.temperature, args.length_norm,
                      args.max_len, gen)
    for path, cap in zip(args.images, captions):
        print(f"{path}: {vocab.decode(cap.ids)}")
    if args.show_attention:
        from deepgrad.viz.attention import plot_attention
        for out, image, cap in zip(_attention_paths(args.show_attention, len(args.images)), images, captions):
            plot_attention(image, [vocab.words[i] for i in cap.ids], cap.alphas, out)
            print(f"wrote {out}", file=sys.stderr)
    return 0
