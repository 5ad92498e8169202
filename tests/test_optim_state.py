"""A stateful test of optimizers and schedules against torch.optim.

Hypothesis drives one optimizer of ours (on one backend) and the same
torch.optim optimizer through a random life: steps, lr changes, parameters
appended to or removed from a group, new groups, schedule steps, state-dict
round trips through JSON, and pickles.  After every rule the parameters agree
with torch's float64 ones (to 1e-10: torch fuses some multiply-adds).
"""
import copy
import json
import math
import os
import pickle

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import micrograd
from micrograd import _core_py, optim

from conftest import CORE

torch = pytest.importorskip("torch", reason="PyTorch is not installed here; CI installs it")

ALGORITHMS = {
    "SGD": st.fixed_dictionaries({"lr": st.sampled_from([0.01, 0.1]),
                                  "momentum": st.sampled_from([0.0, 0.9]),
                                  "weight_decay": st.sampled_from([0.0, 0.1])}),
    "Adam": st.fixed_dictionaries({"lr": st.sampled_from([0.01, 0.1]),
                                   "amsgrad": st.booleans(),
                                   "weight_decay": st.sampled_from([0.0, 0.1])}),
    "AdamW": st.fixed_dictionaries({"lr": st.sampled_from([0.01, 0.1])}),
    "RMSprop": st.fixed_dictionaries({"lr": st.just(0.01), "momentum": st.sampled_from([0.0, 0.5]),
                                      "centered": st.booleans()}),
    "Adagrad": st.fixed_dictionaries({"lr": st.sampled_from([0.05, 0.2]),
                                      "lr_decay": st.sampled_from([0.0, 0.01])}),
}
VALUES = st.floats(-2.0, 2.0, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


def loss(params):
    """Every parameter takes part, so torch gives each a gradient."""
    total = 0.0
    for i, p in enumerate(params):
        total = total + (0.1 * (i % 3 + 1)) * p * p * p + p * (0.5 - 0.25 * i) + 0.05 * p * p
    return total


class World:
    """Parameters, an optimizer and a schedule of one library."""

    def __init__(self, lib, name, hyper, values, schedule):
        self.lib = lib
        self.params = [self.leaf(v) for v in values]
        mod = optim if lib != "torch" else torch.optim
        extra = {"foreach": False} if lib == "torch" else {}
        self.opt = getattr(mod, name)(self.params, **hyper, **extra)
        self.schedule = schedule
        self.sched = self.make_schedule(self.opt)

    def leaf(self, v):
        if self.lib == "torch":
            return torch.tensor(v, dtype=torch.float64, requires_grad=True)
        return self.lib.Number(v)

    def make_schedule(self, opt):
        if self.schedule is None:
            return None
        kind, arg = self.schedule
        mod = optim if self.lib != "torch" else torch.optim.lr_scheduler
        if kind == "step":
            return mod.StepLR(opt, step_size=arg, gamma=0.5)
        return mod.ExponentialLR(opt, gamma=arg)

    def values(self):
        return [p.item() if self.lib == "torch" else p.value for p in self.params]

    def step(self):
        self.opt.zero_grad()
        loss(self.params).backward()
        self.opt.step()


def make_machine(impl):
    class OptimizerLife(RuleBasedStateMachine):
        @initialize(name=st.sampled_from(sorted(ALGORITHMS)), data=st.data(),
                    values=st.lists(VALUES, min_size=1, max_size=4),
                    schedule=st.one_of(st.none(), st.tuples(st.just("step"), st.integers(1, 3)),
                                       st.tuples(st.just("exp"), st.sampled_from([0.5, 0.9]))))
        def start(self, name, data, values, schedule):
            hyper = data.draw(ALGORITHMS[name])
            self.ours = World(impl, name, hyper, values, schedule)
            self.theirs = World("torch", name, hyper, values, schedule)
            self.name = name

        def both(self):
            return (self.ours, self.theirs)

        @rule()
        def step(self):
            for w in self.both():
                w.step()

        @precondition(lambda self: self.ours.sched is not None)
        @rule()
        def schedule_step(self):
            for w in self.both():
                w.sched.step()

        @rule(lr=st.sampled_from([0.0, 0.003, 0.05]), group=st.integers(0, 3))
        def set_lr(self, lr, group):
            for w in self.both():
                w.opt.param_groups[group % len(w.opt.param_groups)]["lr"] = lr

        @rule(v=VALUES)
        def append_param(self, v):
            for w in self.both():
                p = w.leaf(v)
                w.params.append(p)
                w.opt.param_groups[0]["params"].append(p)

        @precondition(lambda self: len(self.ours.opt.param_groups[0]["params"]) > 1)
        @rule(i=st.integers(0, 10))
        def remove_param(self, i):
            for w in self.both():
                group = w.opt.param_groups[0]["params"]
                p = group.pop(i % len(group))
                w.params = [q for q in w.params if q is not p]
                if w.lib == "torch":
                    # torch keeps a removed parameter's state, and its state_dict()
                    # then fails (KeyError); ours drops it, so torch's is dropped too
                    w.opt.state.pop(p, None)

        @rule(v=VALUES, lr=st.sampled_from([0.01, 0.2]))
        def add_group(self, v, lr):
            for w in self.both():
                p = w.leaf(v)
                w.params.append(p)
                w.opt.add_param_group({"params": [p], "lr": lr})

        @rule()
        def state_dict_round_trip(self):
            for w in self.both():
                saved = w.opt.state_dict()
                saved = (json.loads(json.dumps(saved)) if w.lib != "torch"
                         else copy.deepcopy(saved))
                groups = [dict(g, params=list(g["params"])) for g in w.opt.param_groups]
                extra = {"foreach": False} if w.lib == "torch" else {}
                fresh = type(w.opt)(groups, **extra)
                fresh.load_state_dict(saved)
                if w.sched is not None:
                    old = w.sched.state_dict()
                    w.sched = w.make_schedule(fresh)
                    w.sched.load_state_dict(old)
                w.opt = fresh

        @rule()
        def pickle_round_trip(self):
            w = self.ours
            if impl is micrograd._backend.impl:      # a pickle loads into the active backend
                w.params, w.opt, w.sched = pickle.loads(pickle.dumps((w.params, w.opt, w.sched)))
            else:
                w.params, w.opt, w.sched = copy.deepcopy((w.params, w.opt, w.sched))

        @invariant()
        def agree(self):
            if not hasattr(self, "ours"):
                return
            ours, theirs = self.ours.values(), self.theirs.values()
            assert len(ours) == len(theirs)
            for a, b in zip(ours, theirs):
                assert math.isclose(a, b, rel_tol=1e-10, abs_tol=1e-12), (ours, theirs)
            lrs = [g["lr"] for g in self.ours.opt.param_groups]
            assert lrs == pytest.approx([g["lr"] for g in self.theirs.opt.param_groups],
                                        rel=1e-12)

    deep = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
    OptimizerLife.TestCase.settings = settings(max_examples=400 if deep else 25,
                                               stateful_step_count=25, deadline=None)
    return OptimizerLife


# torch warns when a schedule steps before its optimizer: a rule may do that
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")

TestReferenceAgainstTorch = make_machine(_core_py).TestCase


@pytest.mark.core
@pytest.mark.skipif(CORE is None, reason="micrograd._core is not built")
class TestCoreAgainstTorch(make_machine(CORE or _core_py).TestCase):
    pass
