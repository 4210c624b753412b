"""The runtime's link calibration (per-message hand-off on top of Eq. 6) and the prediction of
slopt.runtime.validate: the hand-off term's arithmetic, the calibration's message composition,
the SFT compressor's size model against the bytes the runtime puts on the wire."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from slopt.errors import ValidationError  # noqa: E402
from slopt.models.dag_split import evaluate, make_instance  # noqa: E402
from slopt.profiles.torch_loader import from_torch  # noqa: E402
from slopt.runtime import SplitSession, predict, split_model, validate_plan  # noqa: E402
from slopt.runtime.models import SmallCNN  # noqa: E402
from slopt.runtime.validate import MESSAGES_PER_DIRECTION, keyword_or_seconds, sft_payload_bytes  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    m = SmallCNN(width=8, blocks=1).train()
    x = torch.randn(4, 3, 32, 32)
    g = from_torch(m, x)
    D = [g.index(n) for n in g.names[:3]]            # stem, relu, layers.0.conv1: two cut tensors
    return m, x, g, D


def test_predict_adds_the_hand_off_per_message_and_direction(cnn):
    _, x, g, D = cnn
    ev = evaluate(make_instance(g, batch=4, uplink_bps=1e7, downlink_bps=2e7), D)
    p0 = predict(g, D, uplink_bps=1e7, downlink_bps=2e7, batch=4)
    assert p0["total"] == pytest.approx(ev["delay_s"], rel=1e-12)          # 0 = Eq. 6 alone
    p = predict(g, D, uplink_bps=1e7, downlink_bps=2e7, batch=4, latency_s=0.01, message_overhead_s=0.002)
    assert MESSAGES_PER_DIRECTION == 1
    assert p["upload"] == pytest.approx(ev["upload_s"] + 0.002, rel=1e-12)
    assert p["download"] == pytest.approx(ev["download_s"] + 0.002, rel=1e-12)
    assert p["total"] == pytest.approx(ev["delay_s"] + 2 * 0.01 + 2 * 0.002, rel=1e-12)
    assert p["eq6_total"] == pytest.approx(ev["delay_s"] + 2 * 0.01, rel=1e-12)
    # predicted bytes are Eq. 6's: B a_u summed over the cut
    cut = ev["cut_tensors"]
    assert p["upload_bytes"] == pytest.approx(4 * g.activation_bytes[cut].sum(), rel=1e-12)
    for bad in (-1.0, math.nan, math.inf, "soon"):
        with pytest.raises(ValidationError, match="message_overhead_s"):
            predict(g, D, uplink_bps=1e7, downlink_bps=2e7, batch=4, message_overhead_s=bad)


def test_keyword_or_seconds_is_the_one_parser_of_both_terms(cnn):
    """One parser for "a keyword or seconds >= 0": Python values, command-line strings, errors
    that name the field (and the option) and the value."""
    assert keyword_or_seconds("calibrate", "calibrate", "message_overhead_s") == "calibrate"
    assert keyword_or_seconds(" profile", "profile", "optimizer_step") == "profile"
    assert keyword_or_seconds("0.001", "calibrate", "message_overhead_s") == 0.001
    assert keyword_or_seconds(0, "profile", "optimizer_step") == 0.0
    for bad in ("-1", -1e-9, math.nan, "inf", "lots", None, True, "profile"):
        with pytest.raises(ValidationError, match=r"message_overhead_s \(--message-overhead\) = ") as e:
            keyword_or_seconds(bad, "calibrate", "message_overhead_s", "--message-overhead")
        assert e.value.field == "message_overhead_s" and repr(bad) in str(e.value)
    _, _, g, D = cnn
    with pytest.raises(ValidationError, match="optimizer_step = 'some'"):
        validate_plan(None, None, g, D, optimizer_step="some")          # before any model work
    with pytest.raises(ValidationError, match="needs a session's calibration"):
        predict(g, D, uplink_bps=1e7, downlink_bps=2e7, batch=4, message_overhead_s="calibrate")


def test_calibration_sends_the_plans_own_messages(cnn):
    m, x, g, D = cnn
    sm = split_model(m, x, g, D)
    with SplitSession(sm, [x]) as s:
        cal = s.calibrate(sizes=(0, 1 << 16, 1 << 18), repeats=2)
        run = s.run(1, 1e8, 1e8, warmup=0, memory=False)
    # the probe is the run's upload (cut tensors) and download (their gradients), byte for byte
    assert cal.plan["payload_bytes"] == run.expected_upload_bytes == run.records[0].upload_payload_bytes
    assert cal.plan["reply_payload_bytes"] == run.expected_download_bytes
    assert cal.plan["tensors"] == len(sm.cut)
    # a hand-off is what exceeds 8 x wire / R on a rate-limited link: never negative, and small
    # next to the 10 ms the 131 kB message needs at 100 Mbit/s
    for v in (cal.plan_upload_s, cal.plan_download_s, *cal.samples.upload_s, *cal.samples.download_s):
        assert 0.0 <= v < 0.5
    assert list(cal.samples.payload_bytes) == [0, 1 << 16, 1 << 18]
    assert cal.overhead_s("upload") == cal.plan_upload_s
    with pytest.raises(ValidationError, match="direction"):
        cal.overhead_s("sideways")
    # without the plan's messages the fit a + c N stands in; with neither, a clear error
    fit_only = type(cal).fit(cal.samples)
    assert fit_only.overhead_s("upload", 1 << 17) == pytest.approx(
        max(cal.upload_message_s + cal.upload_byte_s * (1 << 17), 0.0))
    with pytest.raises(ValidationError, match="calibration"):
        type(cal).fit(cal.samples.iloc[:0]).overhead_s("upload", 100)


def test_validate_plan_with_and_without_the_hand_off(cnn):
    m, x, g, D = cnn
    res = validate_plan(m, x, g, D, rates=[5e7], iterations=1, warmup=0, memory=False, calibration_repeats=2)
    t = res.table.set_index("component")
    cal = res.calibration
    assert cal is not None and res.message_overhead == "calibrated"
    assert t.loc["upload", "predicted_s"] == pytest.approx(t.loc["upload", "predicted_eq6_s"] + cal.plan_upload_s)
    assert t.loc["total", "predicted_s"] == pytest.approx(
        t.loc["total", "predicted_eq6_s"] + cal.plan_upload_s + cal.plan_download_s)
    assert t.loc["upload", "predicted_bytes"] == t.loc["upload", "measured_bytes"]      # raw: exact
    off = validate_plan(m, x, g, D, rates=[5e7], iterations=1, warmup=0, memory=False, message_overhead_s=0)
    o = off.table
    np.testing.assert_allclose(o.predicted_s, o.predicted_eq6_s)
    assert off.calibration is None
    with pytest.raises(ValidationError, match="message_overhead_s"):
        validate_plan(m, x, g, D, rates=[5e7], message_overhead_s="guess")


def test_interleaved_schedule_and_repredict(cnn):
    """schedule="interleaved": every rate pair gets its own `iterations` records (renumbered, no
    warm-up left), one iteration per pair in turn, the link really at that pair's rate; the run
    calls alternate between the pairs. repredict: the same runs against another profile change
    the predictions only."""
    m, x, g, D = cnn
    calls = []
    orig = SplitSession.run

    def spy(self, iterations, up, dn, **kw):
        calls.append((iterations, up))
        return orig(self, iterations, up, dn, **kw)

    SplitSession.run = spy
    try:
        res = validate_plan(m, x, g, D, rates=[(2e7, 4e7), (3e7, 6e7)], iterations=3, warmup=1, memory=False,
                            message_overhead_s=0)
    finally:
        SplitSession.run = orig
    assert calls == [(1, 2e7), (1, 3e7)] + [(1, 2e7), (1, 3e7)] * 3      # warm-ups, then rounds in turn
    for run, up in zip(res.runs, (2e7, 3e7)):
        assert [r.iteration for r in run.records] == [0, 1, 2] and run.warmup == 0
        assert {r.uplink_bps for r in run.records} == {up} and {r.downlink_bps for r in run.records} == {2 * up}
        assert all(r.upload_s >= 8 * r.upload_wire_bytes / up for r in run.records)     # paced at its rate
    blocked = validate_plan(m, x, g, D, rates=[2e7], iterations=2, warmup=1, memory=False, message_overhead_s=0,
                            schedule="blocked")
    assert [r.iteration for r in blocked.runs[0].records] == [0, 1, 2] and blocked.runs[0].warmup == 1
    with pytest.raises(ValidationError, match="schedule = 'random'"):
        validate_plan(m, x, g, D, rates=[2e7], schedule="random")
    # repredict: the same profile gives the same table; doubled per-layer times double Eq. 6's compute
    same = res.repredict(g)
    pd.testing.assert_frame_equal(same.table, res.table)
    g2 = g.replace(extra={**g.extra, "device_time_s": 2 * np.asarray(g.extra.get("device_time_s", np.ones(g.n))),
                          "server_time_s": 2 * np.asarray(g.extra.get("server_time_s", np.ones(g.n)))})
    twice = res.repredict(g2).table.set_index(["uplink_bps", "component"])
    once = res.repredict(g.replace(extra={**g.extra, "device_time_s": g2.extra["device_time_s"] / 2,
                                          "server_time_s": g2.extra["server_time_s"] / 2})).table.set_index(
                                              ["uplink_bps", "component"])
    for c in ("device_compute", "server_compute"):
        np.testing.assert_allclose(twice.xs(c, level=1).predicted_eq6_s, 2 * once.xs(c, level=1).predicted_eq6_s)
    np.testing.assert_array_equal(twice.measured_s, once.measured_s)
    np.testing.assert_array_equal(twice.xs("upload", level=1).predicted_s, once.xs("upload", level=1).predicted_s)
    other = from_torch(SmallCNN(width=8, blocks=2).train(), x)
    with pytest.raises(ValidationError, match="not the profile these runs were split with"):
        res.repredict(other)


def test_validate_plan_reports_progress_and_stops_at_its_time_limit(cnn, caplog):
    """One progress record per round; a spent time limit starts no new round and the result
    covers the rounds done (at least one); a first Ctrl-C (request_stop) does the same."""
    import logging

    from slopt.progress import clear_stop, request_stop

    m, x, g, D = cnn
    with caplog.at_level(logging.INFO, logger="slopt.runtime.validate"):
        full = validate_plan(m, x, g, D, rates=[2e7, 3e7], iterations=2, warmup=0, memory=False,
                             message_overhead_s=0)
    rounds = [r.getMessage() for r in caplog.records if "rounds" in r.getMessage()]
    assert [msg.split()[0] for msg in rounds] == ["1/2", "2/2"]
    assert all(len(r.records) == 2 for r in full.runs)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="slopt.runtime.validate"):
        cut = validate_plan(m, x, g, D, rates=[2e7, 3e7], iterations=5, warmup=0, memory=False,
                            message_overhead_s=0, time_limit_s=1e-6)
    assert [len(r.records) for r in cut.runs] == [1, 1]
    assert len(cut.table) == len(full.table)                      # every rate pair is in the table
    assert any("stopped after 1 of 5 rounds" in r.getMessage() for r in caplog.records)
    request_stop()
    try:
        blocked = validate_plan(m, x, g, D, rates=[2e7, 3e7], iterations=1, warmup=0, memory=False,
                                message_overhead_s=0, schedule="blocked")
    finally:
        clear_stop()
    assert len(blocked.runs) == 1 and set(blocked.table.uplink_bps) == {2e7}
    for bad in (0, -1.0, math.nan):
        with pytest.raises(ValidationError, match="time_limit_s"):
            validate_plan(m, x, g, D, rates=[2e7], time_limit_s=bad)


@pytest.mark.parametrize("theta,q", [(0.1, 4), (0.05, 8), (0.9, 4)])
def test_compressed_upload_bytes_follow_the_compressors_size_model(cnn, theta, q):
    """Predicted = Eq. 7 of the compressor (mask entropy + q-bit values + fp32 row scales) per
    floating cut tensor; the runtime's payload exceeds it only by each tensor's self-describing
    head and the rANS coder's lane states (< 256 bytes per tensor, measured ~80-120) and the
    coder's excess over the entropy (< 1 %); the wire adds the message's JSON header."""
    m, x, g, D = cnn
    comp = {"theta": theta, "q": q, "seed": 0}
    res = validate_plan(m, x, g, D, rates=[1e8], iterations=1, warmup=0, memory=False, compress=comp,
                        message_overhead_s=0)
    up = res.table.set_index("component").loc["upload"]
    rec = res.runs[0].records[0]
    pred, meas = up.predicted_bytes, rec.upload_payload_bytes
    n_tensors = len(res.cut_layers)
    assert up.measured_bytes == meas
    assert 0 <= meas - pred <= 0.01 * pred + 256 * n_tensors, (pred, meas)
    assert rec.upload_wire_bytes - meas < 1024                 # framing: length words + JSON header
    # the predicted upload time is the compressed bytes at R_up, far below the raw Eq. 6 upload
    assert up.predicted_s == pytest.approx(8 * pred / 1e8, rel=1e-12)
    assert pred < 0.25 * res.runs[0].expected_upload_bytes
    # the size model itself: dense above theta_c (E q bits + scales), closed form
    assert sft_payload_bytes((4, 8, 32, 32), 0.9, 4) == pytest.approx((4 * 8 * 32 * 32 * 4 + 32 * 4 * 8 * 32) / 8)


def test_cli_validate_message_overhead(tmp_path):
    from typer.testing import CliRunner

    from slopt.cli import app

    r = CliRunner()
    prof = tmp_path / "p.json"
    res = r.invoke(app, ["profile", "measure", "small-cnn", "-o", str(prof), "--set", "width=4", "--set", "blocks=1",
                         "--image-size", "8", "--batch", "2", "--repeats", "1", "--warmup", "0"])
    assert res.exit_code == 0, res.output
    import json

    from slopt.profiles import read

    g = read(prof)
    common = ["validate", str(prof), "--device-layer", g.names[2], "--rate", "5e6", "--iterations", "1",
              "--warmup", "0", "--json"]
    res = r.invoke(app, [*common, "--message-overhead", "0", "--optimizer-step", "0"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["calibration"] is None
    assert all(row["predicted_s"] == row["predicted_eq6_s"] for row in out["table"])
    # the profile's measured optimiser step is added to the compute (and total), nothing else
    res = r.invoke(app, [*common, "--message-overhead", "0"])
    assert res.exit_code == 0, res.output
    rows = {row["component"]: row for row in json.loads(res.output)["table"]}
    assert rows["upload"]["predicted_s"] == rows["upload"]["predicted_eq6_s"]
    step = rows["device_compute"]["calibration_s"] + rows["server_compute"]["calibration_s"]
    assert step > 0
    assert rows["total"]["predicted_s"] == pytest.approx(rows["total"]["predicted_eq6_s"] + step)
    res = r.invoke(app, [*common, "--optimizer-step", "some"])
    assert res.exit_code == 2 and "--optimizer-step" in res.output
    res = r.invoke(app, [*common, "--wait", "nap"])
    assert res.exit_code == 2 and "wait" in res.output
    res = r.invoke(app, [*common, "--message-overhead", "0.001"])
    assert res.exit_code == 0, res.output
    up = next(row for row in json.loads(res.output)["table"] if row["component"] == "upload")
    assert up["predicted_s"] == pytest.approx(up["predicted_eq6_s"] + 0.001)
    res = r.invoke(app, [*common, "--message-overhead", "0", "--remeasure", "1", "--schedule", "blocked"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert len(out["window_table"]) == len(out["table"])
    assert [w["measured_s"] for w in out["window_table"]] == [t["measured_s"] for t in out["table"]]
    res = r.invoke(app, [*common, "--schedule", "shuffled"])
    assert res.exit_code == 2 and "schedule" in res.output
    res = r.invoke(app, [*common, "--allocator", "jemalloc"])
    assert res.exit_code == 2 and "allocator = 'jemalloc'" in res.output
    res = r.invoke(app, [*common, "--message-overhead", "lots"])
    assert res.exit_code == 2 and "--message-overhead" in res.output
    res = r.invoke(app, [*common, "--message-overhead", "-1"])
    assert res.exit_code == 2 and "message_overhead_s" in res.output
