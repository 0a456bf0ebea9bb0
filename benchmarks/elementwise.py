"""Per-op overhead: a chain of 1,000 elementwise ops on a 10-element tensor.

``x = x * 1.0001 + 0.0001`` repeated 500 times (1,000 ops) on a float32 leaf that requires grad, so
every op is recorded in the graph. The arrays are tiny, so the time is the fixed cost of dispatching
one op and recording its graph node (``forward``), plus running its backward (``forward+backward``,
which ends with a ``sum`` and ``backward()``). No target: the report gives microseconds per op.
Run: ``python benchmarks/elementwise.py [--quick]``.
"""
import _harness as H  # first: pins the thread pools before numpy loads
import deepgrad

OPS = 1000


def _chain(x):
    for _ in range(OPS // 2):
        x = x * 1.0001 + 0.0001
    return x


def _leaf(lib: str):
    deepgrad.manual_seed(0)
    (x,) = H.data_for(lib, deepgrad.randn(10))
    return x.requires_grad_()


def build_forward(libs: tuple) -> dict:
    def make(x):
        return lambda: _chain(x)
    return {lib: make(_leaf(lib)) for lib in libs}


def build_backward(libs: tuple) -> dict:
    def make(x):
        def step():
            y = _chain(x).sum()
            y.backward()
            x.grad = None
            return y
        return step
    return {lib: make(_leaf(lib)) for lib in libs}


CASES = [
    H.Case("elementwise/forward", "1,000 elementwise ops recorded for autograd, 10 elements",
           build_forward, steps=200, ops_per_step=OPS),
    H.Case("elementwise/fwd+bwd", "the same 1,000 ops, then backward", build_backward, steps=100,
           ops_per_step=OPS),
]

if __name__ == "__main__":
    H.run_modules(["elementwise"], __doc__)
