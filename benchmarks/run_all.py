"""Run every benchmark: deepgrad against PyTorch CPU, side by side in one process, then a summary.

    python benchmarks/run_all.py            # all workloads (about a minute on an idle 2-core machine)
    python benchmarks/run_all.py --quick    # fewer steps: a smoke run
    python benchmarks/run_all.py --only mlp --only cnn/vgg

Each case prints both libraries' median step time, the ratio deepgrad/PyTorch against its target
(PASS/MISS), both final losses (they must agree: same weights, data and hyper-parameters), and the
memory training takes. A case whose deepgrad layer does not exist yet is reported as skipped.
See docs/benchmarks.md.
"""
import _harness as H  # first: pins the thread pools before numpy loads

WORKLOADS = ["mlp", "elementwise", "cnn", "lstm_lm"]

if __name__ == "__main__":
    H.run_modules(WORKLOADS, __doc__)
