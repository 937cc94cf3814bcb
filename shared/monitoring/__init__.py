"""Read-outs for operators: installation health and schedule gauges."""
