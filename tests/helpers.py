"""Shared test helpers: run the same computation in deepgrad and in PyTorch (the oracle) and
compare values and gradients."""
from __future__ import annotations

import numpy as np
import torch

import deepgrad as dg


def to_dg(arr, requires_grad=False):
    return dg.tensor(np.asarray(arr), requires_grad=requires_grad)


def to_torch(arr, requires_grad=False):
    return torch.tensor(np.asarray(arr), requires_grad=requires_grad)


def assert_close(actual, expected, atol=1e-6, rtol=1e-5, what="value"):
    a = actual.detach().numpy() if hasattr(actual, "detach") else np.asarray(actual)
    e = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch {e.shape}"
    np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, err_msg=what)


def compare(fn, *arrays, torch_fn=None, grad=True, atol=1e-6, rtol=1e-5, out_grad=None):
    """Run ``fn`` on deepgrad tensors and ``torch_fn`` (default: the same ``fn``) on torch tensors
    built from ``arrays``; check the outputs and, for floating arrays, the input gradients of
    sum(out * out_grad) against PyTorch's."""
    torch_fn = torch_fn or fn
    floats = [np.asarray(a).dtype.kind == "f" for a in arrays]
    d_in = [to_dg(a, grad and f) for a, f in zip(arrays, floats)]
    t_in = [to_torch(a, grad and f) for a, f in zip(arrays, floats)]
    d_out, t_out = fn(*d_in), torch_fn(*t_in)
    assert_close(d_out, t_out, atol, rtol, "forward")
    if not grad or not any(floats):
        return d_out
    assert d_out.dtype.name == str(t_out.dtype).replace("torch.", ""), (d_out.dtype, t_out.dtype)
    w = np.random.default_rng(1).standard_normal(tuple(t_out.shape)) if out_grad is None else out_grad
    (d_out * to_dg(w.astype(d_out.numpy(force=True).dtype))).sum().backward()
    (t_out * to_torch(w.astype(t_out.detach().numpy().dtype))).sum().backward()
    for i, (d, t) in enumerate(zip(d_in, t_in)):
        if t.requires_grad:
            if t.grad is None:
                assert d.grad is None or not d.grad.numpy().any(), f"input {i}: torch has no grad"
                continue
            assert d.grad is not None, f"input {i}: deepgrad produced no gradient"
            assert d.grad.dtype == d.dtype, f"input {i}: grad dtype {d.grad.dtype} != {d.dtype}"
            assert_close(d.grad, t.grad, atol, rtol, f"grad of input {i}")
    return d_out


def rand(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
