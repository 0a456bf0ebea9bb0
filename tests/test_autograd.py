"""The autograd engine: accumulation at fan-out, deep graphs, memory release, retain_graph, hooks,
retain_grad, autograd.grad, grad-mode switches, custom Functions, and in-place operations (version
counters, leaves, non-leaves and views) against PyTorch."""
import gc
import weakref

import numpy as np
import pytest
import torch

import deepgrad as dg
from tests.helpers import assert_close, rand


def test_fan_out_accumulates():
    x = dg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, -4.0, 6.0]
    a = dg.tensor(1.5, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0
    a.grad = None
    b, c = a * 2, a * 3  # a diamond: d = (2a)(3a) = 6a^2
    (b * c).backward()
    assert a.grad.item() == pytest.approx(12 * 1.5)


def test_gradients_accumulate_across_backward_calls():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]


def test_deep_chain_of_100k_operations():
    x = dg.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.0 + 0.0
    y.backward(retain_graph=True)
    assert x.grad.item() == 1.0
    del y  # dropping the intact 100k-deep graph must not recurse either


def _live_tensors() -> int:
    return sum(1 for o in gc.get_objects() if issubclass(type(o), dg.Tensor))


def _train_steps(w1, w2, x, n=3):
    for _ in range(n):
        h = (x @ w1).tanh()
        h = h.reshape(-1)[:12].reshape(4, 3) * 2
        h[0] = h[1] + 1.0
        loss = ((h @ w2).sigmoid() - 0.5).pow(2).mean() + w1.abs().sum() * 1e-3
        loss.backward()
        with dg.no_grad():
            w1 -= w1.grad * 0.1
            w2.sub_(w2.grad * 0.1)
        w1.grad = None
        w2.grad = None


def test_no_tensor_left_alive_after_backward_without_gc():
    w1 = dg.tensor(rand(5, 3), requires_grad=True)
    w2 = dg.tensor(rand(3, 2, seed=1), requires_grad=True)
    x = dg.tensor(rand(4, 5, seed=2))
    gc.collect()
    before = _live_tensors()
    gc.disable()  # refcounting alone must free the graph: no reference cycles
    try:
        _train_steps(w1, w2, x)
        after = _live_tensors()
    finally:
        gc.enable()
    assert after == before


def test_backward_releases_saved_arrays_and_no_grad_records_nothing():
    x = dg.tensor(rand(3, 4), requires_grad=True)
    y = x.exp()
    saved = weakref.ref(y.grad_fn.out)
    loss = (y * 2).sum()
    del y
    assert saved() is not None
    loss.backward()
    assert saved() is None  # the node let go of its saved output
    gc.collect()
    before = _live_tensors()
    with dg.no_grad():
        z = x
        for _ in range(10):
            z = (z * 2).tanh()
        assert z.grad_fn is None and not z.requires_grad
    del z
    assert _live_tensors() == before


def test_second_backward_through_freed_graph_raises_and_retain_graph_allows_it():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError,
                       match="Trying to backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_backward_on_non_scalar_needs_gradient():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError,
                       match=r"grad can be implicitly created only for scalar outputs; this output "
                             r"has shape \(2,\)"):
        (x * 2).backward()
    (x * x).backward(dg.tensor([1.0, 0.5]))
    assert x.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError,
                       match=r"backward: gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(dg.ones(3))
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        dg.ones(2).sum().backward()


def test_backward_with_inputs_only_fills_those():
    a = dg.tensor(2.0, requires_grad=True)
    b = dg.tensor(3.0, requires_grad=True)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 3.0 and b.grad is None


def test_register_hook_sees_and_can_replace_the_gradient():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [3.0, 3.0]
    h.remove()
    x.grad = None
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [30.0, 30.0]
    # on a non-leaf: the replaced gradient flows on to the inputs
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    y.register_hook(lambda g: g + 1)
    (y * y).sum().backward()
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = tw * 2
    ty.register_hook(lambda g: g + 1)
    (ty * ty).sum().backward()
    assert w.grad.tolist() == tw.grad.tolist()
    with pytest.raises(RuntimeError,
                       match="cannot register a hook on a tensor that doesn't require gradient"):
        dg.ones(2).register_hook(lambda g: g)


def test_retain_grad_on_non_leaf():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = y * y
    y.retain_grad()
    assert y.retains_grad and not z.retains_grad
    z.sum().backward()
    assert y.grad.tolist() == [6.0, 12.0]
    assert z.grad is None and not z.is_leaf and x.is_leaf


def test_autograd_grad():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    w = dg.tensor([3.0, 4.0], requires_grad=True)
    out = (x * x * w).sum()
    gx, gw = dg.autograd.grad(out, [x, w], retain_graph=True)
    assert gx.tolist() == [6.0, 16.0] and gw.tolist() == [1.0, 4.0]
    assert x.grad is None and w.grad is None
    (gx2,) = dg.autograd.grad(x * w, x, grad_outputs=dg.tensor([1.0, 0.0]))
    assert gx2.tolist() == [3.0, 0.0]
    u = dg.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError,
                       match="input 1 was not used to compute the outputs; pass allow_unused=True"):
        dg.autograd.grad((x * 2).sum(), [x, u])
    assert dg.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)[1] is None
    with pytest.raises(ValueError, match="create_graph=True"):
        dg.autograd.grad((x * 2).sum(), x, create_graph=True)


def test_grad_mode_switches_as_context_managers_and_decorators():
    x = dg.ones(2, requires_grad=True)
    with dg.no_grad():
        assert not (x * 2).requires_grad and not dg.is_grad_enabled()
        with dg.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert dg.is_grad_enabled()

    @dg.no_grad()
    def frozen():
        return (x * 2).requires_grad

    @dg.enable_grad()
    def live():
        return (x * 2).requires_grad

    @dg.set_grad_enabled(False)
    def off():
        return dg.is_grad_enabled()

    assert frozen() is False and dg.is_grad_enabled()
    with dg.no_grad():
        assert live() is True
    assert off() is False and dg.is_grad_enabled()
    with dg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert dg.is_grad_enabled()
    dg.set_grad_enabled(False)
    try:
        assert not dg.is_grad_enabled()
    finally:
        dg.set_grad_enabled(True)
    with pytest.raises(ValueError):
        with dg.no_grad():
            raise ValueError
    assert dg.is_grad_enabled()
    with dg.inference_mode():
        assert not (x * 2).requires_grad


def test_custom_function_with_plain_arguments():
    class ScaledSquare(dg.autograd.Function):
        def forward(self, a, scale):
            self.a, self.scale = a, scale
            return scale * a * a

        def backward(self, g):
            return 2 * self.scale * self.a * g, None

    x = dg.tensor([1.0, 2.0], requires_grad=True)
    ScaledSquare.apply(x, 3.0).sum().backward()
    assert x.grad.tolist() == [6.0, 12.0]

    class WrongCount(dg.autograd.Function):
        def forward(self, a, b):
            return a + b

        def backward(self, g):
            return (g,)

    with pytest.raises(RuntimeError, match="WrongCountBackward returned 1 gradients for 2 inputs"):
        WrongCount.apply(x, x).sum().backward()


def test_gradient_dtype_and_shape_follow_the_input():
    a = dg.tensor(rand(3, 1, dtype=np.float32), requires_grad=True)
    b = dg.tensor(rand(4, dtype=np.float64), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == dg.float32 and a.grad.shape == (3, 1)
    assert b.grad.dtype == dg.float64 and b.grad.shape == (4,)


def test_requires_grad_refused_on_integer_tensors():
    for make in (lambda: dg.tensor([1, 2], requires_grad=True), lambda: dg.tensor([1, 2]).requires_grad_(),
                 lambda: dg.zeros(2, dtype=dg.int64, requires_grad=True),
                 lambda: dg.arange(3, requires_grad=True)):
        with pytest.raises(RuntimeError,
                           match="only floating-point tensors can require gradients; this tensor "
                                 "is deepgrad.int64"):
            make()


def test_requires_grad_cannot_be_turned_off_on_non_leaf():
    y = dg.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="requires_grad can only be turned off on leaf tensors"):
        y.requires_grad_(False)


# ---------------------------------------------------------------------------- in-place operations
INPLACE_NO_GRAD = {
    "add_": (lambda t, m: t.add_(2.0), lambda a: a + 2),
    "add_alpha": (lambda t, m: t.add_(m.ones(3), alpha=-2), lambda a: a - 2),
    "sub_": (lambda t, m: t.sub_(0.5), lambda a: a - 0.5),
    "mul_": (lambda t, m: t.mul_(m.tensor([1.0, 2.0, 3.0])), lambda a: a * [1, 2, 3]),
    "div_": (lambda t, m: t.div_(4), lambda a: a / 4),
    "zero_": (lambda t, m: t.zero_(), lambda a: a * 0),
    "fill_": (lambda t, m: t.fill_(7), lambda a: a * 0 + 7),
    "copy_": (lambda t, m: t.copy_(m.tensor([4, 5, 6])), lambda a: np.array([[4.0, 5, 6]] * 2)),
    "clamp_": (lambda t, m: t.clamp_(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5)),
    "iadd": (lambda t, m: t.__iadd__(1), lambda a: a + 1),
    "imul": (lambda t, m: t.__imul__(2), lambda a: a * 2),
    "setitem": (lambda t, m: t.__setitem__((0, 1), 9.0) or t,
                lambda a: np.where([[0, 1, 0], [0, 0, 0]], 9.0, a)),
}


@pytest.mark.parametrize("name", sorted(INPLACE_NO_GRAD))
def test_inplace_under_no_grad_on_leaf(name):
    fn, expected = INPLACE_NO_GRAD[name]
    start = rand(2, 3, dtype=np.float32)
    p = dg.tensor(start, requires_grad=True)
    version = p._version[0]
    with dg.no_grad():
        out = fn(p, dg)
    assert out is p and p.is_leaf and p.requires_grad and p.dtype == dg.float32
    assert p._version[0] == version + 1
    np.testing.assert_allclose(p.detach().numpy(), expected(start), rtol=1e-6)


def test_random_inplace_fills_under_no_grad():
    dg.manual_seed(0)
    p = dg.zeros(2000, requires_grad=True)
    with dg.no_grad():
        p.uniform_(-2.0, 2.0)
        u = p.detach().numpy().copy()
        p.normal_(1.0, 0.5)
        n = p.detach().numpy()
    assert -2 <= u.min() and u.max() < 2 and abs(u.mean()) < 0.15
    assert abs(n.mean() - 1.0) < 0.05 and abs(n.std() - 0.5) < 0.05
    assert p.dtype == dg.float32 and p.is_leaf


@pytest.mark.parametrize("name", sorted(INPLACE_NO_GRAD))
def test_inplace_on_leaf_requiring_grad_raises_in_grad_mode(name):
    p = dg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError,
                       match="a leaf tensor that requires grad is being used in an in-place operation"):
        INPLACE_NO_GRAD[name][0](p, dg)
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        p[0].add_(1)


NEEDED = {  # x -> (y, out): out's backward reads y's values
    "mul": lambda x: (lambda y: (y, y * y))(x * 1.5),
    "exp_output": lambda x: (lambda y: (y, y * 1))(x.exp()),
    "tanh_output": lambda x: (lambda y: (y, y * 1))(x.tanh()),
    "sigmoid_output": lambda x: (lambda y: (y, y * 1))(x.sigmoid()),
    "sqrt_output": lambda x: (lambda y: (y, y * 1))(x.sqrt()),
    "matmul": lambda x: (lambda y: (y, y @ x.T))(x * 1.5),
    "div_denominator": lambda x: (lambda y: (y, x / y))(x * 1.5),
    "pow": lambda x: (lambda y: (y, y ** 2))(x * 1.5),
    "log": lambda x: (lambda y: (y, y.log()))(x * 1.5),
    "amax": lambda x: (lambda y: (y, y.amax()))(x * 1.5),
    "view_of_y": lambda x: (lambda y: (y, y[0] * y[0]))(x * 1.5),
    "softmax_output": lambda x: (lambda y: (y, y * 1))(x.softmax(-1)),
}
MODIFIERS = {
    "add_": lambda y: y.add_(1), "sub_": lambda y: y.sub_(1), "mul_": lambda y: y.mul_(2),
    "div_": lambda y: y.div_(2), "zero_": lambda y: y.zero_(), "fill_": lambda y: y.fill_(1),
    "copy_": lambda y: y.copy_(dg.ones(2, 3)), "clamp_": lambda y: y.clamp_(0.1, 1),
    "uniform_": lambda y: y.uniform_(), "normal_": lambda y: y.normal_(),
    "setitem": lambda y: y.__setitem__(0, 1.0), "view_add_": lambda y: y[1].add_(1),
    "view_setitem": lambda y: y.view(-1).__setitem__(slice(1, 3), 0.0),
}


@pytest.mark.parametrize("needed", sorted(NEEDED))
@pytest.mark.parametrize("modifier", sorted(MODIFIERS))
def test_modifying_a_saved_tensor_raises_the_version_error(needed, modifier):
    x = dg.tensor(np.abs(rand(2, 3)) + 0.5, requires_grad=True)
    y, out = NEEDED[needed](x)
    MODIFIERS[modifier](y)
    with pytest.raises(RuntimeError,
                       match="one of the tensors needed for gradient computation has been modified "
                             "by an in-place operation"):
        out.sum().backward()


def test_modifying_a_tensor_not_needed_by_backward_is_fine():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y + 1  # add does not read y's values
    w = y / 2.0  # dividing by a number does not read y
    y.mul_(100)
    (z + w).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def _inplace_cases():
    def view_iadd(m, x):
        y = x * 2
        y[0] += 1
        y[:, 1] *= y[:, 2].clone()
        return (y * y).sum()

    def stale_view(m, x):
        y = x * 2
        v = y[1]
        r = y.reshape(-1)
        y.mul_(3)
        return (v * v).sum() + r.sum()

    def buffer(m, x):
        buf = m.zeros(2, 3, dtype=m.float64)
        row = buf[1]
        buf.copy_(x * 2)
        return (row * row).sum()

    def setitem_chain(m, x):
        y = x.exp()
        z = y * 1
        z[0, 1:] = x[1, :2] * 3
        z[x > 0.5] = 0.0
        return (z * y).sum()

    def non_contiguous_base(m, x):
        y = x.T * 2.0  # NumPy keeps the transposed memory layout
        v = y[1:3, ::2]
        y.mul_(2)
        v.add_(1)
        return (v * v).sum() + (y * y).sum()

    return {
        "non_contiguous_base": non_contiguous_base,
        "add_": lambda m, x: (x * 2).add_(1).sum(),
        "add_tensor": lambda m, x: ((x * 2).add_(x * x) ** 2).sum(),
        "sub_alpha": lambda m, x: ((x * 2).sub_(x, alpha=3) ** 2).sum(),
        "mul_": lambda m, x: ((x * 2).mul_(x) ** 2).sum(),
        "div_": lambda m, x: ((x * 2).div_(x + 3)).sum(),
        "zero_": lambda m, x: ((x * 2).zero_() + x).sum(),
        "fill_": lambda m, x: ((x * 2).fill_(3.0) * x).sum(),
        "copy_": lambda m, x: ((x * 2).copy_(x[0] * x[1]) * x).sum(),
        "clamp_": lambda m, x: ((x * 2).clamp_(-0.5, 0.9) ** 2).sum(),
        "iadd": lambda m, x: ((x * 2).__iadd__(x) ** 2).sum(),
        "view_iadd": view_iadd,
        "stale_view": stale_view,
        "buffer_becomes_graph": buffer,
        "setitem_chain": setitem_chain,
    }


@pytest.mark.parametrize("name", sorted(_inplace_cases()))
def test_inplace_on_non_leaf_gives_torch_gradient(name):
    fn = _inplace_cases()[name]
    xv = np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]])
    x, tx = dg.tensor(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)
    out, tout = fn(dg, x), fn(torch, tx)
    assert_close(out, tout)
    out.backward()
    tout.backward()
    assert_close(x.grad, tx.grad)


def test_inplace_on_non_leaf_with_random_fill_cuts_the_gradient():
    x = dg.ones(3, requires_grad=True)
    y = x * 2
    y.uniform_()
    (y * x).sum().backward()
    assert_close(x.grad, y.detach())


def test_inplace_result_shape_must_match():
    y = dg.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError,
                       match=r"add_: the result's shape \(2, 3\) does not match the shape \(3,\)"):
        y.add_(dg.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"copy_: the source of shape \(2,\) cannot be broadcast to the "
                                           r"destination's shape \(3,\)"):
        dg.ones(3).copy_(dg.ones(2))
    with pytest.raises(RuntimeError, match="add_: this tensor is a read-only view"):
        dg.ones(1).expand(3).add_(1)
    with pytest.raises(RuntimeError,
                       match="result type deepgrad.float32 can't be cast to the desired output type "
                             "deepgrad.int64"):
        dg.ones(3, dtype=dg.int64).add_(1.5)


def test_detach_shares_memory_and_version():
    x = dg.ones(3, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    d[0] = 5.0
    assert x[0].item() == 5.0
    y = x * x
    d.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_modifying_an_index_or_mask_after_use_cannot_corrupt_the_gradient():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = dg.tensor([0, 0, 2])
    mask = dg.tensor([True, False, True])
    picked = x[idx]
    chosen = dg.where(mask, x, 0.0)
    idx[0] = 1
    (picked * 1).sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 1.0]
    mask[1] = True
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        chosen.sum().backward()
    rows = dg.tensor([[1], [0]])
    gathered = dg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True).gather(1, rows)
    rows.zero_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        gathered.sum().backward()


def test_grad_mode_is_per_thread():
    import threading

    seen = {}

    def worker():
        seen["start"] = dg.is_grad_enabled()
        with dg.no_grad():
            seen["inside"] = dg.is_grad_enabled()
            ready.set()
            resume.wait(5)

    ready, resume = threading.Event(), threading.Event()
    with dg.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        ready.wait(5)
    x = dg.ones(2, requires_grad=True)
    assert (x * 2).requires_grad  # the worker's no_grad does not reach this thread
    resume.set()
    thread.join()
    assert seen == {"start": True, "inside": False}


def test_autograd_backward_over_several_roots_in_one_pass():
    xv = np.array([0.5, -1.0, 2.0])
    results = []
    for lib in (dg, torch):
        x = lib.tensor(xv, requires_grad=True)
        h = x.tanh()
        lib.autograd.backward([(h * h).sum(), h * 3], [None, lib.tensor([1.0, 0.0, 2.0], dtype=lib.float64)])
        results.append(x.grad.numpy().copy())
    np.testing.assert_allclose(results[0], results[1])
    x = dg.tensor(xv, requires_grad=True)
    with pytest.raises(RuntimeError, match="backward: got 1 gradients for 2 tensors"):
        dg.autograd.backward([x * 2, x * 3], [None])
    with pytest.raises(RuntimeError, match="backward: element 1 of tensors does not require grad"):
        dg.autograd.backward([x.sum(), dg.ones(1).sum()])
