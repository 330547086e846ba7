"""The ONNX models and their cards, installed as the package data ``onestop_models`` (see setup.py).

Code finds them with ``importlib.resources.files("onestop_models")``, in a checkout and in an installed wheel
alike; the recipes in ``recipes/`` stay in the repository."""
