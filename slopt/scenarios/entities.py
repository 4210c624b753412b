"""Devices, servers, channels and the :class:`Scenario` that bundles them.

Every quantity carries its unit in its name: ``compute_flops`` (FLOP/s), ``memory_bytes``
(bytes), ``tx_power_w`` (W), ``bandwidth_hz`` (Hz), ``distance_m`` (m), ``clock_hz`` (Hz),
``kappa`` (J s^2 / cycle^3, effective switched capacitance), ``rate_bps`` (bit/s).
Every dataclass is frozen and validated in ``__post_init__``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from slopt.errors import ValidationError
from slopt.scenarios.radio import (
    DEFAULT_DEVICE_TX_POWER_DBM,
    DEFAULT_NOISE_PSD_DBM_HZ,
    PathLoss,
    dbm_to_w,
    noise_psd_w_hz,
    rayleigh_power,
    shannon_rate_bps,
)
from slopt.validate import check_int, check_nonneg, check_positive, check_scalar

__all__ = ["Device", "Server", "Channel", "Link", "Scenario", "ChannelSnapshot"]

INF = math.inf


def _check(obj: Any, owner: str, name: str, *, positive: bool = False, optional: bool = False,
           allow_inf: bool = False, unit: str = "") -> None:
    """Validate ``obj.name`` and store it back as a float (YAML may hand over ``'5e11'`` strings)."""
    value = getattr(obj, name)
    if value is None and optional:
        return
    fld = f"{owner}.{name}"
    if isinstance(value, bool):
        raise ValidationError(f"{fld} must be a number, got {value!r}", name)
    if allow_inf and value in (INF, "inf", ".inf", "Infinity"):
        object.__setattr__(obj, name, INF)
        return
    object.__setattr__(obj, name, (check_positive if positive else check_nonneg)(fld, value, unit))


def _check_position(obj: Any, owner: str) -> None:
    pos = obj.position_m
    if pos is None:
        return
    if not isinstance(pos, (tuple, list)) or len(pos) != 2:
        raise ValidationError(f"{owner}.position_m must be an (x, y) pair in metres, got {pos!r}", "position_m")
    object.__setattr__(obj, "position_m", tuple(check_scalar(f"{owner}.position_m[{k}]", x, unit="m")
                                                 for k, x in enumerate(pos)))


@dataclass(frozen=True)
class Device:
    """A mobile device (client / user) that owns data and runs the first part of the model.

    Attributes
    ----------
    name : str
    compute_flops : effective training throughput, FLOP/s
    memory_bytes : memory budget, bytes (inf = unconstrained)
    tx_power_w : uplink transmit power, W (default 23 dBm)
    distance_m : distance to its access point / server, m (used when no positions are given)
    position_m : optional (x, y) position, m
    n_samples : local training samples
    clock_hz, flop_per_cycle, kappa : optional DVFS figures for device energy
        (compute_flops = clock_hz * flop_per_cycle when both are given)
    """

    name: str
    compute_flops: float
    memory_bytes: float = INF
    tx_power_w: float = float(dbm_to_w(DEFAULT_DEVICE_TX_POWER_DBM))
    distance_m: float = 100.0
    position_m: tuple[float, float] | None = None
    n_samples: int = 0
    clock_hz: float | None = None
    flop_per_cycle: float | None = None
    kappa: float | None = None

    def __post_init__(self) -> None:
        o = f"device {self.name!r}"
        _check(self, o, "compute_flops", positive=True, unit="FLOP/s")
        _check(self, o, "memory_bytes", positive=True, allow_inf=True, unit="bytes")
        _check(self, o, "tx_power_w", unit="W")
        _check(self, o, "distance_m", positive=True, unit="m")
        object.__setattr__(self, "n_samples", check_int(f"{o}.n_samples", self.n_samples, lo=0))
        _check(self, o, "clock_hz", positive=True, optional=True, unit="Hz")
        _check(self, o, "flop_per_cycle", positive=True, optional=True, unit="FLOP/cycle")
        _check(self, o, "kappa", optional=True, unit="J s^2/cycle^3")
        _check_position(self, o)


@dataclass(frozen=True)
class Server:
    """An edge or cloud server.

    Attributes
    ----------
    name : str
    compute_flops : effective training throughput at full clock, FLOP/s
    memory_bytes : memory capacity, bytes (inf = unconstrained)
    tx_power_w : downlink transmit power, W
    tier : ``"edge"`` or ``"cloud"``
    position_m : optional (x, y) position, m
    clock_hz_min, clock_hz_max : DVFS range, Hz (optional)
    flop_per_cycle : FLOP per clock cycle (cores x FLOP/cycle/core), optional
    kappa : effective switched capacitance, J s^2 / cycle^3 (dynamic power = kappa f^3), optional
    """

    name: str
    compute_flops: float
    memory_bytes: float = INF
    tx_power_w: float = 1.0
    tier: str = "edge"
    position_m: tuple[float, float] | None = None
    clock_hz_min: float | None = None
    clock_hz_max: float | None = None
    flop_per_cycle: float | None = None
    kappa: float | None = None

    def __post_init__(self) -> None:
        o = f"server {self.name!r}"
        _check(self, o, "compute_flops", positive=True, unit="FLOP/s")
        _check(self, o, "memory_bytes", positive=True, allow_inf=True, unit="bytes")
        _check(self, o, "tx_power_w", unit="W")
        _check_position(self, o)
        if self.tier not in ("edge", "cloud"):
            raise ValidationError(f"{o}.tier is {self.tier!r}; it must be 'edge' or 'cloud'", "tier")
        _check(self, o, "clock_hz_min", positive=True, optional=True, unit="Hz")
        _check(self, o, "clock_hz_max", positive=True, optional=True, unit="Hz")
        _check(self, o, "flop_per_cycle", positive=True, optional=True, unit="FLOP/cycle")
        _check(self, o, "kappa", optional=True, unit="J s^2/cycle^3")
        if (self.clock_hz_min is not None and self.clock_hz_max is not None
                and self.clock_hz_min > self.clock_hz_max):
            raise ValidationError(
                f"{o}: clock_hz_min ({self.clock_hz_min:g} Hz) exceeds clock_hz_max "
                f"({self.clock_hz_max:g} Hz)", "clock_hz_min")


@dataclass(frozen=True)
class Channel:
    """The wireless access: bandwidths, noise and path loss.

    Attributes
    ----------
    uplink_bandwidth_hz, downlink_bandwidth_hz : total system bandwidth, Hz
    noise_psd_dbm_hz : noise power spectral density, dBm/Hz (default -174)
    path_loss : :class:`PathLoss` (default 128.1 + 37.6 log10(d / 1 km) dB)
    fading : ``"rayleigh"`` (|g|^2 ~ Exp(1) per slot) or ``"none"``
    fading_floor : truncation floor of the fading power gain (0 = none)
    """

    uplink_bandwidth_hz: float
    downlink_bandwidth_hz: float | None = None
    noise_psd_dbm_hz: float = DEFAULT_NOISE_PSD_DBM_HZ
    path_loss: PathLoss = field(default_factory=PathLoss)
    fading: str = "rayleigh"
    fading_floor: float = 0.0

    def __post_init__(self) -> None:
        _check(self, "channel", "uplink_bandwidth_hz", positive=True, unit="Hz")
        if self.downlink_bandwidth_hz is None:
            object.__setattr__(self, "downlink_bandwidth_hz", self.uplink_bandwidth_hz)
        _check(self, "channel", "downlink_bandwidth_hz", positive=True, unit="Hz")
        object.__setattr__(self, "noise_psd_dbm_hz",
                           check_scalar("channel.noise_psd_dbm_hz", self.noise_psd_dbm_hz, unit="dBm/Hz"))
        if self.fading not in ("rayleigh", "none"):
            raise ValidationError(f"channel.fading is {self.fading!r}; use 'rayleigh' or 'none'", "fading")
        _check(self, "channel", "fading_floor")
        if isinstance(self.path_loss, dict):
            object.__setattr__(self, "path_loss", PathLoss(**self.path_loss))

    @property
    def noise_psd_w_hz(self) -> float:
        """Noise PSD in W/Hz."""
        return noise_psd_w_hz(self.noise_psd_dbm_hz)


@dataclass(frozen=True)
class Link:
    """A wired link (e.g. edge-to-cloud backhaul) of fixed rate in bit/s."""

    src: str
    dst: str
    rate_bps: float

    def __post_init__(self) -> None:
        _check(self, f"link {self.src!r}->{self.dst!r}", "rate_bps", positive=True, unit="bit/s")


@dataclass(frozen=True)
class ChannelSnapshot:
    """Channel state of one slot of a dynamic channel.

    ``gain[n, s]`` is the linear power gain between device n and server s (path loss x fading).
    """

    slot: int
    gain: np.ndarray


@dataclass(frozen=True)
class Scenario:
    """Devices, servers, the wireless channel and wired links of one split-learning system.

    Use :meth:`random` for seeded random scenarios, :func:`slopt.scenarios.read` for shipped ones.
    """

    devices: tuple[Device, ...]
    servers: tuple[Server, ...]
    channel: Channel
    links: tuple[Link, ...] = ()
    name: str = ""
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "devices", tuple(self.devices))
        object.__setattr__(self, "servers", tuple(self.servers))
        object.__setattr__(self, "links", tuple(self.links))
        if len(self.devices) == 0:
            raise ValidationError("scenario.devices is empty: at least one device is needed", "devices")
        if len(self.servers) == 0:
            raise ValidationError("scenario.servers is empty: at least one server is needed", "servers")
        for kind, items in (("device", self.devices), ("server", self.servers)):
            seen: set[str] = set()
            for i, it in enumerate(items):
                if it.name in seen:
                    raise ValidationError(f"scenario: {kind}s[{i}].name = {it.name!r}: duplicate {kind} name",
                                          f"{kind}s[{i}].name")
                seen.add(it.name)
        known = {d.name for d in self.devices} | {s.name for s in self.servers}
        for i, ln in enumerate(self.links):
            for key, end in (("src", ln.src), ("dst", ln.dst)):
                if end not in known:
                    raise ValidationError(f"links[{i}].{key} = {end!r}: link {ln.src!r}->{ln.dst!r} names unknown "
                                          f"node {end!r}; known: {', '.join(sorted(known))}", f"links[{i}].{key}")

    # ------------------------------------------------------------------ arrays
    @property
    def n_devices(self) -> int:
        return len(self.devices)

    @property
    def edges(self) -> tuple[Server, ...]:
        """The edge-tier servers."""
        return tuple(s for s in self.servers if s.tier == "edge")

    @property
    def cloud(self) -> Server | None:
        """The (first) cloud-tier server, if any."""
        return next((s for s in self.servers if s.tier == "cloud"), None)

    def device_array(self, attr: str) -> np.ndarray:
        """One attribute of every device as a float array (e.g. ``"compute_flops"``)."""
        return np.array([np.nan if getattr(d, attr) is None else getattr(d, attr) for d in self.devices],
                        dtype=float)

    def server_array(self, attr: str, servers: tuple[Server, ...] | None = None) -> np.ndarray:
        """One attribute of every server (or of ``servers``) as a float array."""
        return np.array([np.nan if getattr(s, attr) is None else getattr(s, attr)
                         for s in (servers if servers is not None else self.servers)], dtype=float)

    def distance_matrix_m(self, servers: tuple[Server, ...] | None = None) -> np.ndarray:
        """Distance device n -> server s in metres, shape (n_devices, n_servers).

        Euclidean when both ends have positions, else the device's ``distance_m``.
        """
        servers = servers if servers is not None else self.servers
        out = np.empty((self.n_devices, len(servers)))
        for i, d in enumerate(self.devices):
            for j, s in enumerate(servers):
                if d.position_m is not None and s.position_m is not None:
                    out[i, j] = max(math.dist(d.position_m, s.position_m), 1.0)
                else:
                    out[i, j] = d.distance_m
        return out

    def large_scale_gain(self, servers: tuple[Server, ...] | None = None) -> np.ndarray:
        """Path-loss gain device n <-> server s (linear), shape (n_devices, n_servers)."""
        return self.channel.path_loss.gain(self.distance_matrix_m(servers))

    def link_rate_bps(self, src: str, dst: str) -> float:
        """Rate of the wired link ``src -> dst`` (either direction if only one is given), bit/s."""
        for ln in self.links:
            if (ln.src, ln.dst) == (src, dst):
                return ln.rate_bps
        for ln in self.links:
            if (ln.src, ln.dst) == (dst, src):
                return ln.rate_bps
        raise ValidationError(f"scenario has no link between {src!r} and {dst!r}", "links")

    # ------------------------------------------------------------------ channels
    def snapshots(self, n_slots: int | None = None, seed: int | None = None,
                  servers: tuple[Server, ...] | None = None) -> Iterator[ChannelSnapshot]:
        """A dynamic channel: an iterator of per-slot gains (path loss x Rayleigh fading).

        Infinite when ``n_slots`` is None. Reproducible from ``seed`` (default: the scenario's).
        """
        rng = np.random.default_rng(self.seed if seed is None else seed)
        base = self.large_scale_gain(servers)
        t = 0
        while n_slots is None or t < n_slots:
            if self.channel.fading == "rayleigh":
                h = rayleigh_power(rng, base.shape, self.channel.fading_floor)
            else:
                h = np.ones_like(base)
            yield ChannelSnapshot(t, base * h)
            t += 1

    def gains(self, n_slots: int, seed: int | None = None,
              servers: tuple[Server, ...] | None = None) -> np.ndarray:
        """Gains of ``n_slots`` slots stacked: shape (n_slots, n_devices, n_servers)."""
        return np.stack([s.gain for s in self.snapshots(n_slots, seed, servers)])

    def uplink_rate_bps(self, gain: np.ndarray, bandwidth_hz: float | np.ndarray | None = None) -> np.ndarray:
        """Device-to-server Shannon rate for the given gains (devices along axis -2 or the only axis)."""
        W = self.channel.uplink_bandwidth_hz if bandwidth_hz is None else bandwidth_hz
        p = self.device_array("tx_power_w")
        g = np.asarray(gain, dtype=float)
        p = p.reshape(-1, 1) if g.ndim >= 2 else p
        return shannon_rate_bps(W, p, g, self.channel.noise_psd_w_hz)

    def downlink_rate_bps(self, gain: np.ndarray, bandwidth_hz: float | np.ndarray | None = None,
                          servers: tuple[Server, ...] | None = None) -> np.ndarray:
        """Server-to-device Shannon rate for the given gains (servers along the last axis if 2-D)."""
        W = self.channel.downlink_bandwidth_hz if bandwidth_hz is None else bandwidth_hz
        g = np.asarray(gain, dtype=float)
        p = self.server_array("tx_power_w", servers)
        p = p if g.ndim >= 2 else p[0]
        return shannon_rate_bps(W, p, g, self.channel.noise_psd_w_hz)

    # ------------------------------------------------------------------ generators and io
    @classmethod
    def random(
        cls,
        seed: int = 0,
        n_devices: int = 5,
        n_edges: int = 1,
        cloud: bool = False,
        device_flops: tuple[float, float] = (1e11, 1e12),
        device_memory_bytes: tuple[float, float] = (4 * 2**30, 8 * 2**30),
        edge_flops: float = 1e13,
        cloud_flops: float = 1e14,
        distance_m: tuple[float, float] = (50.0, 300.0),
        uplink_bandwidth_hz: float = 20e6,
        downlink_bandwidth_hz: float | None = None,
        edge_tx_power_w: float = 1.0,
        backhaul_rate_bps: float = 1e9,
        n_samples: tuple[int, int] = (500, 1500),
        name: str = "",
    ) -> "Scenario":
        """A seeded random scenario: uniform device throughput, memory, distance and data size.

        The same ``seed`` always gives the same scenario. Edge servers sit at the origin; with
        ``cloud=True`` a cloud server is added and every edge gets a backhaul link to it.
        """
        rng = np.random.default_rng(seed)
        check_int("n_devices", n_devices, lo=1)
        check_int("n_edges", n_edges, lo=1 if not cloud else 0)
        devices = tuple(
            Device(
                name=f"d{i}",
                compute_flops=float(rng.uniform(*device_flops)),
                memory_bytes=float(rng.uniform(*device_memory_bytes)),
                distance_m=float(rng.uniform(*distance_m)),
                n_samples=int(rng.integers(n_samples[0], n_samples[1] + 1)),
            )
            for i in range(n_devices)
        )
        servers: list[Server] = [Server(name=f"e{j}", compute_flops=edge_flops, tx_power_w=edge_tx_power_w)
                                 for j in range(n_edges)]
        links: list[Link] = []
        if cloud:
            servers.append(Server(name="cloud", compute_flops=cloud_flops, tier="cloud", tx_power_w=0.0))
            links = [Link(f"e{j}", "cloud", backhaul_rate_bps) for j in range(n_edges)]
        return cls(devices=devices, servers=tuple(servers),
                   channel=Channel(uplink_bandwidth_hz, downlink_bandwidth_hz),
                   links=tuple(links), name=name or f"random-{seed}", seed=seed)

    def replace(self, **changes: Any) -> "Scenario":
        """A copy with some fields replaced (re-validated)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-safe dictionary (``inf`` written as the string ``"inf"``)."""
        def clean(obj: Any) -> Any:
            if isinstance(obj, float) and math.isinf(obj):
                return "inf"
            if isinstance(obj, dict):
                return {k: clean(v) for k, v in obj.items() if v is not None}
            if isinstance(obj, (list, tuple)):
                return [clean(v) for v in obj]
            return obj

        return clean(asdict(self))

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> "Scenario":
        """Inverse of :meth:`to_dict`, validated by :class:`slopt.scenarios.schema.ScenarioSpec`;
        errors name ``source``, the field path and the value."""
        from slopt.scenarios.schema import ScenarioSpec
        from slopt.schema import validate

        if not isinstance(data, dict):
            raise ValidationError(f"{source}: a scenario is a mapping with devices, servers and channel, "
                                  f"got {type(data).__name__}", "scenario")
        spec = validate(ScenarioSpec, data, source)
        ch = spec.channel.model_dump()
        ch["path_loss"] = PathLoss(**ch["path_loss"])
        try:
            return cls(
                devices=tuple(Device(**d.model_dump()) for d in spec.devices),
                servers=tuple(Server(**s.model_dump()) for s in spec.servers),
                channel=Channel(**ch),
                links=tuple(Link(**ln.model_dump()) for ln in (spec.links or [])),
                name=spec.name,
                seed=spec.seed,
            )
        except ValidationError as exc:
            raise ValidationError(f"{source}: {exc}", exc.field) from exc
