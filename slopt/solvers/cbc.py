"""CBC through its executable: slopt writes the LP file, runs CBC and reads CBC's own output.

Pyomo's CBC reader loses every variable value when CBC's preprocessing removes all rows (the
build of the ``cbcbox`` wheel then writes a solution file without a row section), and reads the
bound of a stopped maximisation with the wrong sign. This module reads the solution file by
column name, so that no variable goes missing whatever sections CBC writes, and takes the status
from the solution file's first line and the bound from the summary CBC prints at the end
(``Lower bound:`` for a minimisation, ``Upper bound:`` for a maximisation, both in the model's
own sense; absent when CBC proves none, and then NaN).

Which CBC build: the environment variable ``SLOPT_CBC`` selects it:

- ``debian``: ``/usr/bin/cbc`` (Debian's ``coinor-cbc``);
- ``cbcbox``: the binary of the ``cbcbox`` wheel (``pip install cbcbox``);
- a path: that executable;
- unset: ``/usr/bin/cbc`` when present, else ``cbc`` on PATH, else cbcbox's.

``SLOPT_PIP_ONLY=1`` hides every solver executable outside the Python environment (Debian's CBC
and GLPK, an IPOPT on PATH), as on a machine where only pip installed anything; CBC is then
cbcbox's.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

from slopt.errors import SolverNotAvailable, ValidationError

__all__ = ["cbc_executable", "cbc_builds", "CbcRun", "run_cbc", "load_values", "pip_only", "in_environment"]

DEBIAN_CBC = "/usr/bin/cbc"


def _cbcbox() -> str | None:
    try:
        import cbcbox

        p = cbcbox.cbc_bin_path()
    except Exception:  # noqa: BLE001 - cbcbox absent or broken: no such build
        return None
    return p if p and os.path.exists(p) else None


def pip_only() -> bool:
    """True when ``SLOPT_PIP_ONLY=1``: solver executables outside the Python environment are hidden."""
    return os.environ.get("SLOPT_PIP_ONLY", "") == "1"


def in_environment(path: str | None) -> bool:
    """Whether ``path`` lies inside the running Python environment (``sys.prefix``)."""
    import sys

    return bool(path) and os.path.realpath(path).startswith(os.path.realpath(sys.prefix) + os.sep)


def cbc_builds() -> dict[str, str]:
    """Every CBC build present here: ``{"debian": path, "cbcbox": path}`` and, when ``SLOPT_CBC``
    names a path, ``{"path": that path}``."""
    out: dict[str, str] = {}
    if os.path.exists(DEBIAN_CBC) and not pip_only():
        out["debian"] = DEBIAN_CBC
    box = _cbcbox()
    if box:
        out["cbcbox"] = box
    sel = os.environ.get("SLOPT_CBC", "").strip()
    if sel and sel not in ("debian", "cbcbox") and os.path.exists(sel) and (not pip_only() or in_environment(sel)):
        out["path"] = sel
    return out


def cbc_executable() -> str | None:
    """The CBC executable selected by ``SLOPT_CBC`` (see the module docstring); None if absent."""
    sel = os.environ.get("SLOPT_CBC", "").strip()
    if sel == "debian":
        return DEBIAN_CBC if os.path.exists(DEBIAN_CBC) and not pip_only() else None
    if sel == "cbcbox":
        return _cbcbox()
    if sel:
        p = sel if os.path.exists(sel) else shutil.which(sel)
        return p if p and (not pip_only() or in_environment(p)) else None
    for path in (DEBIAN_CBC, shutil.which("cbc")):
        if path and os.path.exists(path) and (not pip_only() or in_environment(path)):
            return path
    return _cbcbox()


@dataclass
class CbcRun:
    """One CBC run: its command, log, solution-file status line and parsed numbers."""

    command: list[str]
    log: str
    status_line: str
    termination: str
    objective: float = math.nan
    bound: float = math.nan
    values: dict[str, float] = field(default_factory=dict)
    unknown_options: list[str] = field(default_factory=list)


def _termination(line: str, log: str) -> str:
    s = line.lower()
    if s.startswith("optimal"):
        return "optimal"
    if "infeasible" in s:
        return "infeasible"
    if s.startswith("unbounded"):
        return "unbounded"
    if "stopped on time" in s or "stopped on time" in log.lower():
        return "time_limit"
    if s.startswith("stopped"):
        return "interrupted" if "ctrl" in s else "iteration_limit"
    if "problem is unbounded" in log.lower() or "linear relaxation unbounded" in log.lower():
        return "unbounded"
    if "infeasible" in log.lower().split("result -")[-1]:
        return "infeasible"
    return "other_error"


_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf)"


def _last_digit(text: str) -> float:
    """One unit of the last digit of a printed number (``"-42.8333"`` -> 1e-4, ``"1.5e+03"`` -> 100)."""
    t = text.strip().lower().lstrip("+-")
    mant, _, exp = t.partition("e")
    decimals = len(mant.partition(".")[2])
    return 10.0 ** ((int(exp) if exp else 0) - decimals)


def run_cbc(m: Any, minimize: bool, time_limit: float | None, mip_gap: float | None,
            options: dict[str, Any], tee: bool) -> tuple[CbcRun, Any]:
    """Write ``m`` as an LP file, run CBC, and load its values into ``m``'s variables (every
    variable CBC names in its solution file). Returns the run and the LP writer's symbol map."""
    from pyomo.opt import ProblemFormat

    exe = cbc_executable()
    if not exe:
        raise SolverNotAvailable("CBC is not installed here (SLOPT_CBC="
                                 f"{os.environ.get('SLOPT_CBC', '')!r}); install it with: "
                                 "apt-get install coinor-cbc   (or: pip install cbcbox)")
    with tempfile.TemporaryDirectory(prefix="slopt-cbc-") as d:
        lp, sol = os.path.join(d, "model.lp"), os.path.join(d, "model.sol")
        _, smap_id = m.write(lp, format=ProblemFormat.cpxlp, io_options={"symbolic_solver_labels": False})
        smap = m.solutions.symbol_map.pop(smap_id)
        cmd = [exe, lp]
        if time_limit is not None:
            cmd += ["-timeMode", "elapsed", "-sec", repr(float(time_limit))]
        if mip_gap is not None:
            cmd += ["-ratioGap", repr(float(mip_gap))]
        for k, v in options.items():
            if not isinstance(k, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_!]*", k):
                raise ValidationError(f"solver option {k!r}: not a CBC option name", "solver_options")
            cmd += [f"-{k}"] + ([] if v is None or v == "" else [str(v)])
        cmd += ["-printingOptions", "all", "-solve", "-solu", sol]
        timeout = None if time_limit is None else 2 * float(time_limit) + 60
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            log = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            log = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return CbcRun(cmd, log, "", "time_limit"), smap
        if tee:
            print(log)
        text = open(sol).read() if os.path.exists(sol) else ""
    bad = re.findall(r"Unrecognized parameter - ([^\s,]+)", log)  # cbcbox's build stops on it
    if bad:
        raise ValidationError(f"CBC ({exe}) has no option {bad[0]!r}", "solver_options")
    unknown = re.findall(r"No match for (\S+)", log)  # Debian's build ignores it
    lines = text.splitlines()
    head = lines[0].strip() if lines else ""
    run = CbcRun(cmd, log, head, _termination(head, log), unknown_options=unknown)
    mo = re.search(r"objective value\s+" + _NUM, head)
    if mo:
        run.objective = float(mo.group(1))
    key = "Lower bound:" if minimize else "Upper bound:"
    mb = re.search(re.escape(key) + r"\s*" + _NUM, log)
    if mb:
        # CBC prints its bound rounded (3 decimals in 2.10, 6 significant digits in cbcbox's build):
        # widened by one unit of the last printed digit it stays a valid bound; at "Optimal" a
        # printed bound that agrees with the objective to that precision is the objective
        printed, ulp = float(mb.group(1)), _last_digit(mb.group(1))
        if run.termination == "optimal" and math.isfinite(run.objective) and abs(printed - run.objective) <= ulp:
            run.bound = run.objective
        else:
            run.bound = printed - ulp if minimize else printed + ulp
    if "no integer solution" in head.lower() or "continuous used" in head.lower():
        return run, smap  # an LP point of the relaxation, not a solution
    for ln in lines[1:]:
        tok = ln.replace("**", " ").split()
        if len(tok) >= 3:
            try:
                run.values[tok[1]] = float(tok[2])
            except ValueError:
                continue
    return run, smap


def load_values(run: CbcRun, smap: Any) -> None:
    """Set every variable CBC reported (by the LP file's column names)."""
    for sym, obj in smap.bySymbol.items():
        if sym in run.values and getattr(obj, "is_variable_type", lambda: False)():
            obj.set_value(run.values[sym], skip_validation=True)
