"""MLP training step: 784-256-256-10 with ReLU, batch 128, cross-entropy, SGD (lr 0.01, momentum 0.9).

The cost is three matrix products forward and six backward, so this measures how much deepgrad's
Python layer (autograd graph, module calls, optimizer loop) adds on top of the BLAS both libraries use.
Run: ``python benchmarks/mlp.py [--quick]``.
"""
import _harness as H  # first: pins the thread pools before numpy loads


def _mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


CASES = [H.Case("mlp", "784-256-256-10 MLP training step, batch 128, SGD momentum 0.9",
                H.classifier_builder(_mlp, (128, 784)), steps=200, target=1.1, warmup=5,
                requires=("optim.SGD",))]

if __name__ == "__main__":
    H.run_modules(["mlp"], __doc__)
