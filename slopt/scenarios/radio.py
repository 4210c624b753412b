"""Radio models shared by every problem: path loss, Rayleigh block fading and the Shannon rate.

Defaults (``shared/papers/README.md``, "Radio defaults", the 3GPP TR 36.814 macro-cell model):

* path loss  PL(d) = 128.1 + 37.6 * log10(d / 1 km)  dB,
* noise power spectral density N0 = -174 dBm/Hz (thermal noise at 290 K),
* device transmit power 23 dBm (0.2 W, LTE/NR UE power class 3),
* Rayleigh block fading |g|^2 ~ Exp(1), drawn per slot or per turn,
* Shannon rate R = W * log2(1 + p * h / (N0 * W)) for a band of W Hz, in bit/s.

All functions are vectorised over numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PathLoss",
    "dbm_to_w",
    "w_to_dbm",
    "db_to_linear",
    "noise_psd_w_hz",
    "rayleigh_power",
    "shannon_rate_bps",
    "DEFAULT_NOISE_PSD_DBM_HZ",
    "DEFAULT_DEVICE_TX_POWER_DBM",
]

#: Thermal noise PSD at 290 K, dBm/Hz.
DEFAULT_NOISE_PSD_DBM_HZ = -174.0
#: LTE/NR user-equipment power class 3, dBm.
DEFAULT_DEVICE_TX_POWER_DBM = 23.0


def dbm_to_w(dbm: float | np.ndarray) -> float | np.ndarray:
    """Power in dBm to watts: 10^((dBm - 30)/10)."""
    w = 10.0 ** ((np.asarray(dbm, dtype=float) - 30.0) / 10.0)
    return float(w) if w.ndim == 0 else w


def w_to_dbm(w: float | np.ndarray) -> float | np.ndarray:
    """Power in watts to dBm."""
    return 10.0 * np.log10(w) + 30.0


def db_to_linear(db: float | np.ndarray) -> float | np.ndarray:
    """A gain or loss in dB to a linear power ratio."""
    return 10.0 ** (np.asarray(db, dtype=float) / 10.0)


def noise_psd_w_hz(noise_psd_dbm_hz: float = DEFAULT_NOISE_PSD_DBM_HZ) -> float:
    """Noise power spectral density in W/Hz from dBm/Hz."""
    return float(dbm_to_w(noise_psd_dbm_hz))


@dataclass(frozen=True)
class PathLoss:
    """Log-distance path loss PL(d) = intercept_db + slope_db * log10(d / reference_m) dB.

    The default is the 3GPP TR 36.814 macro model 128.1 + 37.6 log10(d / 1 km).
    """

    intercept_db: float = 128.1
    slope_db: float = 37.6
    reference_m: float = 1000.0

    def __post_init__(self) -> None:
        from slopt.validate import check_positive, check_scalar

        object.__setattr__(self, "intercept_db", check_scalar("path_loss.intercept_db", self.intercept_db, unit="dB"))
        object.__setattr__(self, "slope_db", check_scalar("path_loss.slope_db", self.slope_db, lo=0.0, unit="dB"))
        object.__setattr__(self, "reference_m", check_positive("path_loss.reference_m", self.reference_m, "m"))

    def loss_db(self, distance_m: float | np.ndarray) -> np.ndarray:
        """Path loss in dB at ``distance_m`` metres."""
        d = np.asarray(distance_m, dtype=float)
        return self.intercept_db + self.slope_db * np.log10(d / self.reference_m)

    def gain(self, distance_m: float | np.ndarray) -> np.ndarray:
        """Large-scale channel power gain (linear) at ``distance_m`` metres."""
        return 10.0 ** (-self.loss_db(distance_m) / 10.0)


def rayleigh_power(rng: np.random.Generator, size: int | tuple[int, ...], floor: float = 0.0) -> np.ndarray:
    """Small-scale Rayleigh fading power gains |g|^2 ~ Exp(1), optionally truncated below at ``floor``."""
    h = rng.exponential(1.0, size=size)
    return np.maximum(h, floor) if floor > 0 else h


def shannon_rate_bps(
    bandwidth_hz: float | np.ndarray,
    tx_power_w: float | np.ndarray,
    gain: float | np.ndarray,
    noise_psd_w_hz_: float | np.ndarray,
) -> np.ndarray:
    """Shannon rate R = W log2(1 + p h / (N0 W)) in bit/s; 0 where W = 0.

    Parameters
    ----------
    bandwidth_hz : band width W, Hz
    tx_power_w : transmit power p, W
    gain : channel power gain h (linear, path loss times fading)
    noise_psd_w_hz_ : noise power spectral density N0, W/Hz
    """
    W = np.asarray(bandwidth_hz, dtype=float)
    snr_num = np.asarray(tx_power_w, dtype=float) * np.asarray(gain, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = W * np.log2(1.0 + snr_num / (np.asarray(noise_psd_w_hz_, dtype=float) * W))
    return np.where(W > 0, r, 0.0)
