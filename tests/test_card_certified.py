"""CARD: certified statuses, limits and bad arguments on every method.

* the exact method under a time limit returns a Plan (``no_solution`` with its bound, or a
  certified ``feasible`` / ``optimal``), never raises and never says ``feasible`` without a bound;
* the certificate of the enumeration (tangent-envelope bounds of the convex inner problems) is
  a valid lower bound, checked against a dense grid at arbitrary (non-optimal) points and
  against CARD's closed form;
* a non-finite objective is never a result (tiny transmit power, tiny device compute);
* every method, including those that call no solver, rejects a bad ``solver``, ``time_limit``
  or ``mip_gap`` with a ValidationError naming the argument.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
from conftest import requires
from typer.testing import CliRunner

from slopt.errors import SloptError, ValidationError
from slopt.models import card as C
from slopt.models.card.exact import CERTIFIED_GAP, inner_bounds
from slopt.scenarios import read as read_scenario

P = C.get_problem()


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _honest(plan) -> None:
    """The status rules: optimal = proven within the stated gap; feasible has a finite bound."""
    s = plan.solve
    assert plan.status in ("optimal", "feasible", "no_solution")
    if plan.status == "optimal":
        assert math.isfinite(plan.objective) and math.isfinite(s.bound) and s.gap <= CERTIFIED_GAP
    elif plan.status == "feasible":
        assert math.isfinite(s.bound) and math.isfinite(s.gap), s
    else:
        assert math.isnan(plan.objective)
        assert math.isfinite(s.bound)


@requires("scip")
@pytest.mark.parametrize("time_limit", [0.05, 1e-6])
def test_exact_with_scip_under_a_time_limit_returns_a_plan(time_limit):
    plan = P.run("exact", solver="scip", time_limit=time_limit, rounds=3, n_devices=2)
    _honest(plan)
    card = P.run("paper", rounds=3, n_devices=2)
    assert plan.solve.bound <= card.objective * (1 + 1e-12)   # the bound is a bound


@requires("clarabel")
@pytest.mark.parametrize("time_limit", [1e-6, 1e-3, 20.0])
def test_exact_default_solver_under_a_time_limit_is_honest(time_limit):
    plan = P.run("exact", time_limit=time_limit, rounds=3, n_devices=2)
    _honest(plan)
    if plan.status != "no_solution":
        card = P.run("paper", rounds=3, n_devices=2)
        assert plan.solve.bound <= card.objective * (1 + 1e-12) <= plan.objective * (1 + 1e-9)


@requires("scip")
@pytest.mark.parametrize("formulation", ["misocp", "minlp"])
def test_per_turn_exact_stops_with_no_solution_and_a_bound(formulation):
    inst = C.random_instance(1, rounds=2, n_devices=2, exact_formulation=formulation)
    card = C.card(inst)
    stopped = C.exact(inst, time_limit=1e-6)
    assert stopped.status == "no_solution"
    assert stopped.solve.bound <= card.objective
    full = C.exact(inst)
    assert full.status == "optimal"
    assert full.solve.bound <= card.objective * (1 + 1e-9)
    assert full.objective == pytest.approx(card.objective, rel=1e-6)
    assert "limits/gap 1e-09" in full.solve.message          # the gap it proves is stated


@requires("clarabel")
@pytest.mark.parametrize("seed", range(40))
def test_enumeration_certificate_is_valid_and_tight(seed):
    variant = ["weighted", "tchebycheff", "delay-limit", "memory-cap"][seed % 4]
    kw = {"scalarisation": "tchebycheff"} if variant == "tchebycheff" else {}
    if variant == "memory-cap":
        base = C.random_instance(seed)
        kw = {"device_memory_bytes": float(base.Mem[max(1, base.L // 2)]) * 1.0000001}
    inst = C.random_instance(seed, **kw)
    if variant == "delay-limit":
        c, f, _ = C.card_decide(inst)
        inst = inst.replace(t_max_s=float(C.evaluate(inst, c, f).delay_s.max()) * 0.98)
        try:
            C.card_decide(inst)
        except SloptError:
            inst = inst.replace(t_max_s=float(C.evaluate(inst, c, f).delay_s.max()) * (1 + 1e-6))
    card = C.card(inst)
    plan = C.exact(inst)
    assert plan.status == "optimal"
    assert plan.solve.gap <= CERTIFIED_GAP
    assert plan.solve.bound <= card.objective * (1 + 1e-12)
    assert plan.objective >= card.objective * (1 - 1e-9)
    # validity at arbitrary points: every bound is below a dense grid over the feasible interval
    tab = C._cut_tables(inst)
    keep = np.repeat(~tab["infeasible"][None], inst.M, axis=0).reshape(inst.M * inst.N, -1)
    A = C.freq_independent_delay_s(inst, tab).reshape(keep.shape)
    if inst.t_max_s is not None:
        keep &= A + tab["Gamma"][None, :] / inst.f_max <= inst.t_max_s
    rng = np.random.default_rng(seed)
    F = rng.uniform(inst.f_min, inst.f_max, keep.shape)
    LB = inner_bounds(inst, F, keep)
    fg = np.linspace(inst.f_min, inst.f_max, 20001)
    G = tab["Gamma"]
    for t, k in np.argwhere(keep)[:50]:
        T = A[t, k] + G[k] / fg
        E = inst.kappa * G[k] * fg ** 2
        J = inst.omega_T * T + inst.omega_E * E if inst.scalarisation == "weighted" \
            else np.maximum(inst.omega_T * T, inst.omega_E * E)
        if inst.t_max_s is not None:
            J = np.where(T <= inst.t_max_s, J, np.inf)
        assert LB[t, k] <= J.min() * (1 + 1e-12)


def test_tiny_transmit_power_is_a_named_error_not_an_infinite_optimum():
    scn = read_scenario("default")
    d0 = dataclasses.replace(scn.devices[0], tx_power_w=1.0e-308)
    bad = dataclasses.replace(scn, devices=(d0,) + scn.devices[1:])
    with pytest.raises(ValidationError, match="tx_power_w") as e:
        C.load(None, bad, rounds=2)
    assert e.value.field == "tx_power_w"
    with pytest.raises(ValidationError, match="tx_power_w"):
        P.run("paper", scenario=bad, rounds=2)


def test_non_finite_objective_is_never_a_plan():
    inst = C.random_instance(3, rounds=1, n_devices=2)
    slow = inst.replace(F_n=np.full(inst.N, 1e-320))       # positive, finite, delay overflows to inf
    for name in ("paper", "vanilla-sl", "fixed-dvfs", "random"):
        with pytest.raises(ValidationError, match="device_delay_s") as e:
            C.METHODS[name](slow)
        assert "compute_flops" in str(e.value)


@pytest.mark.parametrize("name", sorted(C.METHODS))
@pytest.mark.parametrize("kw, field", [({"time_limit": -1.0}, "time_limit"), ({"time_limit": math.inf}, "time_limit"),
                                       ({"mip_gap": 2.0}, "mip_gap"), ({"mip_gap": -0.1}, "mip_gap"),
                                       ({"solver": "nosuch"}, "solver"), ({"solver": ""}, "solver")])
def test_every_method_validates_solver_arguments(name, kw, field):
    with pytest.raises(SloptError, match=field if field != "solver" else "nosuch|solver"):
        P.run(name, rounds=1, n_devices=1, **kw)


def test_cli_rejects_bad_solver_arguments():
    from slopt.cli import app

    r = CliRunner().invoke(app, ["solve", "card", "--time-limit", "-1", "--mip-gap", "2", "--solver", "nosuch",
                                 "--json"])
    assert r.exit_code != 0
    assert any(w in r.output for w in ("time_limit", "time-limit", "mip_gap", "nosuch"))   # names a bad argument
    r = CliRunner().invoke(app, ["solve", "card", "--solver", "nosuch", "--json"])
    assert r.exit_code != 0 and "nosuch" in r.output


@requires("clarabel")
def test_exact_and_card_agree_on_a_delay_limit_met_to_rounding():
    # the slowest turn's fastest decision meets T_max only to rounding (2e-16 s over): the cut
    # search and the enumeration use the same feasibility rule, so both return the same optimum
    inst = C.random_instance(2)
    c, f, _ = C.card_decide(inst)
    inst = inst.replace(t_max_s=float(C.evaluate(inst, c, f).delay_s.max()))
    plan = C.exact(inst)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(C.card(inst).objective, rel=1e-9)
