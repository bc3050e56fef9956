"""The shared base of failover's runtime (internal): strict JSON, the library's redacted loggers
and the names its OpenTelemetry signals carry."""
