"""Image captioning on generated scenes: train a captioner for a wall-clock budget, then caption held-out
scenes with greedy decoding and beam search and score them.

Targets (the captioning issue): BLEU-4 >= 0.5 and attribute accuracy >= 90% on held-out scenes after at
most 15 minutes of training on 2 cores, and beam search at least as good as greedy decoding on BLEU-4.
The training budget covers the training steps, the periodic validation and the checkpoints; drawing
the scenes comes before it. The report names the load average, since the machines are shared.

Run: ``python benchmarks/captioning_eval.py [--minutes 14.5] [--mode attention] [--threads 2]
[--figure docs/images/captioning_attention.png]``.
"""
import _harness as H  # first: pins the thread pools before numpy loads

import argparse
import os
import tempfile
import time

from deepgrad.train.captioning import CaptionConfig, CaptionTrainer, evaluate_captions
from deepgrad.vision.scenes import generate_scenes
from deepgrad.viz.attention import plot_attention_rows

TEST_SEED = 20_240_601          # held-out scenes: a stream no training or validation scene comes from


def _row(name: str, s: dict, seconds: float) -> str:
    bleu = " ".join(f"{s[f'bleu{n}']:.3f}" for n in range(1, 5))
    return (f"{name:<22} {bleu}   {s['attributes']:6.1%} {s['colour']:6.1%} {s['shape']:6.1%} "
            f"{s['size']:6.1%} {s['relation']:6.1%} {s['exact']:6.1%} {seconds:7.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=H.THREADS, help="BLAS threads (read by _harness)")
    p.add_argument("--minutes", type=float, default=14.5,
                   help="training budget (the final validation and checkpoint come on top)")
    p.add_argument("--mode", default="attention", choices=("init", "first", "attention"))
    p.add_argument("--scenes", type=int, default=CaptionConfig.scenes)
    p.add_argument("--test-scenes", type=int, default=500)
    p.add_argument("--beam", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run directory (default: a temporary one)")
    p.add_argument("--figure", default=None, help="write the attention maps of a few test scenes here")
    args = p.parse_args()
    print(f"threads: {H.blas_threads()}; load average at start {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    out = args.out or tempfile.mkdtemp(prefix="captioner-")
    started = time.perf_counter()
    trainer = CaptionTrainer(CaptionConfig(scenes=args.scenes, mode=args.mode, seed=args.seed), out,
                             overwrite=True)
    test = generate_scenes(args.test_scenes, trainer.config.image_size, trainer.config.captions_per_scene,
                           TEST_SEED)
    cfg = trainer.config
    print(f"data: {len(trainer.train_data)} training scenes ({len(trainer.train_pairs)} captions), "
          f"{len(trainer.val_data)} validation, {len(test)} held-out test scenes, vocabulary "
          f"{len(trainer.vocab)}; drawn in {time.perf_counter() - started:.0f} s")
    n_params = sum(q.numel() for q in trainer.model.parameters())
    print(f"model: mode {cfg.mode}, {cfg.encoder} encoder (width {cfg.width}, {trainer.model.grid[0]}x"
          f"{trainer.model.grid[1]} map), embed {cfg.embed_dim}, hidden {cfg.hidden}, attention "
          f"{cfg.attn_dim}; {n_params:,} parameters; Adam lr {cfg.lr}, batch {cfg.batch}")
    result = trainer.fit(minutes=args.minutes, progress=False)
    print(f"trained {result['steps']} steps ({result['epoch']:.2f} epochs) in "
          f"{result['seconds'] / 60:.1f} min, {result['captions_per_s']:.1f} captions/s, validation loss "
          f"{result['val_loss']:.3f} nats/word; load average now {os.getloadavg()[0]:.1f}")

    print(f"\nheld-out scenes ({len(test)}):")
    print(f"{'decoder':<22} BLEU-1..4                 attrib colour  shape   size relat.  exact  secs")
    scores = {}
    for name, beam, norm in (("greedy", 1, 0.0), (f"beam {args.beam}", args.beam, 0.0),
                             (f"beam {args.beam}, length-norm", args.beam, 1.0)):
        t = time.perf_counter()
        scores[name] = evaluate_captions(trainer.model, trainer.vocab, test, beam=beam, length_norm=norm)
        print(_row(name, scores[name], time.perf_counter() - t))
    greedy, beam = scores["greedy"], scores[f"beam {args.beam}"]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"
    print(f"\ntargets: BLEU-4 >= 0.5: {greedy['bleu4']:.3f} {verdict(greedy['bleu4'] >= 0.5)}; "
          f"attribute accuracy >= 90%: {greedy['attributes']:.1%} {verdict(greedy['attributes'] >= 0.9)}; "
          f"beam >= greedy on BLEU-4: {beam['bleu4']:.3f} vs {greedy['bleu4']:.3f} "
          f"{verdict(beam['bleu4'] >= greedy['bleu4'])}; training {result['seconds'] / 60:.1f} min "
          f"{verdict(result['seconds'] <= 15 * 60 + 1)}")
    print("\nsamples (beam):")
    for i in range(5):
        print(f"  {beam['captions'][i]!r:58}  reference: {test.captions[i][0]!r}")
    if args.figure:
        from deepgrad.train.captioning import decode
        picks = list(range(4))
        caps = decode(trainer.model, test.float_images(picks), trainer.vocab, beam=args.beam)
        plot_attention_rows([(test.images[i], [trainer.vocab.words[w] for w in c.ids], c.alphas)
                             for i, c in zip(picks, caps)], args.figure, dpi=72)
        print(f"wrote {args.figure}")
    print(f"checkpoints in {out}")


if __name__ == "__main__":
    main()
