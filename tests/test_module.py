"""Module, Parameter and containers against PyTorch: registration, traversal, state dicts, hooks,
repr, conversions, deepcopy and weight interop."""
import contextlib
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.nn as nn
from tests.helpers import assert_close, rand

tnn = torch.nn


# ---------------------------------------------------------------------------- shared architectures
def mlp(lib):
    return lib.Sequential(lib.Linear(3, 5), lib.ReLU(),
                          lib.Sequential(lib.Linear(5, 4, bias=False), lib.Tanh()),
                          lib.Linear(4, 2))


def make_net(lib, base):
    """A custom module with every kind of registered member, built the same way in both libraries."""

    class Net(base):
        def __init__(self):
            super().__init__()
            self.encoder = lib.Sequential(OrderedDict([("fc", lib.Linear(4, 6)), ("act", lib.GELU())]))
            self.blocks = lib.ModuleList([lib.Linear(6, 6), lib.Linear(6, 6)])
            self.heads = lib.ModuleDict({"a": lib.Linear(6, 2), "b": lib.Linear(6, 3, bias=False)})
            self.scales = lib.ParameterList([lib.Parameter(lib_ones(lib, 6)) for _ in range(2)])
            self.register_buffer("steps", lib_zeros(lib, 1))
            self.register_buffer("cache", lib_zeros(lib, 6), persistent=False)
            self.gain = lib.Parameter(lib_ones(lib, 1))

        def forward(self, x):
            h = self.encoder(x)
            for blk, s in zip(self.blocks, self.scales):
                h = (blk(h) * s).tanh()
            return self.heads["a"](h) * self.gain

    return Net()


def lib_ones(lib, n):
    return (torch if lib is tnn else dg).ones(n)


def lib_zeros(lib, n):
    return (torch if lib is tnn else dg).zeros(n)


def pair(builder):
    t_model = builder(tnn) if builder is mlp else builder(tnn, tnn.Module)
    d_model = builder(nn) if builder is mlp else builder(nn, nn.Module)
    d_model.load_state_dict(t_model.state_dict())
    return t_model.double(), d_model.double()


# ---------------------------------------------------------------------------- registration and traversal
@pytest.mark.parametrize("builder", [mlp, make_net])
def test_state_dict_keys_shapes_and_traversal_names_match_torch(builder):
    t_model, d_model = pair(builder)
    t_sd, d_sd = t_model.state_dict(), d_model.state_dict()
    assert list(d_sd) == list(t_sd)
    assert [tuple(v.shape) for v in d_sd.values()] == [tuple(v.shape) for v in t_sd.values()]
    assert [n for n, _ in d_model.named_parameters()] == [n for n, _ in t_model.named_parameters()]
    assert [n for n, _ in d_model.named_buffers()] == [n for n, _ in t_model.named_buffers()]
    assert [n for n, _ in d_model.named_modules()] == [n for n, _ in t_model.named_modules()]
    assert [n for n, _ in d_model.named_children()] == [n for n, _ in t_model.named_children()]
    assert [type(m).__name__ for m in d_model.modules()] == [type(m).__name__ for m in t_model.modules()]
    assert len(list(d_model.parameters())) == len(list(t_model.parameters()))
    assert len(list(d_model.parameters(recurse=False))) == len(list(t_model.parameters(recurse=False)))
    assert [n for n, _ in d_model.named_parameters(prefix="m")] == \
        [n for n, _ in t_model.named_parameters(prefix="m")]


def test_non_persistent_buffer_is_excluded_from_state_dict_but_listed_as_buffer():
    d_model = make_net(nn, nn.Module)
    assert "cache" not in d_model.state_dict()
    assert "cache" in dict(d_model.named_buffers())


def test_shared_parameters_are_yielded_once_but_saved_under_every_name():
    def tied(lib):
        a, b = lib.Linear(3, 3), lib.Linear(3, 3)
        b.weight = a.weight
        return lib.Sequential(a, lib.ReLU(), b, a)

    t_model, d_model = tied(tnn), tied(nn)
    names = [n for n, _ in d_model.named_parameters()]
    assert names == [n for n, _ in t_model.named_parameters()] == ["0.weight", "0.bias", "2.bias"]
    assert [n for n, _ in d_model.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in t_model.named_parameters(remove_duplicate=False)]
    assert list(d_model.state_dict()) == list(t_model.state_dict())
    assert [n for n, _ in d_model.named_modules()] == [n for n, _ in t_model.named_modules()]
    assert len(list(d_model.children())) == len(list(t_model.children())) == 3


def test_setattr_registers_replaces_and_unregisters():
    m = nn.Linear(3, 2)
    m.bias = None
    assert m.bias is None and list(m.state_dict()) == ["weight"]
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.bias = nn.Parameter(dg.zeros(2))
    assert list(m.state_dict()) == ["weight", "bias"]
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        m.weight = dg.zeros(2, 3)
    m.note = "plain"
    m.scale = dg.ones(1)  # a plain tensor attribute is neither a parameter nor a buffer
    assert m.note == "plain" and "scale" not in m.state_dict() and "note" in m.__dict__

    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    seq.extra = nn.Tanh()
    seq.extra = nn.Sigmoid()  # replacing a submodule keeps one entry
    assert [n for n, _ in seq.named_children()] == ["0", "1", "extra"]
    assert isinstance(seq.extra, nn.Sigmoid)
    with pytest.raises(TypeError, match="cannot assign int as child module 'extra'"):
        seq.extra = 3
    seq.extra = None
    assert [n for n, _ in seq.named_children()] == ["0", "1"]
    del seq.extra
    assert "extra" not in seq._modules

    m.register_buffer("running", dg.zeros(2))
    with pytest.raises(TypeError, match="cannot assign list as buffer 'running'"):
        m.running = [1, 2]
    m.running = dg.ones(2)  # a tensor assigned to a buffer name replaces the buffer
    assert "running" in m.state_dict() and m.state_dict()["running"].numpy().tolist() == [1, 1]
    m.running = nn.Parameter(dg.ones(2))  # a parameter takes the name over
    assert "running" in dict(m.named_parameters()) and "running" not in dict(m.named_buffers())
    del m.running
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'running'"):
        _ = m.running


def test_buffer_marker_registers_buffers():
    m = nn.Module()
    m.mean = nn.Buffer(dg.zeros(3))
    m.tmp = nn.Buffer(dg.ones(2), persistent=False)
    assert list(m.state_dict()) == ["mean"]
    assert [n for n, _ in m.named_buffers()] == ["mean", "tmp"]
    assert type(m.mean) is dg.Tensor and not m.mean.requires_grad


def test_registration_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(KeyError, match=r"can't contain '\.'"):
        m.register_parameter("a.b", nn.Parameter(dg.zeros(1)))
    with pytest.raises(KeyError, match="or be empty"):
        m.register_buffer("", dg.zeros(1))
    with pytest.raises(KeyError, match="attribute 'in_features' already exists"):
        m.register_buffer("in_features", dg.zeros(1))
    with pytest.raises(TypeError, match="cannot assign Tensor object to parameter 'p'"):
        m.register_parameter("p", dg.zeros(1))
    with pytest.raises(TypeError, match="cannot assign list object to buffer"):
        m.register_buffer("b", [1.0])
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("c", 3)
    with pytest.raises(TypeError, match="name should be a string"):
        m.add_module(1, nn.ReLU())

    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first"):
        Early()
    with pytest.raises(TypeError, match="got unexpected arguments"):
        nn.Module(3)


def test_get_submodule_parameter_buffer():
    d_model = make_net(nn, nn.Module)
    assert d_model.get_submodule("encoder.fc") is d_model.encoder.fc
    assert d_model.get_submodule("blocks.1") is d_model.blocks[1]
    assert d_model.get_submodule("") is d_model
    assert d_model.get_parameter("heads.a.weight") is d_model.heads["a"].weight
    assert d_model.get_buffer("steps") is d_model.steps
    with pytest.raises(AttributeError, match="Sequential has no submodule 'nope'"):
        d_model.get_submodule("encoder.nope")
    with pytest.raises(AttributeError, match="Linear has no parameter 'gamma'"):
        d_model.get_parameter("encoder.fc.gamma")
    with pytest.raises(AttributeError, match="has no buffer 'weight'"):
        d_model.get_buffer("encoder.fc.weight")


def test_module_without_forward_names_itself():
    with pytest.raises(NotImplementedError, match=r"Module \[ModuleList\] is missing the required"):
        nn.ModuleList([nn.ReLU()])(dg.zeros(1))


# ---------------------------------------------------------------------------- modes and conversions
def test_train_eval_propagate_and_call_overrides():
    calls = []

    class Frozen(nn.Linear):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(False)

    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(Frozen(2, 2), nn.ReLU()))
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    assert net.train() is net
    assert calls == [False, True]
    assert [m.training for m in net.modules()] == [True, True, True, False, True]
    with pytest.raises(ValueError, match="expected to be a boolean"):
        net.train("yes")


def test_zero_grad_requires_grad_and_apply():
    net = mlp(nn)
    net(dg.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())

    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())

    t_order, d_order = [], []
    mlp(tnn).apply(lambda m: t_order.append(type(m).__name__))
    net.apply(lambda m: d_order.append(type(m).__name__))
    assert d_order == t_order
    net.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert not any(m.weight.numpy(force=True).any() for m in net.modules() if isinstance(m, nn.Linear))


def test_double_float_to_keep_parameter_identity_and_convert_grads():
    net = make_net(nn, nn.Module)
    net.register_buffer("count", dg.tensor(3))
    params = list(net.parameters())
    net(dg.randn(2, 4)).sum().backward()
    versions = [p._version[0] for p in params]
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == dg.float64 for p in params)
    assert all(p.grad.dtype == dg.float64 for p in params if p is not net.heads["b"].weight)
    assert all(p._version[0] > v for p, v in zip(params, versions))
    assert net.steps.dtype == dg.float64 and net.count.dtype == dg.int64
    out = net(dg.randn(2, 4, dtype=dg.float64))
    assert out.dtype == dg.float64
    net.float()
    assert all(p.dtype == dg.float32 for p in params)
    net.to(dg.float64)
    assert params[0].dtype == dg.float64
    net.to("cpu", dtype=dg.float32)
    assert params[0].dtype == dg.float32
    net.to(dg.zeros(1, dtype=dg.float64))
    assert params[0].dtype == dg.float64 and net.count.dtype == dg.int64
    assert net.to("cpu") is net
    with pytest.raises(TypeError, match="only accepts floating point dtypes, got deepgrad.int64"):
        net.to(dg.int64)
    with pytest.raises(RuntimeError, match="not available"):
        net.to("cuda")


def test_optimizer_keeps_working_after_double():
    net = nn.Linear(3, 1)
    opt = dg.optim.SGD(net.parameters(), lr=0.1)
    net.double()
    before = net.weight.detach().numpy().copy()
    net(dg.ones(2, 3, dtype=dg.float64)).sum().backward()
    opt.step()
    assert net.weight.dtype == dg.float64
    np.testing.assert_allclose(net.weight.detach().numpy(), before - 0.1 * 2)


# ---------------------------------------------------------------------------- state dicts
def test_state_dict_shares_memory_and_keep_vars():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad and type(sd["weight"]) is dg.Tensor
    sd["weight"].zero_()
    assert not m.weight.detach().numpy().any()
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_load_state_dict_reports_every_mismatch_in_one_error():
    m = mlp(nn)
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    del sd["0.bias"]
    sd["9.weight"] = dg.zeros(1)
    sd["3.weight"] = dg.zeros(7, 7)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert "Missing key(s) in state_dict: '0.bias'" in msg
    assert "Unexpected key(s) in state_dict: '9.weight'" in msg
    assert "size mismatch for 3.weight: copying a param with shape (7, 7)" in msg
    assert "the shape in current model is (2, 4)" in msg
    # a wrong shape is an error even when not strict (as in PyTorch)
    with pytest.raises(RuntimeError, match="size mismatch for 3.weight"):
        m.load_state_dict(sd, strict=False)
    with pytest.raises(TypeError, match="expected a dict-like state_dict, got list"):
        m.load_state_dict([1, 2])


def test_load_state_dict_not_strict_returns_missing_and_unexpected_like_torch():
    t_model, d_model = mlp(tnn), mlp(nn)
    sd = t_model.state_dict()
    sd.pop("3.bias")
    sd["extra.weight"] = torch.zeros(1)
    t_res = t_model.load_state_dict(sd, strict=False)
    d_res = d_model.load_state_dict(sd, strict=False)
    assert d_res.missing_keys == t_res.missing_keys == ["3.bias"]
    assert d_res.unexpected_keys == t_res.unexpected_keys == ["extra.weight"]
    missing, unexpected = d_res
    assert missing == ["3.bias"] and unexpected == ["extra.weight"]
    assert_close(d_model[0].weight, t_model[0].weight)
    assert repr(d_model.load_state_dict(d_model.state_dict())) == "<All keys matched successfully>"


def test_load_state_dict_casts_copies_and_bumps_versions():
    m = nn.Linear(2, 2)
    w = m.weight
    v = w._version[0]
    arrays = {"weight": np.arange(4.0).reshape(2, 2), "bias": np.array([1.0, 2.0])}  # float64, NumPy
    m.load_state_dict(arrays)
    assert m.weight is w and w.dtype == dg.float32 and w._version[0] > v
    np.testing.assert_array_equal(w.detach().numpy(), arrays["weight"])
    arrays["weight"][0, 0] = 99  # copied, not shared
    assert w.detach().numpy()[0, 0] == 0
    src = {"weight": dg.ones(2, 2, dtype=dg.float64), "bias": dg.zeros(2, dtype=dg.float64)}
    m.load_state_dict(src, assign=True)  # assign adopts the given arrays and their dtype
    assert m.weight is w and w.dtype == dg.float64 and np.shares_memory(w._data, src["weight"]._data)


def test_load_state_dict_of_buffers_and_parameter_lists():
    t_model, d_model = make_net(tnn, tnn.Module), make_net(nn, nn.Module)
    with torch.no_grad():
        t_model.steps.fill_(7)
        t_model.scales[1].fill_(3)
    d_model.load_state_dict(t_model.state_dict())
    assert d_model.steps.numpy().tolist() == [7.0]
    assert d_model.scales[1].detach().numpy().tolist() == [3.0] * 6


# ---------------------------------------------------------------------------- interop
def test_torch_weights_into_deepgrad_give_same_outputs_and_gradients():
    t_model, d_model = pair(make_net)
    x = rand(5, 4)
    tx, dx = torch.tensor(x, requires_grad=True), dg.tensor(x, requires_grad=True)
    t_out, d_out = t_model(tx), d_model(dx)
    assert_close(d_out, t_out, what="output")
    w = rand(*t_out.shape, seed=3)
    (t_out * torch.tensor(w)).sum().backward()
    (d_out * dg.tensor(w)).sum().backward()
    assert_close(dx.grad, tx.grad, what="input grad")
    t_params = dict(t_model.named_parameters())
    for name, p in d_model.named_parameters():
        if t_params[name].grad is None:  # heads.b is not used by forward
            assert p.grad is None, name
        else:
            assert_close(p.grad, t_params[name].grad, what=f"grad of {name}")


def test_deepgrad_weights_into_torch_give_same_outputs():
    d_model, t_model = make_net(nn, nn.Module), make_net(tnn, tnn.Module)
    t_model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in d_model.state_dict().items()})
    x = rand(3, 4, dtype=np.float32)
    assert_close(d_model(dg.tensor(x)), t_model(torch.tensor(x)), atol=1e-6)


# ---------------------------------------------------------------------------- hooks
def test_call_takes_fast_path_without_hooks(monkeypatch):
    m = nn.Linear(2, 2)

    def fail(*a):
        raise AssertionError("the hook path ran although no hook is registered")

    monkeypatch.setattr(nn.Module, "_call_with_hooks", fail)
    assert m(dg.ones(1, 2)).shape == (1, 2)
    m.register_forward_hook(lambda *a: None)
    with pytest.raises(AssertionError, match="hook path ran"):
        m(dg.ones(1, 2))


def test_forward_pre_hook_and_forward_hook_modify_inputs_and_outputs():
    m = nn.Linear(2, 2)
    seen = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: seen.append((mod, args[0], out)))
    h3 = m.register_forward_hook(lambda mod, args, out: out + 1)
    out = m(dg.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), m.bias.detach().numpy()[None] + 1, rtol=1e-6)
    assert seen[0][0] is m and not seen[0][1].numpy().any()
    h1.remove()
    h3.remove()
    with h2:
        m(dg.ones(1, 2))
    assert len(seen) == 2
    m(dg.ones(1, 2))
    assert len(seen) == 2 and not m._forward_hooks and not m._forward_pre_hooks


def test_hooks_with_kwargs_and_prepend_order():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m, order = Scale(), []
    m.register_forward_hook(lambda mod, args, out: order.append("second"))
    m.register_forward_hook(lambda mod, args, out: order.append("first"), prepend=True)
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": kwargs["factor"] * 10}),
                                with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["factor"], with_kwargs=True)
    out = m(dg.ones(2), factor=2.0)
    assert out.numpy().tolist() == [40.0, 40.0] and order == ["first", "second"]
    m.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple \(new_args, new_kwargs\)"):
        m(dg.ones(2), factor=1.0)
    with pytest.raises(TypeError, match="a hook must be callable"):
        m.register_forward_hook(3)


def _record_backward_hooks(model, modules):
    log = []
    for name in modules:
        model.get_submodule(name).register_full_backward_hook(
            lambda mod, gi, go, name=name: log.append((name, gi, go)))
    return log


def _as_arrays(grads):
    return [None if g is None else g.detach().numpy() for g in grads]


@pytest.mark.parametrize("input_grad", [True, False])
def test_full_backward_hook_matches_torch_for_linear_and_sequential(input_grad):
    t_model, d_model = pair(mlp)
    names = ["", "0", "1", "2", "2.0", "3"]
    t_log, d_log = _record_backward_hooks(t_model, names), _record_backward_hooks(d_model, names)
    x = rand(4, 3)
    tx, dx = torch.tensor(x, requires_grad=input_grad), dg.tensor(x, requires_grad=input_grad)
    w = rand(4, 2, seed=5)
    with pytest.warns(UserWarning) if not input_grad else contextlib.nullcontext():
        (t_model(tx) * torch.tensor(w)).sum().backward()
    (d_model(dx) * dg.tensor(w)).sum().backward()
    assert [n for n, _, _ in d_log] == [n for n, _, _ in t_log]
    for (name, d_gi, d_go), (_, t_gi, t_go) in zip(d_log, t_log):
        for what, d, t in (("grad_input", d_gi, t_gi), ("grad_output", d_go, t_go)):
            assert len(d) == len(t), (name, what)
            for a, b in zip(_as_arrays(d), _as_arrays(t)):
                assert (a is None) == (b is None), (name, what)
                if a is not None:
                    np.testing.assert_allclose(a, b, atol=1e-12, err_msg=f"{name} {what}")
    if input_grad:
        assert_close(dx.grad, tx.grad)  # the taps do not change any gradient


def _two_input_module(lib):
    class Mix(lib.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.Linear(3, 2)

        def forward(self, x, scale, y):
            out = self.fc(x) * scale + y
            return out, out.sum()

    return Mix()


def test_full_backward_hook_with_several_inputs_and_outputs():
    t_m, d_m = _two_input_module(tnn).double(), _two_input_module(nn)
    d_m.load_state_dict(t_m.state_dict())
    d_m.double()
    t_log, d_log = _record_backward_hooks(t_m, [""]), _record_backward_hooks(d_m, [""])
    x, y = rand(4, 3), rand(4, 2, seed=1)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    dx, dy = dg.tensor(x, requires_grad=True), dg.tensor(y, requires_grad=True)
    t_out, _ = t_m(tx, 2.0, ty)
    d_out, _ = d_m(dx, 2.0, dy)
    t_out.pow(2).sum().backward()
    d_out.pow(2).sum().backward()
    (_, d_gi, d_go), (_, t_gi, t_go) = d_log[0], t_log[0]
    assert len(d_log) == 1 and len(d_gi) == 3 and d_gi[1] is None
    assert_close(d_gi[0], t_gi[0])
    assert_close(d_gi[2], t_gi[2])
    assert_close(d_go[0], t_go[0])
    assert d_go[1] is None and t_go[1] is None  # the second output got no gradient
    assert_close(dx.grad, tx.grad)
    assert_close(dy.grad, ty.grad)


def test_full_backward_hook_can_replace_the_input_gradient_like_torch():
    t_m, d_m = pair(mlp)
    for m in (t_m[0], d_m[0]):
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 3,))
    x = rand(2, 3)
    tx, dx = torch.tensor(x, requires_grad=True), dg.tensor(x, requires_grad=True)
    t_m(tx).sum().backward()
    d_m(dx).sum().backward()
    assert_close(dx.grad, tx.grad)

    m = _two_input_module(nn)
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2, None, gi[2]))
    out, _ = m(dg.ones(1, 3, requires_grad=True), 1.0, dg.ones(1, 2, requires_grad=True))
    with pytest.raises(RuntimeError, match="only possible when exactly one input requires grad"):
        out.sum().backward()
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="returned 2 grad_input entries, expected 1"):
        lin(dg.ones(1, 2, requires_grad=True)).sum().backward()


def test_full_backward_hook_not_called_under_no_grad_and_removable():
    m, log = nn.Linear(2, 2), []
    handle = m.register_full_backward_hook(lambda *a: log.append(a))
    with dg.no_grad():
        out = m(dg.ones(1, 2))
    assert not out.requires_grad and out._ctx is None
    handle.remove()
    m(dg.ones(1, 2, requires_grad=True)).sum().backward()
    assert log == []


def test_backward_hook_fires_once_per_backward_with_retained_graph():
    m, log = nn.Linear(2, 2), []
    m.register_full_backward_hook(lambda mod, gi, go: log.append(go[0].numpy().copy()))
    out = m(dg.ones(1, 2, requires_grad=True)).sum()
    out.backward(retain_graph=True)
    out.backward()
    assert len(log) == 2 and np.array_equal(log[0], log[1])


def test_inplace_relu_inside_hooked_module_leaves_callers_tensor_intact():
    m = nn.ReLU(inplace=True)
    m.register_full_backward_hook(lambda *a: None)
    x = dg.tensor([-1.0, 2.0], requires_grad=True)
    h = x * 1
    m(h).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 1.0]


# ---------------------------------------------------------------------------- repr
def test_repr_matches_torch_for_nested_models():
    assert repr(mlp(nn)) == repr(mlp(tnn))
    assert repr(make_net(nn, nn.Module)).replace("deepgrad.", "torch.") == repr(make_net(tnn, tnn.Module))
    assert repr(nn.Sequential()) == repr(tnn.Sequential())
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Linear(1, 1), nn.ReLU()])) == \
        repr(tnn.ModuleList([tnn.ReLU(), tnn.ReLU(), tnn.Linear(1, 1), tnn.ReLU()]))
    assert repr(nn.ModuleList()) == repr(tnn.ModuleList())

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)

        def extra_repr(self):
            return "alpha=1\nbeta=2"

    assert repr(Custom()) == ("Custom(\n  alpha=1\n  beta=2\n"
                              "  (fc): Linear(in_features=1, out_features=1, bias=True)\n)")


def test_parameter_basics_and_repr():
    data = dg.zeros(2)
    p = nn.Parameter(data)
    assert p.requires_grad and p.is_leaf and isinstance(p, dg.Tensor)
    assert np.shares_memory(p._data, data._data)
    assert repr(p) == repr(tnn.Parameter(torch.zeros(2)))
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(dg.ones(1), requires_grad=False).requires_grad
    assert nn.Parameter(np.zeros(3)).dtype == dg.float64
    assert type(p * 2) is dg.Tensor
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        nn.Parameter(dg.tensor([1, 2]))
    with pytest.raises(TypeError, match="Parameter: expected a tensor or array-like"):
        nn.Parameter(object())


# ---------------------------------------------------------------------------- copies
def test_deepcopy_gives_independent_parameters_and_keeps_sharing_inside():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    net[2].weight = net[0].weight
    net.eval()
    twin = copy.deepcopy(net)
    assert twin[0].weight is not net[0].weight and twin[2].weight is twin[0].weight
    assert not twin.training
    with dg.no_grad():
        twin[0].weight.fill_(5.0)
    assert not (net[0].weight.detach().numpy() == 5).any()
    x = dg.ones(1, 2)
    twin.load_state_dict(net.state_dict())
    assert_close(twin(x), net(x))


def test_pickle_round_trip_keeps_values_and_structure():
    net = mlp(nn)
    back = pickle.loads(pickle.dumps(net))
    assert repr(back) == repr(net)
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in back.parameters())
    x = dg.randn(2, 3)
    assert_close(back(x), net(x))


# ---------------------------------------------------------------------------- containers
def test_sequential_indexing_slicing_and_editing_like_torch():
    d, t = mlp(nn), mlp(tnn)
    assert len(d) == len(t) == 4
    assert isinstance(d[-1], nn.Linear) and d[-1] is d[3]
    sub = d[1:3]
    assert type(sub) is nn.Sequential and repr(sub) == repr(t[1:3])
    assert [type(m).__name__ for m in d] == [type(m).__name__ for m in t]
    with pytest.raises(IndexError, match="index 4 is out of range for a Sequential of length 4"):
        d[4]
    for seq, lib in ((d, nn), (t, tnn)):
        seq.append(lib.Sigmoid())
        seq.insert(1, lib.Tanh())
        seq.extend([lib.ReLU(), lib.ReLU()])
        del seq[0]
        seq.pop(2)
        seq[0] = lib.GELU()
    assert repr(d) == repr(t)
    assert list(d.state_dict()) == list(t.state_dict())
    assert repr(d + nn.Sequential(nn.ReLU())) == repr(t + tnn.Sequential(tnn.ReLU()))
    assert repr(nn.Sequential(nn.ReLU()) * 2) == repr(tnn.Sequential(tnn.ReLU()) * 2)
    with pytest.raises(IndexError, match="index 9 is out of range"):
        d.insert(9, nn.ReLU())
    with pytest.raises(ValueError, match="only a Sequential can be added"):
        d + [nn.ReLU()]


def test_sequential_from_ordered_dict_keeps_names_and_runs_in_order():
    d = nn.Sequential(OrderedDict([("scale", nn.Linear(1, 1, bias=False)), ("act", nn.ReLU())]))
    t = tnn.Sequential(OrderedDict([("scale", tnn.Linear(1, 1, bias=False)), ("act", tnn.ReLU())]))
    assert repr(d) == repr(t) and list(d.state_dict()) == ["scale.weight"]
    d.scale.weight.data = dg.tensor([[-2.0]])
    assert d(dg.tensor([[1.0], [-1.0]])).detach().numpy().tolist() == [[0.0], [2.0]]
    assert d[0] is d.scale and type(d[1:]) is nn.Sequential and list(d[1:]._modules) == ["act"]


def test_module_list_and_module_dict_like_torch():
    d = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    t = tnn.ModuleList([tnn.Linear(1, 1), tnn.ReLU()])
    for lst, lib in ((d, nn), (t, tnn)):
        lst.append(lib.Tanh())
        lst.insert(0, lib.Sigmoid())
        lst += [lib.ReLU()]
        del lst[1]
        lst[-1] = lib.GELU()
    assert repr(d) == repr(t) and list(d.state_dict()) == list(t.state_dict())
    assert type(d[1:]) is nn.ModuleList and len(d[1:]) == len(t[1:])
    assert type(d + [nn.ReLU()]) is nn.ModuleList and len(d + [nn.ReLU()]) == 5
    with pytest.raises(IndexError, match="index -9 is out of range for a ModuleList of length 4"):
        d[-9]
    with pytest.raises(TypeError, match="expects an iterable of modules, got Linear"):
        nn.ModuleList(nn.Linear(1, 1))

    dd = nn.ModuleDict({"b": nn.Linear(1, 2), "a": nn.ReLU()})
    td = tnn.ModuleDict({"b": tnn.Linear(1, 2), "a": tnn.ReLU()})
    dd["c"], td["c"] = nn.Tanh(), tnn.Tanh()
    dd.update([("d", nn.ReLU())])
    td.update([("d", tnn.ReLU())])
    assert list(dd) == list(td) == ["b", "a", "c", "d"]
    assert repr(dd) == repr(td) and list(dd.state_dict()) == list(td.state_dict())
    assert "a" in dd and isinstance(dd.pop("a"), nn.ReLU) and "a" not in dd and len(dd) == 3
    assert [k for k, _ in dd.items()] == list(dd.keys()) == ["b", "c", "d"]
    with pytest.raises(ValueError, match="element #0 should be a"):
        dd.update([nn.ReLU()])
    dd.clear()
    assert len(dd) == 0


def test_parameter_list_like_torch():
    d = nn.ParameterList([nn.Parameter(dg.zeros(2, 3)), dg.ones(4)])
    t = tnn.ParameterList([tnn.Parameter(torch.zeros(2, 3)), torch.ones(4)])
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in d)
    d.append(dg.zeros(1))
    t.append(torch.zeros(1))
    d[0] = dg.ones(2, 3)
    assert d[0].numpy(force=True).all() and isinstance(d[0], nn.Parameter)
    assert list(d.state_dict()) == list(t.state_dict()) == ["0", "1", "2"]
    assert repr(d) == repr(t).replace("torch.", "deepgrad.")
    assert repr(nn.ParameterList([dg.zeros(2)])) == repr(tnn.ParameterList([torch.zeros(2)])).replace(
        "torch.", "deepgrad.")
    assert len(d) == 3 and d[-1].shape == (1,) and len(d[:2]) == 2
    with pytest.raises(TypeError, match="ParameterList holds tensors, got str"):
        d.append("x")


def test_full_backward_hook_sees_outputs_nested_in_named_tuples_and_dicts():
    from collections import namedtuple
    Pair = namedtuple("Pair", "a b")

    class Split(nn.Module):
        def forward(self, x):
            return Pair(x * 2, {"c": x * 3, "n": 1})

    m, log = Split(), []
    m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
    out = m(dg.ones(2))  # no input requires grad: the hook waits for both output gradients
    assert isinstance(out, Pair) and out.b["n"] == 1 and out.a.requires_grad is False
    x = dg.ones(2, requires_grad=True)
    out = m(x)
    (out.a.sum() + 5 * out.b["c"].sum()).backward()
    (gi,), go = log[0][0], log[0][1]
    assert gi.numpy().tolist() == [17.0, 17.0] and x.grad.numpy().tolist() == [17.0, 17.0]
    assert [g.numpy().tolist() for g in go] == [[1.0, 1.0], [5.0, 5.0]]


def test_full_backward_hook_without_input_grad_waits_for_every_output_like_torch():
    def two_heads(lib, ones):
        class TwoHeads(lib.Module):
            def __init__(self):
                super().__init__()
                self.w = lib.Parameter(ones(2))

            def forward(self, x):
                return x * self.w, x * self.w * 2

        return TwoHeads()

    logs = []
    for lib, mod in ((tnn, torch), (nn, dg)):
        m, log = two_heads(lib, mod.ones), []
        m.register_full_backward_hook(lambda _, gi, go, log=log: log.append((gi, go)))
        a, b = m(mod.tensor([1.0, 3.0]))
        with pytest.warns(UserWarning) if lib is tnn else contextlib.nullcontext():
            (a.sum() + (b * b).sum()).backward()
        logs.append(log)
    (t_log, d_log) = logs
    assert len(d_log) == len(t_log) == 1
    assert d_log[0][0] == t_log[0][0] == (None,)
    for d, t in zip(d_log[0][1], t_log[0][1]):
        assert_close(d, t)
