"""Reverse-mode differentiation over the graph of Function nodes and leaf tensors.

An iterative topological walk (no recursion, so a 100,000-op chain works); gradients accumulate
where a value fans out; the op contract is enforced here, once: each gradient is summed back to its
input's shape and cast to its input's dtype. Unless ``retain_graph``, each node's saved arrays are
released as soon as its backward has run.
"""
from __future__ import annotations

from ..backend import xp
from . import grad_mode
from .function import Function


def sum_to_shape(grad, shape: tuple):
    """Sum a broadcast gradient back to ``shape`` (the single place where broadcasting is undone)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    if lead:
        out = out.reshape(out.shape[lead:])
    if out.shape != shape:
        raise RuntimeError(f"internal error: gradient of shape {grad.shape} does not reduce to {shape}")
    return out


_FREED = ("Trying to backward through the graph a second time (or to use values that a backward "
          "already freed). Pass retain_graph=True to the first backward() if you need to backward "
          "through the same graph again.")


def _topological_order(roots):
    """Nodes reachable from ``roots``, each after every node that feeds it a gradient."""
    order, seen = [], set()
    stack = [(r, False) for r in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        if isinstance(node, Function):
            if node.inputs is None:
                raise RuntimeError(_FREED)
            for e in node.inputs:
                if e is not None and id(e) not in seen:
                    stack.append((e, False))
    return order


def _check_versions(ctx):
    for shape, counter, version in ctx._versions:
        if counter[0] != version:
            raise RuntimeError(
                f"one of the tensors needed for gradient computation has been modified by an in-place "
                f"operation: a tensor of shape {tuple(shape)} used by {ctx.name} is at version "
                f"{counter[0]}; expected version {version}. Use an out-of-place operation (x = x + y "
                f"instead of x += y) or clone() the tensor before modifying it.")


def node_of(t):
    """The graph node a tensor's gradient arrives at: its Function, or itself for a leaf."""
    return t._ctx if t._ctx is not None else t


def _run_hooks(hooks, g, make):
    for hook in hooks:
        new = hook(make(g))
        if new is not None:
            g = new._data if hasattr(new, "_data") else xp.asarray(new, dtype=g.dtype)
    return g


def run_backward(roots, root_grads, retain_graph: bool = False, capture=None):
    """Propagate ``root_grads`` (arrays) from ``roots`` (Tensors) back through the graph.

    Without ``capture``, gradients accumulate into ``.grad`` of leaf tensors (and of tensors that
    called ``retain_grad``). With ``capture`` (a list of tensors), their gradients are returned
    instead, in that order, and no ``.grad`` is touched (``autograd.grad``).
    """
    from ..tensor import Tensor

    make = Tensor._make
    grads = {}
    root_nodes = [node_of(r) for r in roots]
    for node, g in zip(root_nodes, root_grads):
        key = id(node)
        grads[key] = grads[key] + g if key in grads else g
    captured = {id(node_of(t)): None for t in capture} if capture is not None else None
    handed_out = set()
    order = _topological_order(root_nodes)
    # gradients at domain edges are inf/nan silently, as in PyTorch (the NaN policy in ops/elementwise)
    with grad_mode.no_grad(), xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if not isinstance(node, Function):  # a leaf tensor
                if node._hooks:
                    g = _run_hooks(node._hooks, g, make)
                if captured is not None:
                    if id(node) in captured:
                        captured[id(node)] = g
                    continue
                _accumulate(node, g, handed_out, make)
                continue
            extras = node.__dict__
            hooks = extras.get("_hooks")
            if hooks:
                g = _run_hooks(hooks, g, make)
            if captured is not None and id(node) in captured:
                captured[id(node)] = g
            retained = extras.get("_retained")
            if retained is not None and captured is None:
                t = retained()
                if t is not None:
                    _accumulate(t, g, handed_out, make)
            if node._versions:
                _check_versions(node)
            in_grads = node.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            edges = node.inputs
            if len(in_grads) != len(edges):
                raise RuntimeError(f"{node.name} returned {len(in_grads)} gradients for {len(edges)} inputs")
            for edge, ig, meta in zip(edges, in_grads, node.input_meta):
                if edge is None or ig is None:
                    continue
                shape, dtype = meta
                if ig.shape != shape:
                    ig = sum_to_shape(ig, shape)
                if ig.dtype != dtype:
                    ig = ig.astype(dtype)
                key = id(edge)
                prev = grads.get(key)
                grads[key] = ig if prev is None else prev + ig
            if not retain_graph:
                node.inputs = None
                node._versions = None
                node.input_meta = None
                extras.clear()
    if captured is not None:
        return [captured[id(node_of(t))] for t in capture]
    return None


def _accumulate(t, g, handed_out, make):
    """Add ``g`` into ``t.grad``. A stored gradient must own its memory: one backward may hand the
    same array to several inputs, and users modify ``.grad`` in place (clipping)."""
    if t.grad is None:
        if not g.flags.writeable or id(g) in handed_out or g.base is not None:
            g = g.copy()
        handed_out.add(id(g))
        t.grad = make(g)
    else:
        t.grad._data = t.grad._data + g
