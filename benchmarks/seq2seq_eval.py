"""Sequence-to-sequence accuracy: train an attention encoder-decoder on each synthetic task until its
validation exact-match accuracy reaches a target (or a time budget runs out), then report the
exact-match accuracy on the held-out test split, greedy and with beam search.

    python benchmarks/seq2seq_eval.py                         # dates, reverse and sort
    python benchmarks/seq2seq_eval.py --tasks dates --target 0.995 --minutes 20
    python benchmarks/seq2seq_eval.py --quick                 # a smoke run: tiny data, a few steps

The test dates are calendar days the training set never shows in any format; the test strings of
'reverse' and 'sort' never occur among the training strings. The report gives, per task, the steps
and wall-clock seconds of training, the machine's load average around it (``os.getloadavg``: on a
shared machine the time depends on it), the validation and test accuracies, the number of test
examples, and a few wrong outputs. Unlike the other benchmarks this one measures learning, not speed
against PyTorch. See docs/seq2seq.md.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from deepgrad.text.tasks import TASKS
from deepgrad.train.seq2seq import Seq2SeqConfig, Seq2SeqTrainer, evaluate_pairs, load_seq2seq

# per task: the model and data that reach the target on a 2-core CPU in minutes
CONFIGS = {
    "dates": Seq2SeqConfig(task="dates", train_size=20000, hidden=64, attention="bahdanau"),
    "reverse": Seq2SeqConfig(task="reverse", train_size=20000, max_len=12, hidden=64, attention="bahdanau"),
    "sort": Seq2SeqConfig(task="sort", train_size=20000, max_len=12, hidden=64, attention="bahdanau"),
}
QUICK = {"train_size": 512, "val_size": 64, "test_size": 64, "val_every": 10}


def run_task(config: Seq2SeqConfig, out: str, minutes: float, target: float, beam: int,
             steps: int | None) -> dict:
    load_before = os.getloadavg()
    trainer = Seq2SeqTrainer(config, out)
    result = trainer.fit(minutes=minutes, steps=steps, target_accuracy=target, progress=False)
    load_after = os.getloadavg()
    model, src_vocab, tgt_vocab, ckpt = load_seq2seq(os.path.join(out, "best.ckpt"))
    started = time.perf_counter()
    greedy = evaluate_pairs(model, trainer.data.test, src_vocab, tgt_vocab, 1, max_len=trainer.max_output)
    greedy_s = time.perf_counter() - started
    beamed = evaluate_pairs(model, trainer.data.test, src_vocab, tgt_vocab, beam, max_len=trainer.max_output)
    return {"task": config.task, "steps": result["steps"], "best_step": ckpt["step"],
            "seconds": result["seconds"], "pairs_per_s": result["pairs_per_s"],
            "load": (load_before[0], load_after[0], load_after[1]),
            "val": ckpt["val_accuracy"], "val_n": len(trainer.data.val), "greedy": greedy, "beam": beamed,
            "greedy_s": greedy_s, "train_n": len(trainer.data.train),
            "params": sum(p.numel() for p in model.parameters())}


def report(r: dict, beam: int) -> None:
    g, b = r["greedy"], r["beam"]
    print(f"\n== {r['task']}: {r['train_n']} training pairs, {r['params']:,} parameters")
    print(f"   trained {r['steps']} steps in {r['seconds']:.0f} s ({r['pairs_per_s']:.0f} pairs/s); "
          f"best checkpoint at step {r['best_step']}; load average {r['load'][0]:.1f} before, "
          f"{r['load'][1]:.1f} after (5-minute {r['load'][2]:.1f})")
    print(f"   validation exact match {r['val']:.2%} of {r['val_n']}")
    wrong = [d["n"] - round(d["accuracy"] * d["n"]) for d in (g, b)]
    print(f"   test exact match: greedy {g['accuracy']:.2%}, beam {beam} {b['accuracy']:.2%} of {g['n']} "
          f"held-out pairs ({wrong[0]} and {wrong[1]} wrong); greedy decoding took {r['greedy_s']:.1f} s")
    for src, tgt, out in g["wrong"][:5]:
        print(f"     {src!r} -> {out!r} (expected {tgt!r})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--target", type=float, default=0.995, help="stop at this validation exact match")
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget per task")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="tiny data and 20 steps: a smoke run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or tmp
        results = []
        for task in args.tasks:
            overrides = {"seed": args.seed, **(QUICK if args.quick else {})}
            config = Seq2SeqConfig(**{**vars(CONFIGS[task]), **overrides})
            print(f"training {task}: {config}", flush=True)
            results.append(run_task(config, os.path.join(root, task), args.minutes, args.target, args.beam,
                                    20 if args.quick else None))
            report(results[-1], args.beam)
    print("\n| task | test exact match (greedy) | beam | held-out pairs | steps | training s | load avg |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['task']} | {r['greedy']['accuracy']:.2%} | {r['beam']['accuracy']:.2%} | "
              f"{r['greedy']['n']} | {r['steps']} | {r['seconds']:.0f} | "
              f"{r['load'][0]:.1f}-{r['load'][1]:.1f} |")


if __name__ == "__main__":
    main()
