"""deepgrad.optim against torch.optim: parameter trajectories step by step, state_dict layout,
exact resume, validation errors."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.optim as optim

STEPS = 25

# (name, kwargs): each configuration exercises a different branch of its update rule
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.02)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6)),
    ("Adagrad", dict(lr=0.05, maximize=True, weight_decay=0.01)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9, eps=1e-6)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True, eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.3, amsgrad=True, maximize=True)),
]


def _initial(seed=0):
    rng = np.random.default_rng(seed)
    return {"w1": rng.standard_normal((5, 4)), "b1": rng.standard_normal(5) * 0.1,
            "w2": rng.standard_normal((2, 5)), "b2": rng.standard_normal(2) * 0.1}


def _data(seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 4)), rng.standard_normal((8, 2))


def _loss(params, x, y):
    """A small MLP with a squared loss, written with methods both libraries share."""
    h = (x.matmul(params["w1"].t()) + params["b1"]).tanh()
    out = h.matmul(params["w2"].t()) + params["b2"]
    return ((out - y) ** 2).mean()


def _dg_model(init, dtype=np.float64):
    return {k: dg.nn.Parameter(dg.tensor(v.astype(dtype))) for k, v in init.items()}


def _torch_model(init, dtype=np.float64):
    return {k: torch.nn.Parameter(torch.tensor(v.astype(dtype))) for k, v in init.items()}


def _train_step(opt, params, x, y):
    opt.zero_grad()
    loss = _loss(params, x, y)
    loss.backward()
    opt.step()
    return loss


def _trajectories(name, kwargs, dtype, steps=STEPS):
    init, (x, y) = _initial(), _data()
    dp, tp = _dg_model(init, dtype), _torch_model(init, dtype)
    dopt = getattr(optim, name)(list(dp.values()), **kwargs)
    topt = getattr(torch.optim, name)(list(tp.values()), **kwargs)
    dx, dy = dg.tensor(x.astype(dtype)), dg.tensor(y.astype(dtype))
    tx, ty = torch.tensor(x.astype(dtype)), torch.tensor(y.astype(dtype))
    for _ in range(steps):
        _train_step(dopt, dp, dx, dy)
        _train_step(topt, tp, tx, ty)
        yield dp, tp, dopt, topt


@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_trajectory_matches_torch_float64(name, kwargs):
    for step, (dp, tp, _, _) in enumerate(_trajectories(name, kwargs, np.float64)):
        for k in dp:
            np.testing.assert_allclose(dp[k].detach().numpy(), tp[k].detach().numpy(), rtol=1e-6,
                                       atol=1e-12, err_msg=f"{name}{kwargs}: {k} after step {step + 1}")


@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_trajectory_float32_keeps_dtype(name, kwargs):
    *_, (dp, tp, dopt, _) = _trajectories(name, kwargs, np.float32)
    for k in dp:
        assert dp[k].dtype == dg.float32
        np.testing.assert_allclose(dp[k].detach().numpy(), tp[k].detach().numpy(), rtol=1e-3, atol=1e-4)
    for state in dopt.state.values():
        for key, value in state.items():  # buffers follow the parameters; the step count is float32
            assert value.dtype == dg.float32, (key, value.dtype)


def test_step_counter_and_state_keys_match_torch():
    *_, (_, _, dopt, topt) = _trajectories("Adam", dict(lr=0.01, amsgrad=True), np.float64, steps=3)
    dsd, tsd = dopt.state_dict(), topt.state_dict()
    assert list(dsd["state"]) == list(tsd["state"]) == [0, 1, 2, 3]
    for i in dsd["state"]:
        assert set(dsd["state"][i]) == set(tsd["state"][i])
        assert float(dsd["state"][i]["step"]) == float(tsd["state"][i]["step"]) == 3.0
        assert dsd["state"][i]["step"].dtype == dg.float32
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_allclose(dsd["state"][i][key].numpy(), tsd["state"][i][key].numpy(), rtol=1e-6)
    assert [g["params"] for g in dsd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    for dg_group, t_group in zip(dsd["param_groups"], tsd["param_groups"]):
        for key, value in dg_group.items():
            assert t_group[key] == value, key


def test_param_groups_with_own_settings_match_torch():
    init, (x, y) = _initial(), _data()
    dp, tp = _dg_model(init), _torch_model(init)

    def groups(p):
        return [{"params": [p["w1"], p["b1"]]}, {"params": [p["w2"], p["b2"]], "lr": 0.5, "momentum": 0.0}]

    dopt = optim.SGD(groups(dp), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(groups(tp), lr=0.05, momentum=0.9)
    assert dopt.param_groups[1]["momentum"] == 0.0 and dopt.param_groups[0]["momentum"] == 0.9
    dx, dy, tx, ty = dg.tensor(x), dg.tensor(y), torch.tensor(x), torch.tensor(y)
    for _ in range(10):
        _train_step(dopt, dp, dx, dy)
        _train_step(topt, tp, tx, ty)
    for k in dp:
        np.testing.assert_allclose(dp[k].detach().numpy(), tp[k].detach().numpy(), rtol=1e-9)
    assert "momentum_buffer" not in dopt.state[dp["w2"]]


def test_parameters_without_grad_are_skipped():
    a = dg.nn.Parameter(dg.tensor([1.0, 2.0]))
    b = dg.nn.Parameter(dg.tensor([3.0, 4.0]))
    opt = optim.Adam([a, b], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    assert b.tolist() == [3.0, 4.0] and b not in opt.state
    assert a.tolist() != [1.0, 2.0] and float(opt.state[a]["step"]) == 1.0


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_step_bumps_version_so_autograd_detects_the_update(name):
    w = dg.nn.Parameter(dg.tensor([1.0, -2.0]))
    opt = getattr(optim, name)([w], lr=0.1)
    (w * w).sum().backward()
    version = w._version[0]
    y = (w * w).sum()  # saves w for backward
    opt.step()
    assert w._version[0] == version + 1
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        y.backward()


def test_zero_grad():
    w = dg.nn.Parameter(dg.tensor([1.0, 2.0]))
    opt = optim.SGD([w], lr=0.1)
    (w * 3).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_step_with_closure_returns_loss_and_enables_grad():
    w = dg.nn.Parameter(dg.tensor([1.0, 2.0]))
    opt = optim.SGD([w], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        calls.append(dg.is_grad_enabled())
        loss.backward()
        return loss

    with dg.no_grad():
        loss = opt.step(closure)
    assert calls == [True] and float(loss) == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])


@pytest.mark.parametrize("name,kwargs", [CONFIGS[1], CONFIGS[5], CONFIGS[8], CONFIGS[12], CONFIGS[16]])
def test_state_dict_resume_is_exact(name, kwargs):
    init, (x, y) = _initial(), _data()
    dx, dy = dg.tensor(x), dg.tensor(y)
    ref = _dg_model(init)
    ref_opt = getattr(optim, name)(list(ref.values()), **kwargs)
    for _ in range(10):
        _train_step(ref_opt, ref, dx, dy)

    first = _dg_model(init)
    first_opt = getattr(optim, name)(list(first.values()), **kwargs)
    for _ in range(5):
        _train_step(first_opt, first, dx, dy)
    saved_params = {k: v.detach().numpy().copy() for k, v in first.items()}
    saved_state = copy.deepcopy(first_opt.state_dict())
    for _ in range(3):  # keep training the first run: the copy must not be affected
        _train_step(first_opt, first, dx, dy)

    resumed = _dg_model(saved_params)
    resumed_opt = getattr(optim, name)(list(resumed.values()), lr=123.0)
    resumed_opt.load_state_dict(saved_state)
    assert resumed_opt.param_groups[0]["lr"] == kwargs.get("lr", ref_opt.defaults["lr"])
    for _ in range(5):
        _train_step(resumed_opt, resumed, dx, dy)
    for k in ref:
        np.testing.assert_array_equal(resumed[k].detach().numpy(), ref[k].detach().numpy())


def test_resume_through_a_checkpoint_file_is_exact(tmp_path):
    init, (x, y) = _initial(), _data()
    dx, dy = dg.tensor(x), dg.tensor(y)

    def run(params, opt, sched, epochs):
        for _ in range(epochs):
            _train_step(opt, params, dx, dy)
            sched.step()

    def make(params):
        opt = optim.AdamW(list(params.values()), lr=0.02, amsgrad=True)
        return opt, optim.lr_scheduler.MultiStepLR(opt, milestones=[3, 8], gamma=0.5)

    ref = _dg_model(init)
    run(ref, *make(ref), 12)
    first = _dg_model(init)
    opt, sched = make(first)
    run(first, opt, sched, 6)
    dg.save({"params": {k: v.detach() for k, v in first.items()}, "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict()}, tmp_path / "checkpoint.safetensors")
    ckpt = dg.load(tmp_path / "checkpoint.safetensors")
    resumed = _dg_model({k: v.numpy() for k, v in ckpt["params"].items()})
    opt, sched = make(resumed)
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    run(resumed, opt, sched, 6)
    for k in ref:
        np.testing.assert_array_equal(resumed[k].detach().numpy(), ref[k].detach().numpy())


def test_load_state_dict_copies_and_casts_buffers():
    w32 = dg.nn.Parameter(dg.tensor([1.0, 2.0], dtype=dg.float32))
    w64 = dg.nn.Parameter(dg.tensor([1.0, 2.0], dtype=dg.float64))
    src = optim.SGD([w64], lr=0.1, momentum=0.9)
    (w64 * w64).sum().backward()
    src.step()
    dst = optim.SGD([w32], lr=0.1, momentum=0.9)
    dst.load_state_dict(src.state_dict())
    buf = dst.state[w32]["momentum_buffer"]
    assert buf.dtype == dg.float32 and buf.tolist() == [2.0, 4.0]
    src.state[w64]["momentum_buffer"]._data[:] = 0
    assert buf.tolist() == [2.0, 4.0]


def test_load_state_dict_errors():
    a, b = dg.nn.Parameter(dg.zeros(2)), dg.nn.Parameter(dg.zeros(3))
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    (a.sum() + b.sum()).backward()
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="2 parameter groups, this optimizer has 1"):
        optim.SGD([a, b], lr=0.1).load_state_dict(
            {"state": {}, "param_groups": [dict(sd["param_groups"][0], params=[0]),
                                           dict(sd["param_groups"][0], params=[1])]})
    with pytest.raises(ValueError, match="group 0 holds 2 parameters in the state dict, 1 in this"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(2,\).*shape \(3,\)"):
        optim.SGD([b, a], lr=0.1).load_state_dict(sd)


def test_state_dict_with_named_parameters():
    init = _initial()
    tp = torch.nn.Module()
    for k, v in _torch_model(init).items():
        tp.register_parameter(k, v)
    dm = dg.nn.Module()
    for k, v in _dg_model(init).items():
        setattr(dm, k, v)
    dsd = optim.Adam(dm.named_parameters()).state_dict()
    tsd = torch.optim.Adam(tp.named_parameters()).state_dict()
    assert dsd["param_groups"][0]["param_names"] == tsd["param_groups"][0]["param_names"]
    assert dsd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"]


def test_add_param_group_takes_defaults_and_adagrad_initialises_state():
    a, b = dg.nn.Parameter(dg.ones(2)), dg.nn.Parameter(dg.ones(3))
    opt = optim.Adagrad([a], lr=0.5, initial_accumulator_value=0.25)
    opt.add_param_group({"params": b, "lr": 0.1})
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["eps"] == 1e-10
    assert opt.state[b]["sum"].tolist() == [0.25] * 3 and float(opt.state[b]["step"]) == 0.0
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_repr_lists_groups():
    text = repr(optim.Adam([dg.nn.Parameter(dg.zeros(1))], lr=0.01))
    assert text.startswith("Adam (") and "Parameter Group 0" in text and "lr: 0.01" in text


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-0.1), r"SGD: invalid learning rate: lr=-0.1"),
    (lambda p: optim.SGD(p, momentum=-1), r"invalid momentum value: momentum=-1"),
    (lambda p: optim.SGD(p, weight_decay=-1e-4), r"invalid weight_decay value"),
    (lambda p: optim.SGD(p, nesterov=True), r"Nesterov momentum requires a momentum > 0"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), r"zero dampening"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), r"Adagrad: invalid lr_decay value"),
    (lambda p: optim.Adagrad(p, eps=-1), r"Adagrad: invalid epsilon value"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), r"initial_accumulator_value"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), r"RMSprop: invalid alpha value"),
    (lambda p: optim.RMSprop(p, momentum=-0.5), r"RMSprop: invalid momentum value"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"Adam: invalid beta parameter at index 0.*\[0, 1\)"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), r"invalid beta parameter at index 1"),
    (lambda p: optim.Adam(p, betas=(0.9,)), r"betas must be a pair"),
    (lambda p: optim.AdamW(p, eps=-1e-8), r"AdamW: invalid epsilon value"),
    (lambda p: optim.AdamW(p, lr=float("nan")), r"AdamW: invalid learning rate"),
    (lambda p: optim.SGD([{"params": p, "lr": -1.0}], lr=0.1), r"invalid learning rate: lr=-1.0"),
    (lambda p: optim.SGD([], lr=0.1), r"empty parameter list"),
    (lambda p: optim.SGD(p + p, lr=0.1), r"same parameter twice"),
])
def test_invalid_settings_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make([dg.nn.Parameter(dg.zeros(2))])


def test_invalid_params_raise():
    w = dg.nn.Parameter(dg.zeros(2))
    with pytest.raises(TypeError, match="got a single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors, but one of the params is ndarray"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="ordered collection"):
        optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf Tensor"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="needs a 'params' entry, got keys \\['lr'\\]"):
        optim.SGD([{"lr": 0.1}])
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.SGD([w], lr="fast")


def test_subclass_without_update_rule_says_what_to_define():
    class Bare(optim.Optimizer):
        pass

    opt = Bare([dg.nn.Parameter(dg.zeros(1))], {"beta": 0.1})
    assert opt.param_groups[0]["beta"] == 0.1
    with pytest.raises(NotImplementedError, match="Bare must define step"):
        opt.step()
