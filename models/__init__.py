"""One module per paper problem, imported as ``slopt.models.<name>``.

Each module registers itself with :func:`slopt.problems.register`; ``slopt.problems.problems()``
discovers them all. Module surface: ``build(...)`` (the explicit formulation), ``evaluate(...)``
(the paper's metrics for any decision), the paper's algorithm, ``exact(...)`` and baselines.
"""
