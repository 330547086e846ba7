"""The supervisors' web dashboard (``web/``) and the Grafana dashboards (``grafana/``), installed as the package
data ``onestop_dashboards`` (see setup.py); the hub serves ``web/`` found through
``importlib.resources.files("onestop_dashboards")``."""
