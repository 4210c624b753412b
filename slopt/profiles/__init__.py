"""Model profiles: :class:`ModelGraph` and its loaders.

``read``/``write`` handle the JSON form shipped in ``data/profiles/``; ``synthetic`` builds small
test models. Loaders from PyTorch and ONNX and the analytic transformer profile live in their own
modules and are imported lazily (torch and onnx are optional extras).
"""

from slopt.profiles.graph import COLUMNS, UNITS, ModelGraph
from slopt.profiles.io import from_dict, load_shipped, read, shipped, to_dict, write

__all__ = ["ModelGraph", "COLUMNS", "UNITS", "read", "write", "to_dict", "from_dict",
           "shipped", "load_shipped"]
