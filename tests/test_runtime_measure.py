"""Measured per-layer profiles (slopt.profiles.measure), peak memory (slopt.runtime.memory),
predicted-vs-measured validation and the CLI commands `slopt profile measure` / `slopt validate`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from slopt.errors import ValidationError  # noqa: E402
from slopt.profiles import read  # noqa: E402
from slopt.profiles.measure import measure_times, median_profile, merge_times, with_times  # noqa: E402
from slopt.profiles.torch_loader import from_torch  # noqa: E402
from slopt.runtime import measure_peak_memory, validate_plan  # noqa: E402
from slopt.runtime.models import SmallCNN  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    m = SmallCNN(width=4, blocks=1).train()
    x = torch.randn(2, 3, 8, 8)
    return m, x, from_torch(m, x)


def test_from_torch_measure_fills_time_columns(small):
    m, x, _ = small
    before = {k: b.clone() for k, b in m.named_buffers()}
    g = from_torch(m, x, measure=True, measure_options={"repeats": 2, "warmup": 1})
    for side in ("device", "server"):
        t = g.extra[f"{side}_time_s"]
        assert t.shape == (g.n,) and (t > 0).all()
        # per sample: (forward + backward) / batch
        np.testing.assert_allclose(t, g.extra[f"{side}_forward_time_s"] + g.extra[f"{side}_backward_time_s"])
        meta = g.provenance["measured"][side]
        assert meta["batch"] == 2 and meta["repeats"] == 2 and meta["whole_step_s"] > 0
    # layers with a weight have a backward (weight gradient) on top of the forward
    conv = g.index("stem")
    assert g.extra["device_backward_time_s"][conv] > 0
    for k, b in m.named_buffers():                         # running statistics restored
        assert torch.equal(b, before[k]), k


def test_with_times_and_merge(small):
    _, _, g = small
    n = g.n
    times = pd.DataFrame({"name": g.names, "forward_s": np.arange(1, n + 1) * 1e-3,
                          "backward_s": np.arange(1, n + 1) * 2e-3,
                          "forward_spread_s": np.zeros(n), "backward_spread_s": np.zeros(n)})
    times.attrs["batch"] = 4
    dev = with_times(g, times, "device")
    assert "server_time_s" not in dev.extra
    np.testing.assert_allclose(dev.extra["device_time_s"], np.arange(1, n + 1) * 3e-3 / 4)
    srv_t = times.assign(forward_s=times.forward_s * 10, backward_s=times.backward_s * 10)
    srv = with_times(g, srv_t, "server")
    both = merge_times(dev, srv)
    np.testing.assert_allclose(both.extra["device_time_s"], dev.extra["device_time_s"])
    np.testing.assert_allclose(both.extra["server_time_s"], 10 * dev.extra["device_time_s"])
    # a one-machine profile ("both") can serve as either side
    one = with_times(g, times, "both")
    np.testing.assert_allclose(merge_times(srv, one).extra["server_time_s"], one.extra["server_time_s"])
    # dag-split reads them: tau_dev = B x device_time_s
    from slopt.models.dag_split import make_instance
    inst = make_instance(both, batch=4)
    np.testing.assert_allclose(inst.tau_dev_s, np.arange(1, n + 1) * 3e-3)
    np.testing.assert_allclose(inst.tau_srv_s, np.arange(1, n + 1) * 3e-2)
    with pytest.raises(ValidationError, match="side"):
        with_times(g, times, "cloud")
    with pytest.raises(ValidationError, match="no measured times"):
        merge_times(g, srv)
    other = from_torch(SmallCNN(width=4, blocks=2).train(), torch.randn(2, 3, 8, 8))
    with pytest.raises(ValidationError, match="not the same graph"):
        merge_times(dev, other)


def test_measure_needs_real_tensors():
    with torch.device("meta"):
        m = SmallCNN(width=4, blocks=1)
        x = torch.zeros(2, 3, 8, 8)
    with pytest.raises(ValidationError, match="meta"):
        measure_times(m, x)


def test_peak_memory_closed_form():
    """Two buffers alive together, the first freed: peak = baseline + both, exactly."""
    w = torch.zeros(1000)                                  # 4000 bytes of baseline

    def step():
        a = torch.empty(250_000)                           # 1,000,000 bytes
        b = torch.empty(500_000)                           # 2,000,000 bytes, a still alive
        del a
        c = torch.empty(100_000)                           # 400,000 bytes, after a is freed
        return float(b.numel() + c.numel())

    out, peak = measure_peak_memory(step, baseline=[w])
    assert out == 600_000.0
    assert peak.baseline_bytes == 4000
    assert peak.peak_bytes == 4000 + 3_000_000
    assert peak.allocated_bytes == 3_400_000
    # backward operators are seen too: the gradient of a 1e5-element leaf is allocated in backward
    p = torch.zeros(100_000, requires_grad=True)
    _, pk = measure_peak_memory(lambda: (p * 2).sum().backward(), baseline=[p])
    assert p.grad is not None and pk.allocated_bytes >= 2 * 400_000


def test_pass_and_vertex_orders_time_the_same_vertices(small):
    """order="pass" (inside training passes, real upstream gradients) and order="vertex" (each
    vertex back to back, gradients of ones) time the same work: the same vertices, a backward
    exactly where there is a gradient to compute, totals of one magnitude; the whole-step check
    and the allocator are recorded."""
    m, x, g = small
    tp = measure_times(m, x, graph=g, order="pass", repeats=3, warmup=1)
    tv = measure_times(m, x, graph=g, order="vertex", repeats=3, warmup=1)
    assert list(tp.name) == list(tv.name) == list(g.names)
    assert tp.attrs["order"] == "pass" and tv.attrs["order"] == "vertex"
    assert ((tp.backward_s > 0) == (tv.backward_s > 0)).all()
    assert (tp.forward_s > 0).all() and (tv.forward_s > 0).all()
    with_params = np.asarray(g.param_bytes) > 0
    assert (tp.backward_s[with_params] > 0).all()          # every weight has a gradient to compute
    ratio = (tp.forward_s + tp.backward_s).sum() / (tv.forward_s + tv.backward_s).sum()
    assert 1 / 3 < ratio < 3, ratio
    for t in (tp, tv):
        assert t.attrs["whole_step_s"] > 0 and t.attrs["allocator"] == "retain" and t.attrs["allocator_applied"]
    with pytest.raises(ValidationError, match="order = 'random'"):
        measure_times(m, x, graph=g, order="random")
    with pytest.raises(ValidationError, match="allocator = 'tcmalloc'"):
        measure_times(m, x, graph=g, allocator="tcmalloc")


def test_median_profile_and_remeasured_window(small):
    """median_profile: the per-vertex median of every time column (closed form on synthetic
    times); validate_plan(remeasure=k): the per-layer times measured again before every round
    and after the last (iterations + 1 profiles), the same runs predicted from their median."""
    m, x, g = small
    n = g.n
    made = []
    for f in (1.0, 2.0, 10.0):
        t = pd.DataFrame({"name": g.names, "forward_s": f * np.ones(n), "backward_s": 2 * f * np.ones(n),
                          "forward_spread_s": np.zeros(n), "backward_spread_s": np.zeros(n)})
        t.attrs["batch"] = 2
        made.append(with_times(g, t, "both"))
    med = median_profile(made)
    np.testing.assert_allclose(med.extra["device_time_s"], 3 * 2.0 / 2)         # median of 1.5, 3, 15
    np.testing.assert_allclose(med.extra["server_forward_time_s"], 2.0 / 2)
    assert med.provenance["measured"]["device"]["measurements"] == 3
    other = from_torch(SmallCNN(width=4, blocks=2).train(), x)
    with pytest.raises(ValidationError, match="other vertices"):
        median_profile([g, other])
    gm = from_torch(m, x, measure=True, measure_options={"repeats": 2, "warmup": 1})
    res = validate_plan(m, x, gm, gm.names[:3], rates=[2e7], iterations=2, warmup=0, memory=False,
                        message_overhead_s=0, remeasure=1)
    assert res.window_profile is not None and res.window is not None
    assert res.window_profile.provenance["measured"]["device"]["measurements"] == 3
    np.testing.assert_array_equal(res.window.table.measured_s, res.table.measured_s)
    assert (res.window_profile.extra["device_time_s"] > 0).all()
    with pytest.raises(ValidationError, match="remeasure"):
        validate_plan(m, x, gm, gm.names[:3], rates=[2e7], remeasure=-1)


def test_validate_plan_table(small):
    m, x, g0 = small
    g = from_torch(m, x, measure=True, measure_options={"repeats": 2, "warmup": 1})
    D = g.names[:3]
    res = validate_plan(m, x, g, D, rates=[2e6], iterations=1, warmup=0, memory=False)
    t = res.table
    assert list(t.component) == ["device_compute", "server_compute", "upload", "download", "total", "parts_total"]
    up = t[t.component == "upload"].iloc[0]
    # rate-bound: the measured upload is at least the predicted B a / R (framing adds a little)
    assert up.measured_s >= up.predicted_s
    assert up.measured_s <= 2.0 * up.predicted_s + 0.2
    with pytest.raises(ValidationError, match="downlink_bps"):
        validate_plan(m, x, g, D, rates=[(1e6, 0.0)])


def test_cli_profile_measure_merge_validate(tmp_path):
    from typer.testing import CliRunner

    from slopt.cli import app

    r = CliRunner()
    dev, srv, both = tmp_path / "dev.json", tmp_path / "srv.json", tmp_path / "both.json"
    common = ["--set", "width=4", "--set", "blocks=1", "--image-size", "8", "--batch", "2", "--repeats", "2"]
    res = r.invoke(app, ["profile", "measure", "small-cnn", "-o", str(dev), "--side", "device", *common])
    assert res.exit_code == 0, res.output
    assert "device_time_s" in read(dev).extra and "server_time_s" not in read(dev).extra
    res = r.invoke(app, ["profile", "measure", str(dev), "-o", str(srv), "--side", "server", "--repeats", "2"])
    assert res.exit_code == 0, res.output
    res = r.invoke(app, ["profile", "measure", "--merge-device", str(dev), "--merge-server", str(srv),
                         "-o", str(both)])
    assert res.exit_code == 0, res.output
    g = read(both)
    np.testing.assert_allclose(g.extra["device_time_s"], read(dev).extra["device_time_s"])
    np.testing.assert_allclose(g.extra["server_time_s"], read(srv).extra["server_time_s"])
    res = r.invoke(app, ["validate", str(both), "--device-layer", g.names[2], "--rate", "5e6",
                         "--iterations", "1", "--warmup", "0", "--json", "--png", str(tmp_path / "v.png")])
    assert res.exit_code == 0, res.output
    assert '"component": "total"' in res.output and (tmp_path / "v.png").exists()
    res = r.invoke(app, ["validate", str(both), "--device-layer", g.names[2], "--rate", "0"])
    assert res.exit_code == 2 and "uplink_bps" in res.output
    res = r.invoke(app, ["profile", "measure", "no-such-model", "-o", str(tmp_path / "x.json")])
    assert res.exit_code == 2 and "unknown runtime model" in res.output


def test_memory_tracker_expands_modules_in_its_baseline():
    """A module in the baseline counts with all its parameters and buffers from the start (an
    embedding table has no operator returning a view of it, so it would otherwise never count)."""
    from slopt.runtime.memory import MemoryTracker

    emb, bn = torch.nn.Embedding(1000, 10), torch.nn.BatchNorm1d(10)
    tr = MemoryTracker([emb, bn])
    # 1000 x 10 fp32 weights; BatchNorm: weight, bias, running mean/var (fp32 x 10), a int64 counter
    assert tr.baseline == 1000 * 10 * 4 + 4 * 10 * 4 + 8
    idx = torch.randint(0, 1000, (4, 3))
    with tr:
        y = emb(idx)
    assert tr.current() == tr.baseline + y.untyped_storage().nbytes()
