"""The breaker (internal): CircuitBreaker, its call paths, fast path, guard and argument checks."""
