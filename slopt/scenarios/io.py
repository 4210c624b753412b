"""YAML / JSON read and write of :class:`Scenario` (``data/scenarios/``)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import yaml

from slopt.errors import ValidationError
from slopt.schema import load_yaml
from slopt.scenarios.entities import Scenario

__all__ = ["read", "write", "shipped", "DATA_DIR"]

DATA_DIR = Path(str(resources.files("slopt.data"))) / "scenarios"  # top-level data/, packaged as slopt.data


def read(path: str | Path) -> Scenario:
    """Read a scenario from a ``.yaml``/``.yml``/``.json`` file, or a shipped one by name."""
    p = Path(path)
    if not p.exists():
        for ext in (".yaml", ".yml", ".json"):
            cand = DATA_DIR / f"{path}{ext}"
            if cand.exists():
                p = cand
                break
        else:
            raise ValidationError(f"scenario file {str(path)!r} does not exist (shipped scenarios: "
                                  f"{', '.join(shipped()) or 'none'})", "scenario")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{p}: cannot read the scenario file ({exc})", "file") from exc
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValidationError(f"{p}: not valid JSON ({exc})", "file") from exc
    else:
        data = load_yaml(text, str(p))   # YAML 1.2: 5.0e6 is a number, duplicate keys an error
    if not isinstance(data, dict):
        raise ValidationError(f"{p}: expected a mapping at the top level", "file")
    return Scenario.from_dict(data, source=str(p))


def write(scenario: Scenario, path: str | Path) -> Path:
    """Write a scenario as YAML (or JSON for a ``.json`` path)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    d = scenario.to_dict()
    p.write_text(json.dumps(d, indent=1) if p.suffix == ".json" else yaml.safe_dump(d, sort_keys=False))
    return p


def shipped() -> list[str]:
    """Names of the scenarios shipped in ``data/scenarios/``."""
    return sorted(p.stem for p in DATA_DIR.glob("*") if p.suffix in (".yaml", ".yml", ".json"))
