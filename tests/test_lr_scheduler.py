"""deepgrad.optim.lr_scheduler against torch.optim.lr_scheduler: learning-rate trajectories over
35+ steps, state_dict round trips, validation errors."""
from __future__ import annotations

import copy
import math

import pytest
import torch

import deepgrad as dg
import deepgrad.optim as optim
from deepgrad.optim import lr_scheduler as dsched

STEPS = 40


class Warmup:
    """A callable object (its attributes are saved by LambdaLR.state_dict, unlike a lambda)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.epochs)


# (scheduler name, kwargs, optimizer name, optimizer kwargs)
SCHEDULES = [
    ("StepLR", dict(step_size=7, gamma=0.5), "SGD", {}),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 20], gamma=0.3), "SGD", {}),
    ("ExponentialLR", dict(gamma=0.9), "SGD", {}),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001), "SGD", {}),
    ("CosineAnnealingLR", dict(T_max=13), "Adam", {}),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (e + 1)), "SGD", {}),
    ("LambdaLR", dict(lr_lambda=[lambda e: 0.95 ** e, lambda e: 1 + e % 3]), "SGD", {}),
    ("OneCycleLR", dict(max_lr=[1.0, 0.1], total_steps=STEPS + 1), "SGD", dict(momentum=0.9)),
    ("OneCycleLR", dict(max_lr=0.01, epochs=5, steps_per_epoch=9, pct_start=0.25, three_phase=True,
                        anneal_strategy="linear"), "Adam", {}),
]


def _optimizers(opt_name, opt_kwargs):
    d = getattr(optim, opt_name)([{"params": [dg.nn.Parameter(dg.zeros(2))]},
                                  {"params": [dg.nn.Parameter(dg.zeros(1))], "lr": 0.01}],
                                 lr=0.1, **opt_kwargs)
    t = getattr(torch.optim, opt_name)([{"params": [torch.nn.Parameter(torch.zeros(2))]},
                                        {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01}],
                                       lr=0.1, **opt_kwargs)
    return d, t


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _assert_same_lrs(d_sched, t_sched, d_opt, t_opt, epoch):
    assert d_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12, abs=1e-15), epoch
    assert [g["lr"] for g in d_opt.param_groups] == pytest.approx([g["lr"] for g in t_opt.param_groups],
                                                                 rel=1e-12, abs=1e-15), epoch
    assert _momenta(d_opt) == pytest.approx(_momenta(t_opt), rel=1e-12), epoch


@pytest.mark.parametrize("name,kwargs,opt_name,opt_kwargs", SCHEDULES)
def test_schedule_matches_torch(name, kwargs, opt_name, opt_kwargs):
    d_opt, t_opt = _optimizers(opt_name, opt_kwargs)
    d_sched = getattr(dsched, name)(d_opt, **kwargs)
    t_sched = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    _assert_same_lrs(d_sched, t_sched, d_opt, t_opt, 0)
    lrs = set()
    for epoch in range(1, STEPS + 1):
        d_opt.step()
        t_opt.step()
        d_sched.step()
        t_sched.step()
        _assert_same_lrs(d_sched, t_sched, d_opt, t_opt, epoch)
        lrs.add(d_sched.get_last_lr()[0])
    assert len(lrs) > 3  # the schedule really moved
    assert d_sched.last_epoch == t_sched.last_epoch


def test_cosine_annealing_follows_the_closed_form_and_restarts():
    d_opt, _ = _optimizers("SGD", {})
    sched = dsched.CosineAnnealingLR(d_opt, T_max=8, eta_min=0.002)
    for t in range(1, 25):
        d_opt.step()
        sched.step()
        expected = 0.002 + (0.1 - 0.002) * (1 + math.cos(math.pi * t / 8)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(expected, rel=1e-9)


def _plateau_run(kwargs, metrics):
    d_opt, t_opt = _optimizers("SGD", {})
    d_sched = dsched.ReduceLROnPlateau(d_opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    history = []
    for epoch, m in enumerate(metrics):
        d_sched.step(dg.tensor(m) if epoch % 2 else m)  # numbers and one-element tensors
        t_sched.step(m)
        _assert_same_lrs(d_sched, t_sched, d_opt, t_opt, epoch)
        assert d_sched.num_bad_epochs == t_sched.num_bad_epochs
        assert d_sched.cooldown_counter == t_sched.cooldown_counter
        history.append(d_sched.get_last_lr()[0])
    return history


def test_reduce_on_plateau_alexnet_divides_by_ten_when_accuracy_plateaus():
    accuracy = [0.30, 0.45, 0.55, 0.60, 0.60, 0.60003, 0.60, 0.65, 0.66, 0.66, 0.66, 0.66, 0.70,
                0.70, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70, 0.70,
                0.70, 0.70, 0.70, 0.70]
    history = _plateau_run(dict(mode="max", factor=0.1, patience=2), accuracy)
    # 0.60003 is within the relative threshold of 0.60: the third epoch without improvement
    assert history[:6] == [0.1] * 6
    assert history[6] == pytest.approx(0.01) and history[10] == pytest.approx(0.01)
    assert history[11] == pytest.approx(0.001)
    assert history[-1] == pytest.approx(1e-8)  # the step to 1e-9 is smaller than eps: skipped


@pytest.mark.parametrize("kwargs", [
    dict(mode="min", patience=0, threshold=0.05, threshold_mode="abs", cooldown=2),
    dict(mode="min", factor=0.5, patience=1, min_lr=[0.02, 0.0005]),
    dict(mode="max", factor=0.5, patience=1, threshold_mode="abs", threshold=0.0, eps=1e-3, min_lr=0.01),
])
def test_reduce_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.88, 0.95, 0.87, 0.86, 0.9, 0.9, 0.9, 0.5, 0.6, 0.7, 0.7, 0.49, 0.7, 0.8,
               0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    history = _plateau_run(kwargs, metrics)
    assert len(set(history)) > 2


def _make(name, kwargs, opt):
    if name == "ReduceLROnPlateau":
        return dsched.ReduceLROnPlateau(opt, **kwargs)
    return getattr(dsched, name)(opt, **kwargs)


def _advance(name, opt, sched, epoch):
    opt.step()
    if name == "ReduceLROnPlateau":
        sched.step(1.0 if epoch % 4 else 0.5 - epoch * 0.01)
    else:
        sched.step()


@pytest.mark.parametrize("name,kwargs,opt_name,opt_kwargs", SCHEDULES + [
    ("LambdaLR", dict(lr_lambda=Warmup(7)), "SGD", {}),
    ("ReduceLROnPlateau", dict(patience=1, cooldown=1), "SGD", {}),
])
def test_state_dict_round_trip_resumes_exactly(name, kwargs, opt_name, opt_kwargs):
    ref_opt, _ = _optimizers(opt_name, opt_kwargs)
    ref = _make(name, kwargs, ref_opt)
    for epoch in range(30):
        _advance(name, ref_opt, ref, epoch)
    expected = ref.get_last_lr()

    opt, _ = _optimizers(opt_name, opt_kwargs)
    sched = _make(name, kwargs, opt)
    for epoch in range(12):
        _advance(name, opt, sched, epoch)
    saved_opt, saved_sched = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    assert "optimizer" not in saved_sched

    new_opt, _ = _optimizers(opt_name, opt_kwargs)
    new_sched = _make(name, kwargs, new_opt)
    new_opt.load_state_dict(saved_opt)
    new_sched.load_state_dict(saved_sched)
    for epoch in range(12, 30):
        _advance(name, new_opt, new_sched, epoch)
    assert new_sched.get_last_lr() == expected
    assert [g["lr"] for g in new_opt.param_groups] == expected


def test_lambda_lr_state_dict_keeps_callable_object_attributes():
    opt, _ = _optimizers("SGD", {})
    warm = Warmup(7)
    sched = dsched.LambdaLR(opt, lr_lambda=[warm, lambda e: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"epochs": 7}, None]
    warm.epochs = 3
    sched.load_state_dict(state)
    assert warm.epochs == 7


def test_resuming_with_last_epoch_needs_initial_lr():
    opt, _ = _optimizers("SGD", {})
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'.*last_epoch=4"):
        dsched.StepLR(opt, step_size=3, last_epoch=4)


def test_one_cycle_refuses_to_step_past_total_steps():
    opt, _ = _optimizers("SGD", dict(momentum=0.9))
    sched = dsched.OneCycleLR(opt, max_lr=0.5, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="tried to step 4 times.*total_steps=3"):
        sched.step()


@pytest.mark.parametrize("make,error,match", [
    (lambda o: dsched.StepLR("sgd", step_size=3), TypeError,
     "StepLR: expected a deepgrad.optim.Optimizer, got str"),
    (lambda o: dsched.ReduceLROnPlateau(None), TypeError, "ReduceLROnPlateau: expected a deepgrad.optim"),
    (lambda o: dsched.StepLR(o, step_size=0), ValueError,
     "StepLR: step_size must be a positive integer, got 0"),
    (lambda o: dsched.MultiStepLR(o, milestones=[3.5]), TypeError, "milestones must be integers"),
    (lambda o: dsched.ExponentialLR(o, gamma=0), ValueError, "gamma must be > 0"),
    (lambda o: dsched.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be a positive integer"),
    (lambda o: dsched.LambdaLR(o, lr_lambda=[lambda e: 1.0]), ValueError, "expected 2 lr_lambdas"),
    (lambda o: dsched.LambdaLR(o, lr_lambda=0.5), TypeError, "lr_lambda must be callable"),
    (lambda o: dsched.ReduceLROnPlateau(o, factor=1.0), ValueError, r"factor must be in \[0, 1\)"),
    (lambda o: dsched.ReduceLROnPlateau(o, mode="up"), ValueError, "mode must be 'min' or 'max'"),
    (lambda o: dsched.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold_mode must be"),
    (lambda o: dsched.ReduceLROnPlateau(o, patience=-1), ValueError, "patience must be a non-negative"),
    (lambda o: dsched.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs"),
    (lambda o: dsched.OneCycleLR(o, max_lr=0.1), ValueError, "either total_steps or both epochs"),
    (lambda o: dsched.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1), ValueError, "pct_start"),
    (lambda o: dsched.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda o: dsched.OneCycleLR(o, max_lr=[0.1], total_steps=10), ValueError,
     "expected 2 values for max_lr"),
    (lambda o: dsched.OneCycleLR(optim.Adagrad(o.param_groups[0]["params"]), max_lr=0.1, total_steps=10),
     ValueError, "Adagrad has neither"),
])
def test_invalid_arguments_raise(make, error, match):
    opt, _ = _optimizers("SGD", {})
    with pytest.raises(error, match=match):
        make(opt)
