"""Reports that decide: period figures, the annual staff evaluation, Decision 766 points, demand forecasts
and staffing (Erlang C).

Everything here reads the record through its own read-only connection (``hub.reports.record``), so the hub
keeps ingesting while a report is computed. Heavy lifting is SQL aggregates plus numpy; the definitions of
every figure are those of ``hub.figures`` (percentile type 7, share within the target in force on each day).
"""
