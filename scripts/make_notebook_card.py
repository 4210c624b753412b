"""Write notebooks/card.ipynb (executed by tests/test_notebooks.py with SLOPT_FAST=1).

    python scripts/make_notebook_card.py [--execute]
"""

from nbtools import write


def md(src: str) -> tuple[str, str]:
    return ("md", src)


def code(src: str) -> tuple[str, str]:
    return ("code", src)


CELLS = [
    md("# CARD: cut layer and server frequency for split fine-tuning of an LLM\n\n"
       "Reproduction study of Li, Wu, Li, Zhang, *Energy-Efficient Split Learning for Fine-Tuning Large "
       "Language Models in Edge Networks* (arXiv:2412.00090) following the reconstructed specification "
       "`shared/papers/card-delay-energy.md`. Only the paper's structure and two headline numbers were "
       "recovered (70.8 % lower training delay, 53.1 % lower server energy, 5 devices); the system "
       "model, every parameter and the baselines are the spec's reconstruction, so the numbers below "
       "are properties of that model, not the paper's.\n\n"
       "Setting (spec §7): LLaMA-2-7B-like model (32 blocks, LoRA rank 8 on q and v, analytic profile "
       "`slopt.profiles.transformer`), b = 4, S = 256, I = 10 mini-batches per turn, 5 devices of "
       "2-10 TFLOP/s at 50-200 m, 20 MHz, Rayleigh fading per turn, server 0.21-1.41 GHz with "
       "2.21e5 FLOP/cycle and kappa = 1.4e-25. Under `SLOPT_FAST=1` (the tests) the horizon is 20 "
       "rounds instead of 200."),
    code("import os\n"
         "import warnings\n"
         "import numpy as np\n"
         "import pandas as pd\n"
         "import matplotlib.pyplot as plt\n"
         "from slopt.models import card as C\n"
         "warnings.simplefilter('ignore')\n"
         "FAST = os.environ.get('SLOPT_FAST') == '1'\n"
         "ROUNDS = 20 if FAST else 200\n"
         "inst = C.load(None, None, rounds=ROUNDS, seed=0)\n"
         "print(f'M = {inst.M} rounds, N = {inst.N} devices, L = {inst.L} blocks, cuts {inst.c_min}..{inst.L - 1}')"),
    md("## Mean delay and server energy per scheme\n\n"
       "CARD (`paper`) against the §8 baselines, all evaluated by the same `evaluate()`. Reductions are "
       "`1 - metric_CARD / metric_scheme` (per-turn means; per-round means give the same percentages)."),
    code("schemes = C.compare_schemes(inst)\n"
         "schemes.round(4)"),
    code("exact = C.exact(inst)\n"
         "paper = C.card(inst)\n"
         "print(f'CARD objective {paper.objective:.9f}, exact (CVXPY enumeration, {exact.solve.solver}) '\n"
         "      f'{exact.objective:.9f}, relative difference {abs(exact.objective - paper.objective) / paper.objective:.1e}')\n"
         "print(f'exact: status {exact.status}, certified bound {exact.solve.bound:.9f}, gap {exact.solve.gap:.1e}')\n"
         "print(f'CARD time {paper.seconds * 1e3:.2f} ms for {inst.M * inst.N} turns; exact {exact.seconds:.2f} s')"),
    md("## Our reductions next to the paper's headline numbers\n\n"
       "Reductions are `1 - metric_CARD / metric_baseline`. The paper's baseline is vanilla SL at the "
       "fixed cut L // 2 = 16 and f_max. The *best-tuned* vanilla SL keeps one fixed cut for every "
       "device and round and one frequency, both chosen for CARD's own objective J (`target='objective'`) "
       "or for the row's metric alone (`target=metric`: f_max for delay, f_min for energy)."),
    code("headline = C.headline_table(inst)\n"
         "f_star = paper.decision['f_star_hz']\n"
         "print(f'f* = {f_star / 1e9:.3f} GHz, f_max = {inst.f_max / 1e9:.2f} GHz; '\n"
         "      f'53.1 % would need f*/f_max = {np.sqrt(1 - 0.531):.3f}, ours is {f_star / inst.f_max:.3f}')\n"
         "pct = ['paper', 'vs_vanilla_sl', 'vs_tuned_for_objective', 'vs_tuned_for_metric', 'vs_adaptive_fmax']\n"
         "headline.style.format({c: '{:.1%}' for c in pct} | {'card': '{:.4g}', 'tuned_for_objective_freq_ghz': '{:.3f}',\n"
         "                                                  'tuned_for_metric_freq_ghz': '{:.3f}'}, na_rep='-')"),
    md("**Why the columns differ.** CARD's 76 % delay reduction comes from the cut, not from adapting it "
       "per turn: with identical blocks the objective is affine in c (spec §5.4), so CARD puts the cut "
       "after block 1 in every turn, which one fixed cut does as well. Vanilla SL at that cut and the "
       "same frequency *is* CARD (0 %), and tuned for delay alone (c = 1 at f_max) it is about 4 % "
       "faster than CARD, which gives up delay for energy. Tuned for energy alone (c = 31 at f_min) it "
       "spends almost no server energy and is eight times slower."),
    md("## Delay and server energy per scheme against the bandwidth\n\n"
       "Plot families 1 and 2 of spec §9: the same schemes while the (time-shared) band B^U = B^D sweeps "
       "5-80 MHz."),
    code("bw = [5e6, 10e6, 20e6, 40e6, 80e6]\n"
         "sweep = pd.concat([C.compare_schemes(C.load(None, None, rounds=ROUNDS, bandwidth_hz=b)).assign(bandwidth_mhz=b / 1e6)\n"
         "                   for b in bw], ignore_index=True)\n"
         "fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))\n"
         "for name, g in sweep.groupby('scheme'):\n"
         "    axes[0].plot(g.bandwidth_mhz, g.delay_s, 'o-', label=name)\n"
         "    axes[1].plot(g.bandwidth_mhz, g.server_energy_j, 'o-', label=name)\n"
         "for ax, lab in zip(axes, ['mean training delay per turn (s)', 'mean server energy per turn (J)']):\n"
         "    ax.set_xscale('log'); ax.set_xlabel('bandwidth (MHz)'); ax.set_ylabel(lab); ax.grid(alpha=0.3)\n"
         "axes[0].set_yscale('log'); axes[1].legend(fontsize=7)\n"
         "plt.tight_layout()\n"
         "plt.show()\n"
         "sweep.pivot_table(index='bandwidth_mhz', columns='scheme', values='delay_s').round(2)"),
    md("## Delay-energy trade-off (weighted-sum front)\n\n"
       "omega_E sweeps [1e-4, 1e-1] s/J with omega_T = 1 (spec §7). Each point is CARD's mean delay and "
       "server energy; the squares are the baselines at the default weights."),
    code("front = C.pareto_front(inst, omega_E=np.logspace(-4, -1, 12 if FAST else 25))\n"
         "ax = C.plot_pareto(front, schemes=schemes)\n"
         "ax.set_xscale('log')\n"
         "plt.tight_layout()\n"
         "plt.show()\n"
         "front[['omega_E', 'f_star_hz', 'delay_s', 'server_energy_j', 'mean_cut']].round(4)"),
    md("## Cut chosen per device over rounds\n\n"
       "In the §7 setting CARD puts the cut after block 1 for every device and round: with identical "
       "blocks the objective is affine in c (spec §5.4), and a 2-10 TFLOP/s device is far slower per "
       "FLOP than the server's effective cost (the threshold is F_n > g_s f° / 1.5 ≈ 150 TFLOP/s). "
       "To show adaptation to device and channel, the second panel uses edge-class devices of "
       "160-250 TFLOP/s (a setting of ours, not the paper's), where the cheaper side of the threshold "
       "changes with the turn's channel (adapter traffic grows with c)."),
    code("strong = C.load(None, None, rounds=ROUNDS, device_flops=[1.6e14, 1.8e14, 2.0e14, 2.2e14, 2.5e14])\n"
         "fig, axes = plt.subplots(1, 2, figsize=(11, 3.5), sharey=True)\n"
         "C.plot_cuts(paper, ax=axes[0]); axes[0].set_title('§7 setting (2-10 TFLOP/s devices)')\n"
         "strong_plan = C.card(strong)\n"
         "C.plot_cuts(strong_plan, ax=axes[1]); axes[1].set_title('edge-class devices (160-250 TFLOP/s)')\n"
         "plt.tight_layout()\n"
         "plt.show()\n"
         "pd.DataFrame(np.asarray(strong_plan.decision['cut'])).apply(lambda c: c.value_counts()).fillna(0).astype(int)"),
    md("## The per-turn exact method with progress\n\n"
       "The MISOCP (b) per turn with SCIP, on the first two rounds. Methods that solve many models log "
       "their progress (turns done, incumbent, bound, gap) through `logging` under `slopt.models.card`; "
       "`time_limit` is one budget for all solves."),
    code("import logging\n"
         "logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s', force=True)\n"
         "small = C.load(None, None, rounds=2, exact_formulation='misocp')\n"
         "per_turn = C.exact(small, time_limit=120)\n"
         "logging.getLogger('slopt').setLevel(logging.WARNING)\n"
         "print(per_turn.status, per_turn.solve.message)\n"
         "print(f'objective {per_turn.objective:.9f}, bound {per_turn.solve.bound:.9f}, CARD {C.card(small).objective:.9f}')"),
    md("## Variants: delay limit (C3), memory cap (C4), min-max (Tchebycheff)\n\n"
       "A per-turn delay limit forces a higher frequency on slow turns; a memory cap shrinks each cut "
       "set; the Tchebycheff objective balances omega_T T against omega_E E (with the default weights "
       "the delay term dominates and f = f_max)."),
    code("tab = C._cut_tables(inst)\n"
         "fastest = (C.freq_independent_delay_s(inst, tab) + tab['Gamma'] / inst.f_max).min(axis=-1)\n"
         "variants = {\n"
         "    'weighted (default)': inst,\n"
         "    'C3: T_max = slowest turn fastest x 1.001': inst.replace(t_max_s=float(fastest.max() * 1.001)),\n"
         "    'C4: 3 GB device memory': C.load(None, None, rounds=ROUNDS, device_memory_bytes=3e9),\n"
         "    'Tchebycheff, omega_E = 0.05': inst.replace(scalarisation='tchebycheff', omega_E=0.05),\n"
         "}\n"
         "pd.DataFrame([{'variant': k, **{m: C.card(v).metrics[m] for m in ('delay_s', 'server_energy_j', 'mean_cut', 'mean_freq_hz')}}\n"
         "              for k, v in variants.items()]).round(3)"),
    md("## Why our numbers differ from the paper's\n\n"
       "* **Everything but the structure is reconstructed.** The paper's equations, parameters, LLM and "
       "benchmark definitions were not recovered; the percentages depend on all of them.\n"
       "* **Delay.** Our ~76 % reduction (paper: 70.8 %) is against fixed-cut vanilla SL at f_max. It "
       "comes almost entirely from moving 15 blocks off slow devices (c = 16 -> 1); the spec notes a "
       "73-77 % range over seeds 0-19. Against adaptive cutting at f_max CARD is *slower* (it trades "
       "delay for energy); the paper's 70.8 % must be against a fixed-cut scheme.\n"
       "* **Energy.** With the same cut, the saving is exactly 1 - (f*/f_max)^2 (claim 7). The §7 weights "
       "give f* ≈ 0.997 GHz, so 50.0 % against adaptive-cut-at-f_max, versus the paper's 53.1 % "
       "(which would need f*/f_max ≈ 0.685, i.e. slightly larger omega_E). Against vanilla SL the "
       "saving is only ~3 %, because CARD's cut after block 1 leaves 31 blocks on the server instead "
       "of 16 and so uses more server cycles, partly cancelling the lower frequency.\n"
       "* **No interior cuts.** Identical blocks make the objective affine in c (§5.4), so CARD's cut "
       "is always an end of the cut set; the paper's figures of cut adaptation probably come from a "
       "non-uniform profile or a memory limit.\n"
       "* **Unknowns that shift the numbers:** the iterations per turn I, adapter traffic, the "
       "backward/forward ratio, the LM head cost (neglected here, < 5 %), and the weights."),
]

if __name__ == "__main__":
    write(CELLS, "card")
