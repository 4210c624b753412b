"""Regenerate the synthetic profiles shipped in data/profiles/ (chain, residual_chain, inception)."""

from pathlib import Path

from slopt.profiles import synthetic, write

OUT = Path(__file__).resolve().parents[1] / "data" / "profiles"

if __name__ == "__main__":
    for g in (synthetic.chain(), synthetic.residual_chain(), synthetic.inception()):
        print(write(g, OUT / f"{g.name}.json"), g)
