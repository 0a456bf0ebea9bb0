"""Automatic differentiation: ``grad``, ``gradcheck``, ``Function`` and grad-mode switches."""
from __future__ import annotations

from ..backend import xp
from .function import Function
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Function", "grad", "gradcheck", "GradcheckError", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled", "inference_mode", "backward"]


def _as_list(x):
    from ..tensor import Tensor
    return [x] if isinstance(x, Tensor) else list(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated in .grad).

    Example::

        x = deepgrad.tensor(3.0, requires_grad=True)
        (dx,) = deepgrad.autograd.grad(x ** 2, x)   # tensor(6.)
    """
    from ..tensor import Tensor, _refresh_if_stale, _reject_create_graph, _root_gradient
    from .engine import run_backward

    _reject_create_graph(create_graph)
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = _as_list(grad_outputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    for o in outputs:
        _refresh_if_stale(o)
        if not o.requires_grad:
            raise RuntimeError("grad: an output does not require grad and has no grad_fn")
    roots = [_root_gradient(o, g) for o, g in zip(outputs, grad_outputs)]
    got = run_backward(outputs, roots, bool(retain_graph), capture=inputs)
    result = []
    for i, g in enumerate(got):
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} was not used to compute the outputs; pass "
                                   f"allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(Tensor._make(g.copy() if not g.flags.writeable or g.base is not None else g))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None) -> None:
    """Accumulate into ``.grad`` the gradients of all ``tensors`` (each weighted by its entry of
    ``grad_tensors``, needed for non-scalars) in one pass over their shared graph.

    Example::

        deepgrad.autograd.backward([loss_a, loss_b])   # same as (loss_a + loss_b).backward()
    """
    from ..tensor import _refresh_if_stale, _root_gradient
    from .engine import run_backward

    tensors = _as_list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = _as_list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"backward: got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    for i, t in enumerate(tensors):
        _refresh_if_stale(t)
        if not t.requires_grad:
            raise RuntimeError(f"backward: element {i} of tensors does not require grad and does not have "
                               f"a grad_fn")
    roots = [_root_gradient(t, g) for t, g in zip(tensors, grad_tensors)]
    run_backward(tensors, roots, bool(retain_graph))


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when analytic and numerical gradients disagree."""


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare backward's gradients with central differences (f(x+eps) - f(x-eps)) / 2 eps.

    ``inputs`` are float64 tensors (those with requires_grad are checked). Every output element is
    checked against every input element, so keep the inputs small.
    """
    from ..tensor import Tensor

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in checked:
        if t.dtype.name != "float64":
            raise GradcheckError(f"gradcheck: inputs must be float64 for a meaningful check, got {t.dtype}")
    if not checked:
        raise GradcheckError("gradcheck: no input has requires_grad=True")
    for t in checked:
        t._data = xp.ascontiguousarray(t._data)  # perturbed through a flat view below

    def outputs_of():
        out = fn(*inputs)
        return [out] if isinstance(out, Tensor) else [o for o in out if isinstance(o, Tensor)]

    outs = outputs_of()
    diff_outs = [o for o in outs if o.requires_grad]
    out_sizes = [o.numel() for o in diff_outs]
    analytic = [xp.zeros((t.numel(), sum(out_sizes))) for t in checked]
    col = 0
    for o in diff_outs:
        for j in range(o.numel()):
            seed = xp.zeros(o.shape, dtype=o._data.dtype)
            seed.reshape(-1)[j] = 1
            got = grad(o, checked, grad_outputs=Tensor._make(seed), retain_graph=True, allow_unused=True)
            for a, g in zip(analytic, got):
                if g is not None:
                    a[:, col] = g._data.reshape(-1)
            col += 1
    numeric = [xp.zeros_like(a) for a in analytic]
    with no_grad():
        for t, num in zip(checked, numeric):
            flat = t._data.reshape(-1)
            for i in range(flat.size):
                orig = flat[i]
                flat[i] = orig + eps
                plus = [o._data.reshape(-1).copy() for o in outputs_of() if o.dtype.is_floating_point]
                flat[i] = orig - eps
                minus = [o._data.reshape(-1).copy() for o in outputs_of() if o.dtype.is_floating_point]
                flat[i] = orig
                num[i, :] = xp.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)])[:num.shape[1]]
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        if not xp.allclose(a, n, atol=atol, rtol=rtol):
            worst = xp.unravel_index(xp.argmax(xp.abs(a - n)), a.shape)
            msg = (f"gradcheck: Jacobian mismatch for input {k} (shape {tuple(checked[k].shape)}): at "
                   f"(input element {worst[0]}, output element {worst[1]}) analytic {a[worst]:.6g} vs "
                   f"numerical {n[worst]:.6g}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
