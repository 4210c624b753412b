"""Scenarios: radio models, validation at the door, seeded generators, YAML/JSON round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slopt.errors import ValidationError
from slopt.scenarios import (Channel, Device, Link, PathLoss, Scenario, Server, dbm_to_w, read,
                             shannon_rate_bps, shipped, w_to_dbm, write)
from slopt.scenarios.radio import noise_psd_w_hz, rayleigh_power


def test_radio_defaults() -> None:
    assert dbm_to_w(23.0) == pytest.approx(0.19953, rel=1e-4)
    assert w_to_dbm(1.0) == pytest.approx(30.0)
    assert PathLoss().loss_db(1000.0) == pytest.approx(128.1)
    assert PathLoss().loss_db(100.0) == pytest.approx(128.1 - 37.6)
    assert noise_psd_w_hz(-174) == pytest.approx(10 ** (-20.4), rel=1e-9)


def test_shannon_rate() -> None:
    W, p, h, n0 = 1e6, 0.2, 1e-10, noise_psd_w_hz()
    r = shannon_rate_bps(W, p, h, n0)
    assert r == pytest.approx(W * math.log2(1 + p * h / (n0 * W)))
    assert shannon_rate_bps(0.0, p, h, n0) == 0.0
    # increasing and concave in bandwidth
    Ws = np.linspace(1e5, 1e7, 50)
    rs = shannon_rate_bps(Ws, p, h, n0)
    assert (np.diff(rs) > 0).all() and (np.diff(rs, 2) < 0).all()


def test_rayleigh_mean_and_floor() -> None:
    h = rayleigh_power(np.random.default_rng(0), 200_000)
    assert h.mean() == pytest.approx(1.0, abs=0.01)  # Exp(1): std of the mean is 1/sqrt(2e5) = 0.0022
    assert rayleigh_power(np.random.default_rng(0), 1000, floor=0.01).min() >= 0.01


def test_random_is_reproducible_and_snapshots() -> None:
    a, b = Scenario.random(seed=3, n_devices=4), Scenario.random(seed=3, n_devices=4)
    assert a == b
    g1 = a.gains(5)
    g2 = np.stack([s.gain for s in a.snapshots(5)])
    assert g1.shape == (5, 4, 1) and np.array_equal(g1, g2)
    assert not np.array_equal(g1[0], g1[1])
    rates = a.uplink_rate_bps(g1[0])
    assert rates.shape == (4, 1) and (rates > 0).all()


def test_three_tier_generator_and_links() -> None:
    s = Scenario.random(seed=0, n_devices=6, n_edges=2, cloud=True)
    assert len(s.edges) == 2 and s.cloud is not None
    assert s.link_rate_bps("e1", "cloud") == 1e9 and s.link_rate_bps("cloud", "e1") == 1e9
    assert s.distance_matrix_m(s.edges).shape == (6, 2)


def test_round_trip(tmp_path) -> None:
    s = Scenario.random(seed=1, n_devices=3, cloud=True)
    for ext in ("yaml", "json"):
        p = write(s, tmp_path / f"s.{ext}")
        assert read(p) == s
    assert {"default", "three_tier"} <= set(shipped())
    assert read("default").n_devices == 5


def test_validation_names_field() -> None:
    with pytest.raises(ValidationError, match=r"channel.uplink_bandwidth_hz is nan"):
        Channel(uplink_bandwidth_hz=float("nan"))
    with pytest.raises(ValidationError, match=r"device 'd0'.tx_power_w = -1.0 W"):
        Device("d0", compute_flops=1e9, tx_power_w=-1.0)
    with pytest.raises(ValidationError, match=r"device 'd0'.compute_flops = 0.0 FLOP/s"):
        Device("d0", compute_flops=0.0)
    with pytest.raises(ValidationError, match="devices is empty"):
        Scenario(devices=(), servers=(Server("s", 1e12),), channel=Channel(1e6))
    with pytest.raises(ValidationError, match="clock_hz_min"):
        Server("s", 1e12, clock_hz_min=2e9, clock_hz_max=1e9)
    with pytest.raises(ValidationError, match="devices\[1\].name = 'a': duplicate device name"):
        Scenario(devices=(Device("a", 1e9), Device("a", 1e9)), servers=(Server("s", 1e12),),
                 channel=Channel(1e6))
    with pytest.raises(ValidationError, match="unknown node 'x'"):
        Scenario(devices=(Device("a", 1e9),), servers=(Server("s", 1e12),), channel=Channel(1e6),
                 links=(Link("s", "x", 1e9),))


def test_file_errors_name_file_and_field(tmp_path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("devices: []\nservers: []\n")
    with pytest.raises(ValidationError, match=r"s.yaml: .*missing field 'channel'"):
        read(p)
    p.write_text("devices:\n- {name: a, compute_flops: .nan}\nservers:\n- {name: s, compute_flops: 1e12}\n"
                 "channel: {uplink_bandwidth_hz: 1e6}\n")
    with pytest.raises(ValidationError, match=r"s.yaml: devices\[0\].compute_flops = nan: .*finite"):
        read(p)
    p.write_text("devices:\n- {name: a, compute_flop: 1}\nservers: []\nchannel: {uplink_bandwidth_hz: 1e6}\n")
    with pytest.raises(ValidationError, match=r"unknown field 'devices\[0\].compute_flop'; did you mean 'compute_flops'\? accepted: "):
        read(p)


def test_yaml_exponent_strings_become_floats(tmp_path) -> None:
    p = tmp_path / "s.yaml"
    # PyYAML reads 5e11 (no dot) as a string: the dataclasses convert and check it
    p.write_text("devices:\n- {name: a, compute_flops: 5e11, memory_bytes: inf}\nservers:\n"
                 "- {name: s, compute_flops: 1e13}\nchannel: {uplink_bandwidth_hz: 20e6}\nlinks: null\n")
    s = read(p)
    assert s.devices[0].compute_flops == 5e11 and isinstance(s.devices[0].compute_flops, float)
    assert s.channel.uplink_bandwidth_hz == 20e6 and math.isinf(s.devices[0].memory_bytes)


def test_more_validation() -> None:
    with pytest.raises(ValidationError, match="position_m must be an"):
        Device("a", 1e9, position_m=(1.0, 2.0, 3.0))
    with pytest.raises(ValidationError, match="path_loss.slope_db is nan"):
        PathLoss(slope_db=float("nan"))
    with pytest.raises(ValidationError, match="path_loss.reference_m"):
        PathLoss(reference_m=0.0)
    with pytest.raises(ValidationError, match="must be a number, got True"):
        Device("a", True)
    with pytest.raises(ValidationError, match=r"devices = None: input should be a valid list"):
        Scenario.from_dict({"devices": None, "servers": [], "channel": {"uplink_bandwidth_hz": 1e6}})
