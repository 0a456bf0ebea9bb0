import numpy as np

import deepgrad as dg
from tests.helpers import compare, rand


def test_mul_broadcast_matches_torch():
    compare(lambda a, b: (a * b + a).tanh(), rand(3, 4), rand(4, seed=1))


def test_matmul_batched_matches_torch():
    compare(lambda a, b: a @ b, rand(2, 3, 4), rand(4, 5, seed=1))
    compare(lambda a, b: a @ b, rand(4), rand(2, 4, 5, seed=1))


def test_cross_entropy_matches_torch():
    import torch
    t = np.array([0, 2, 1])
    compare(lambda x: dg.nn.functional.cross_entropy(x, dg.tensor(t), label_smoothing=0.1),
            rand(3, 4), torch_fn=lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(t),
                                                                             label_smoothing=0.1))
