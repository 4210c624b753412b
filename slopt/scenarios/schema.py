"""The scenario file's declared schema (YAML or JSON; ``slopt schema scenario``).

One model per entity, the same fields as :mod:`slopt.scenarios.entities` with their units. A file
is validated here once (types, ranges, unknown keys with "did you mean"); the dataclasses then
check only what spans several fields (clock range, duplicate names, link ends).
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from slopt.schema import (
    Field,
    Index,
    NonNegative,
    Number,
    Positive,
    PositiveOrInf,
    Strict,
    StrictStr,
    register_schema,
)

__all__ = ["DeviceSpec", "ServerSpec", "PathLossSpec", "ChannelSpec", "LinkSpec", "ScenarioSpec"]

Position = Annotated[list[Number], Field(min_length=2, max_length=2)]  # (x, y), m


class DeviceSpec(Strict):
    """A mobile device (client / user)."""

    name: StrictStr = Field(description="unique device name")
    compute_flops: Positive = Field(description="training throughput, FLOP/s")
    memory_bytes: PositiveOrInf = Field(float("inf"), description="memory budget, bytes (inf = unconstrained)")
    tx_power_w: NonNegative = Field(0.19952623149688797, description="uplink transmit power, W (default 23 dBm)")
    distance_m: Positive = Field(100.0, description="distance to its access point, m (when no positions are given)")
    position_m: Optional[Position] = Field(None, description="(x, y) position, m")
    n_samples: Index = Field(0, description="local training samples")
    clock_hz: Optional[Positive] = Field(None, description="clock frequency, Hz (DVFS energy)")
    flop_per_cycle: Optional[Positive] = Field(None, description="FLOP per clock cycle")
    kappa: Optional[NonNegative] = Field(None, description="effective switched capacitance, J s^2/cycle^3")


class ServerSpec(Strict):
    """An edge or cloud server."""

    name: StrictStr = Field(description="unique server name")
    compute_flops: Positive = Field(description="training throughput at full clock, FLOP/s")
    memory_bytes: PositiveOrInf = Field(float("inf"), description="memory capacity, bytes (inf = unconstrained)")
    tx_power_w: NonNegative = Field(1.0, description="downlink transmit power, W")
    tier: Literal["edge", "cloud"] = Field("edge", description="edge or cloud tier")
    position_m: Optional[Position] = Field(None, description="(x, y) position, m")
    clock_hz_min: Optional[Positive] = Field(None, description="lowest DVFS clock, Hz")
    clock_hz_max: Optional[Positive] = Field(None, description="highest DVFS clock, Hz")
    flop_per_cycle: Optional[Positive] = Field(None, description="FLOP per clock cycle (cores x FLOP/cycle/core)")
    kappa: Optional[NonNegative] = Field(None, description="effective switched capacitance, J s^2/cycle^3")


class PathLossSpec(Strict):
    """Log-distance path loss PL(d) = intercept_db + slope_db log10(d / reference_m), dB."""

    intercept_db: Number = Field(128.1, description="PL at the reference distance, dB (3GPP TR 36.814)")
    slope_db: NonNegative = Field(37.6, description="dB per decade of distance")
    reference_m: Positive = Field(1000.0, description="reference distance, m")


class ChannelSpec(Strict):
    """The wireless access."""

    uplink_bandwidth_hz: Positive = Field(description="total uplink bandwidth, Hz")
    downlink_bandwidth_hz: Optional[Positive] = Field(None, description="total downlink bandwidth, Hz (default: uplink)")
    noise_psd_dbm_hz: Number = Field(-174.0, description="noise power spectral density, dBm/Hz")
    path_loss: PathLossSpec = Field(default_factory=PathLossSpec, description="path-loss model")
    fading: Literal["rayleigh", "none"] = Field("rayleigh", description="small-scale fading per slot")
    fading_floor: NonNegative = Field(0.0, description="truncation floor of the fading power gain (0 = none)")


class LinkSpec(Strict):
    """A wired link of fixed rate (e.g. edge-to-cloud backhaul)."""

    src: StrictStr = Field(description="name of one end")
    dst: StrictStr = Field(description="name of the other end")
    rate_bps: Positive = Field(description="rate, bit/s")


class ScenarioSpec(Strict):
    """A scenario file: devices, servers, the channel and wired links."""

    devices: list[DeviceSpec] = Field(min_length=1, description="the devices (at least one)")
    servers: list[ServerSpec] = Field(min_length=1, description="the servers (at least one)")
    channel: ChannelSpec = Field(description="the wireless channel")
    links: Optional[list[LinkSpec]] = Field(None, description="wired links")
    name: StrictStr = Field("", description="scenario name")
    seed: Optional[Index] = Field(None, description="seed of the channel draws")


register_schema("scenario", lambda: ScenarioSpec)
