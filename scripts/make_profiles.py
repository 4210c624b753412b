"""Regenerate the shipped profiles of real architectures in ``data/profiles/``.

Every profile is built from code with random weights on the ``meta`` device (nothing is
downloaded or allocated) and measured by ``slopt.profiles.from_torch``; the ``*-analytic``
transformer chains come from ``slopt.profiles.transformer``. Each JSON carries its provenance
(tool, versions, input shape).

    python scripts/make_profiles.py            # all
    python scripts/make_profiles.py vgg11 gpt2 # some
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slopt.profiles import write  # noqa: E402
from slopt.profiles.zoo import make  # noqa: E402

#: shipped file stem -> zoo model name
SHIPPED = {
    "vgg11": "vgg11",
    "resnet18": "resnet18",
    "resnet50": "resnet50",
    "googlenet": "googlenet",
    "densenet121": "densenet121",
    "vit_b16": "vit-b16",
    "gpt2": "gpt2",
    "gpt2_medium": "gpt2-medium",
    "llama2_7b": "llama2-7b",
    "llama2_7b_analytic": "llama2-7b-analytic",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help=f"file stems among {list(SHIPPED)} (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "profiles")
    ns = ap.parse_args(argv)
    for stem in ns.names or list(SHIPPED):
        if stem not in SHIPPED:
            ap.error(f"unknown profile {stem!r}; choose among {list(SHIPPED)}")
        t0 = time.perf_counter()
        g = make(SHIPPED[stem])
        g.provenance["generated_by"] = "scripts/make_profiles.py"
        path = write(g, ns.out / f"{stem}.json")
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {g.n} vertices, "
              f"{g.m} edges, {g.forward_flop.sum() / 1e9:.3f} GFLOP forward/sample, "
              f"{g.param_bytes.sum() / 1e6:.1f} MB params, {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
