"""Sinks that copy the record to other systems (InfluxDB), catching up from the record after any outage."""
