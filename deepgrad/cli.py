"""The ``deepgrad`` command line: ``deepgrad <command> --help`` describes each command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def positive_int(s: str) -> int:
    """argparse type for options that must be a positive integer."""
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s}")
    return v


def _add_train_lm(sub) -> None:
    from .models.charlm import CELLS
    p = sub.add_parser("train-lm", help="train a character-level language model",
                       description="Train a character-level language model (char-rnn) on a UTF-8 text "
                                   "file; the default corpus is tiny Shakespeare, shipped with deepgrad.")
    p.add_argument("corpus", nargs="?", default=None, help="UTF-8 text file (default: tiny Shakespeare)")
    p.add_argument("--cell", default="lstm", choices=sorted(CELLS))
    p.add_argument("--hidden", type=positive_int, default=256)
    p.add_argument("--layers", type=positive_int, default=2)
    p.add_argument("--embed-dim", type=positive_int, default=64)
    p.add_argument("--seq-len", type=positive_int, default=64)
    p.add_argument("--batch", type=positive_int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--clip", type=float, default=5.0, help="gradient-norm clipping (0 disables)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--epochs", type=float, help="passes over the training split")
    stop.add_argument("--minutes", type=float, help="wall-clock training budget")
    p.add_argument("--steps", type=positive_int, help="stop after this many steps in total")
    p.add_argument("--val-every", type=positive_int, default=200, help="steps between validations")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", type=int, default=3, help="epoch checkpoints to keep (plus best and last)")
    p.add_argument("--out", default="runs/lm", help="run directory for checkpoints")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--overwrite", action="store_true", help="replace the checkpoints of a run in --out")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a bar")
    p.set_defaults(func=_train_lm)


def _train_lm(args) -> int:
    from .train.lm import LMConfig, LMTrainer
    if args.epochs is None and args.minutes is None and args.steps is None:
        args.epochs = 1.0
    config = LMConfig(corpus=args.corpus, cell=args.cell, hidden=args.hidden, layers=args.layers,
                      embed_dim=args.embed_dim, seq_len=args.seq_len, batch=args.batch, lr=args.lr,
                      dropout=args.dropout, clip=args.clip, val_fraction=args.val_fraction,
                      val_every=args.val_every, seed=args.seed, keep=args.keep)
    trainer = LMTrainer(config, args.out, resume=args.resume, overwrite=args.overwrite)
    print(f"training a {trainer.config.layers}-layer {trainer.config.cell} (hidden {trainer.config.hidden}) "
          f"on {len(trainer.train_batches) * trainer.config.batch * trainer.config.seq_len:,} training "
          f"characters, vocabulary {len(trainer.vocab)}; checkpoints in {args.out}")
    result = trainer.fit(epochs=args.epochs, minutes=args.minutes, steps=args.steps,
                         progress=not args.no_progress)
    print(f"done: {result['steps']} steps ({result['epoch']:.2f} epochs), validation loss "
          f"{result['val_loss']:.4f} nats/char (best {result['best_val']:.4f}), "
          f"{result['chars_per_s']:,.0f} chars/s, {result['skipped_steps']} steps skipped")
    return 0


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="generate text from a language-model checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8)
    prime = p.add_mutually_exclusive_group()
    prime.add_argument("--prime", default=None, help="text to start from (default: a newline)")
    prime.add_argument("--prime-file", default=None, help="UTF-8 file whose text starts the sample")
    p.add_argument("--seed", type=int, default=None, help="seed for repeatable output")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--argmax", action="store_true", help="always take the most likely character")
    mode.add_argument("--beam", type=positive_int, default=None, help="beam search with this width")
    p.set_defaults(func=_sample)


def _sample(args) -> int:
    import deepgrad as dg
    from .models.charlm import beam_search, sample
    from .text import read_corpus
    from .train.lm import load_lm
    model, vocab, _ = load_lm(args.checkpoint)
    if args.prime_file:
        prime = read_corpus(args.prime_file)
    else:
        prime = args.prime if args.prime is not None else "\n"
    missing = vocab.missing(prime)
    if missing:
        print(f"error: the prime text has characters the model never saw: "
              f"{', '.join(repr(c) for c in missing)}", file=sys.stderr)
        return 2
    if args.beam:
        text, logp = beam_search(model, vocab, args.length, args.beam, prime)
        print(prime + text)
        print(f"[beam {args.beam}: log-probability {logp:.2f}]", file=sys.stderr)
        return 0
    gen = dg.Generator().manual_seed(args.seed) if args.seed is not None else dg.Generator()
    if args.seed is None:
        gen.seed()
    print(prime + sample(model, vocab, args.length, args.temperature, prime, gen, args.argmax))
    return 0


def _add_viz_cells(sub) -> None:
    p = sub.add_parser("viz-cells", help="colour text by LSTM cell activations (HTML)",
                       description="Run a trained LSTM language model over a text and write an HTML page "
                                   "colouring each character by tanh(c) of chosen cells, with a ranking of "
                                   "cells by correlation with simple text features.")
    p.add_argument("checkpoint")
    p.add_argument("--text", default=None, help="UTF-8 file to read (default: the start of the corpus)")
    p.add_argument("--max-chars", type=positive_int, default=2000)
    p.add_argument("--cells", default=None,
                   help="cells to show as LAYER:INDEX,... (default: the best-correlated ones)")
    p.add_argument("--out", default="cells.html")
    p.set_defaults(func=_viz_cells)


def _viz_cells(args) -> int:
    import deepgrad as dg
    from .text import read_corpus
    from .train.lm import load_lm
    from .viz import cell_states, feature_correlations, render_cells_html
    model, vocab, ckpt = load_lm(args.checkpoint)
    if ckpt["config"]["cell"] != "lstm":
        raise ValueError(f"viz-cells shows LSTM cell states; this checkpoint's cell is "
                         f"{ckpt['config']['cell']!r}")
    text = read_corpus(args.text if args.text else ckpt["config"]["corpus"])[:args.max_chars]
    missing = vocab.missing(text)
    if missing:
        raise ValueError(f"the text has characters the model never saw: {missing!r}")
    with dg.no_grad():
        states = cell_states(model.rnn, model.embed(vocab.encode(text).reshape(1, -1)))
    ranking = feature_correlations(states, text)
    if args.cells:
        cells = [tuple(int(v) for v in item.split(":")) for item in args.cells.split(",")]
    else:
        cells = list(dict.fromkeys((layer, idx) for rows in ranking.values() for layer, idx, _ in rows[:2]))
    Path(args.out).write_text(render_cells_html(text, states, cells, ranking), encoding="utf-8")
    for name, rows in ranking.items():
        layer, idx, r = rows[0]
        print(f"{name:20s} best cell: layer {layer} cell {idx} (correlation {r:+.3f})")
    print(f"wrote {args.out}")
    return 0


def _add_grad_flow(sub) -> None:
    p = sub.add_parser("grad-flow", help="plot ||dL/dh_t|| over time for a vanilla RNN and an LSTM",
                       description="The vanishing gradient picture: unroll a vanilla RNN and an LSTM over "
                                   "the same characters, put a loss on the last step, and plot the norm "
                                   "of its gradient with respect to every hidden state.")
    p.add_argument("corpus", nargs="?", default=None)
    p.add_argument("--steps", type=positive_int, default=100, help="sequence length T")
    p.add_argument("--batch", type=positive_int, default=16)
    p.add_argument("--hidden", type=positive_int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="grad_flow.png")
    p.set_defaults(func=_grad_flow)


def _grad_flow(args) -> int:
    import deepgrad.nn.functional as F
    from .text import CharVocab, StreamBatches, read_corpus
    from .viz import gradient_flow, plot_gradient_flow
    text = read_corpus(args.corpus)
    vocab = CharVocab.from_text(text)
    x, y = StreamBatches(vocab.encode(text), args.batch, args.steps).batch(0)
    inputs = F.one_hot(x, len(vocab)).float().transpose(0, 1)
    curves = {name: gradient_flow(cell, inputs, y[:, -1], args.hidden, args.seed)
              for name, cell in (("vanilla RNN (tanh)", "rnn"), ("LSTM", "lstm"))}
    plot_gradient_flow(curves, args.out)
    for name, values in curves.items():
        print(f"{name:20s} ||dL/dh_T|| = {values[-1]:.3e}   ||dL/dh_1|| = {values[0]:.3e}   "
              f"ratio {values[0] / values[-1]:.3e}")
    print(f"wrote {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepgrad", description="deepgrad: deep learning on NumPy")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    _add_train_lm(sub)
    _add_sample(sub)
    _add_viz_cells(sub)
    _add_grad_flow(sub)
    from .train.captioning import add_parsers as add_captioning
    from .train.images import add_parsers as add_images
    from .train.seq2seq import add_parsers as add_seq2seq
    from .viz.input_grads_cli import add_parsers as add_input_grads
    add_images(sub)
    add_captioning(sub)
    add_seq2seq(sub)
    add_input_grads(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (OSError, ValueError, RuntimeError, ImportError) as e:  # user-facing errors: no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
