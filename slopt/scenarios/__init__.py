"""Devices, servers, channels and the radio models shared by every problem."""

from slopt.scenarios.entities import Channel, ChannelSnapshot, Device, Link, Scenario, Server
from slopt.scenarios.io import read, shipped, write
from slopt.scenarios.radio import (
    PathLoss,
    dbm_to_w,
    noise_psd_w_hz,
    rayleigh_power,
    shannon_rate_bps,
    w_to_dbm,
)

__all__ = ["Device", "Server", "Channel", "Link", "Scenario", "ChannelSnapshot", "PathLoss",
           "read", "write", "shipped", "dbm_to_w", "w_to_dbm", "noise_psd_w_hz",
           "rayleigh_power", "shannon_rate_bps"]
