"""slopt: optimisation models, the papers' algorithms and exact baselines for split learning.

Project-wide conventions (``docs/conventions.md``): a FLOP counts a multiply-add as **two**
FLOP; sizes are bytes (bits only inside rate computations); time in seconds, energy in joules,
power in watts, frequencies in Hz.
"""

from slopt.errors import InfeasibleError, SloptError, SolverNotAvailable, ValidationError
from slopt.plan import Plan
from slopt.profiles import ModelGraph
from slopt.scenarios import Channel, Device, Link, Scenario, Server
from slopt.solvers import SolveResult, available_solvers, solve

__version__ = "0.1.0"

__all__ = ["ModelGraph", "Scenario", "Device", "Server", "Channel", "Link", "Plan", "SolveResult",
           "solve", "available_solvers", "SloptError", "ValidationError", "InfeasibleError",
           "SolverNotAvailable", "__version__"]
