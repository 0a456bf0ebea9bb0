"""F.pad in every mode against PyTorch (values and gradients)."""
import pytest
import torch

import deepgrad as dg
import deepgrad.nn.functional as F
from tests.helpers import compare, rand


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad,shape", [((1, 2), (2, 3, 5)), ((2, 1, 0, 2), (2, 3, 4, 5))])
def test_pad_modes_match_torch(mode, pad, shape):
    compare(lambda x: F.pad(x, pad, mode=mode), rand(*shape),
            torch_fn=lambda x: torch.nn.functional.pad(x, pad, mode=mode))


def test_pad_mode_errors():
    with pytest.raises(ValueError, match="mode must be"):
        F.pad(dg.zeros(1, 2, 3), (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="non-negative widths"):
        F.pad(dg.zeros(1, 2, 3), (-1, 1), mode="reflect")
    with pytest.raises(RuntimeError, match="reflect padding"):
        F.pad(dg.zeros(1, 2, 3), (3, 0), mode="reflect")
