"""OpenTelemetry for the coordinator (internal): traced requests, their spans' attributes and
their gen_ai metrics."""
