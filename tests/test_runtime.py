"""The split-training runtime (slopt.runtime): end-to-end runs on a small CNN and a small
transformer (bytes on the wire = the plan's cut tensors, split step = unsplit step, rates
enforced), measured profiles, and bad input."""

from __future__ import annotations

import socket
import threading
import time

import pytest

torch = pytest.importorskip("torch")

from slopt.errors import ValidationError  # noqa: E402
from slopt.models.dag_split import evaluate, make_instance  # noqa: E402
from slopt.profiles.torch_loader import from_torch  # noqa: E402
from slopt.runtime import (TokenBucket, reference_step, run_split_training, split_model,  # noqa: E402
                           synthetic_inputs)
from slopt.runtime.link import Link  # noqa: E402
from slopt.runtime.models import SmallCNN, TinyLM  # noqa: E402

pytestmark = pytest.mark.torch


def _ancestors(g, names):
    """Ancestor closure of some vertices (independent of the runtime's own check)."""
    idx = {g.index(n) for n in names}
    stack = list(idx)
    while stack:
        v = stack.pop()
        for u in g.predecessors(v):
            if int(u) not in idx:
                idx.add(int(u))
                stack.append(int(u))
    return sorted(idx)


def _check_run(module, x, g, D, rate_bps=5e7, iterations=2):
    """Run the split model; return (result, plan evaluation, reference loss and gradients)."""
    sm = split_model(module, x, g, D)
    res = run_split_training(sm, [x], iterations, uplink_bps=rate_bps, downlink_bps=2 * rate_bps,
                             warmup=0, grads=True, memory=True)
    B = x.shape[0]
    ev = evaluate(make_instance(g, batch=B, uplink_bps=rate_bps, downlink_bps=2 * rate_bps), D)
    ref_loss, ref_grads = reference_step(module, synthetic_inputs([x], 0, 0))
    return res, ev, ref_loss, ref_grads


def _assert_same_step(res, ref_loss, ref_grads):
    assert res.losses[0] == pytest.approx(ref_loss, rel=1e-5, abs=1e-6)
    assert set(ref_grads) == set(res.grads)
    for k, g_ref in ref_grads.items():
        scale = max(1.0, float(g_ref.abs().max()))
        assert float((res.grads[k] - g_ref).abs().max()) <= 1e-5 * scale, k


def _assert_wire_is_cut(res, ev, g, B, rate_bps):
    cut = ev["cut_tensors"]
    assert sorted(res.cut_layers) == sorted(g.names[i] for i in cut)
    want_up = int(round(B * g.activation_bytes[cut].sum()))
    want_dn = int(round(B * g.gradient_bytes[cut].sum()))
    for r in res.records:
        assert r.upload_payload_bytes == want_up == res.expected_upload_bytes
        assert r.download_payload_bytes == want_dn == res.expected_download_bytes
        # the rates are enforced: N wire bytes at R bit/s take at least 8 N / R seconds
        assert r.upload_s >= 8 * r.upload_wire_bytes / rate_bps
        assert r.download_s >= 8 * r.download_wire_bytes / (2 * rate_bps)


def test_cnn_residual_cut_end_to_end():
    torch.manual_seed(0)
    m = SmallCNN(width=8, blocks=2).train()
    x = torch.randn(4, 3, 16, 16)
    g = from_torch(m, x)
    # cut inside the first residual block: the skip tensor and the main branch both cross
    D = [g.names[i] for i in _ancestors(g, ["layers.0.bn1"])]
    res, ev, ref_loss, ref_grads = _check_run(m, x, g, D)
    assert len(ev["cut_tensors"]) == 2
    _assert_wire_is_cut(res, ev, g, 4, 5e7)
    _assert_same_step(res, ref_loss, ref_grads)
    for side in ("device", "server"):
        peak = res.memory[side]
        assert peak["peak_bytes"] > peak["baseline_bytes"] > 0
    # the server holds at least the received activations and its own parameters at its peak
    assert res.memory["server"]["peak_bytes"] >= res.expected_upload_bytes
    df = res.to_frame()
    assert (df.wall_s > 0).all() and len(df) == 2


def test_transformer_end_to_end():
    torch.manual_seed(1)
    m = TinyLM(vocab=32, d=16, heads=2, layers=2, seq=8).train()
    x = torch.randint(0, 32, (2, 8))
    g = from_torch(m, x)
    D = [g.names[i] for i in _ancestors(g, [n for n in g.names if n.startswith("blocks.0")][-1:])]
    res, ev, ref_loss, ref_grads = _check_run(m, x, g, D)
    assert len(ev["cut_tensors"]) >= 1
    _assert_wire_is_cut(res, ev, g, 2, 5e7)
    _assert_same_step(res, ref_loss, ref_grads)


def test_device_only_runs_without_server():
    m = SmallCNN(width=4, blocks=1).train()
    x = torch.randn(2, 3, 8, 8)
    g = from_torch(m, x)
    sm = split_model(m, x, g, g.names)
    assert sm.server is None and sm.cut == []
    res = run_split_training(sm, [x], 2, uplink_bps=1e6, downlink_bps=1e6, warmup=0, grads=True)
    assert all(r.upload_payload_bytes == 0 and r.download_payload_bytes == 0 for r in res.records)
    ref_loss, ref_grads = reference_step(m, synthetic_inputs([x], 0, 0))
    _assert_same_step(res, ref_loss, ref_grads)


def test_token_bucket_enforces_rate_on_loopback():
    srv = socket.create_server(("127.0.0.1", 0))
    a = socket.create_connection(srv.getsockname())
    b, _ = srv.accept()
    srv.close()
    rate = 4e6                           # 4 Mbit/s: 200 kB take 0.4 s
    payload = torch.arange(50_000, dtype=torch.float32)
    got = {}

    def receiver():
        link = Link(b)
        msg = link.recv()
        got["msg"] = msg

    th = threading.Thread(target=receiver)
    th.start()
    sender = Link(a, rate_bps=rate)
    info = sender.send("x", {"t": payload})
    th.join(10)
    msg = got["msg"]
    n = info["wire_bytes"]
    assert msg.payload_bytes == payload.numel() * 4 and msg.wire_bytes == n
    assert torch.equal(msg.tensors["t"], payload)
    assert msg.t_received - info["t_start"] >= 8 * n / rate
    a.close()
    b.close()
    # a burst allowance lets that many bytes pass at line speed
    bucket = TokenBucket(1e6, burst_bytes=10_000)
    time.sleep(0.1)
    t0 = time.monotonic()
    bucket.consume(10_000)
    assert time.monotonic() - t0 < 0.05
    t0 = time.monotonic()
    bucket.consume(12_500, continuing=True)             # 0.1 s at 1 Mbit/s
    assert time.monotonic() - t0 >= 0.1 - 1e-3


def test_bad_input():
    m = SmallCNN(width=4, blocks=1).train()
    x = torch.randn(2, 3, 8, 8)
    g = from_torch(m, x)
    # not ancestor-closed: a layer on the device whose input is on the server
    with pytest.raises(ValidationError, match="ancestor-closed"):
        split_model(m, x, g, [g.names[0], g.names[2]])
    # missing input layer (C1)
    with pytest.raises(ValidationError, match="input layer"):
        split_model(m, x, g, [])
    # a link rate of 0
    sm = split_model(m, x, g, g.names[:2])
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValidationError, match="uplink_bps"):
            run_split_training(sm, [x], 1, uplink_bps=bad, downlink_bps=1e6)
    with pytest.raises(ValidationError, match="downlink_bps"):
        run_split_training(sm, [x], 1, uplink_bps=1e6, downlink_bps=0)
    # a profile of another model
    g2 = from_torch(SmallCNN(width=4, blocks=2).train(), x)
    with pytest.raises(ValidationError, match="does not match"):
        split_model(m, x, g2, g2.names[:2])


class _Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(16, 8)
        self.mid = torch.nn.Linear(8, 8)

    def forward(self, ids):
        return self.mid(self.emb(ids)) @ self.emb.weight.T     # tied LM head


def test_tied_parameter_cannot_be_split():
    m = _Tied().train()
    ids = torch.randint(0, 16, (2, 4))
    g = from_torch(m, ids)
    with pytest.raises(ValidationError, match="cannot be split at these tensors.*emb.weight"):
        split_model(m, ids, g, [g.names[0]])
    assert split_model(m, ids, g, g.names).server is None      # one side: fine


@pytest.mark.parametrize("wait", ["spin", "block"])
def test_link_wait_modes_bytes_and_rate(wait):
    """Both ways of waiting deliver the tensor intact and enforce the rate (>= 8 N / R)."""
    a, b = socket.socketpair()
    got = {}

    def rx():
        got["msg"] = Link(b, wait=wait).recv()

    th = threading.Thread(target=rx)
    th.start()
    t = torch.arange(50_000, dtype=torch.float32)
    rate = 8e6
    sent = Link(a, rate_bps=rate, wait=wait).send("x", {"t": t})
    th.join(10)
    msg = got["msg"]
    assert torch.equal(msg.tensors["t"], t)
    assert msg.t_received - sent["t_start"] >= 8 * sent["wire_bytes"] / rate
    a.close()
    b.close()


def test_cnn_block_wait_matches_unsplit_step():
    torch.manual_seed(0)
    m = SmallCNN(width=8, blocks=1).train()
    x = torch.randn(2, 3, 8, 8)
    g = from_torch(m, x)
    D = [g.names[i] for i in _ancestors(g, [g.names[2]])]
    sm = split_model(m, x, g, D)
    res = run_split_training(sm, [x], 1, uplink_bps=5e7, downlink_bps=1e8, warmup=0, grads=True,
                             memory=False, wait="block")
    ref_loss, ref_grads = reference_step(m, synthetic_inputs([x], 0, 0))
    _assert_same_step(res, ref_loss, ref_grads)


def test_bad_wait_is_a_validation_error():
    a, b = socket.socketpair()
    with pytest.raises(ValidationError, match="wait") as e:
        Link(a, wait="nap")
    assert e.value.args and "nap" in str(e.value)
    with pytest.raises(ValidationError, match="wait"):
        TokenBucket(1e6, wait="sometimes")
    a.close()
    b.close()
