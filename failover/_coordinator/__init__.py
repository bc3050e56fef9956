"""The coordinator (internal): slots and admission, the plan of a request, hedging, streaming,
timeouts, health checks, fleet changes and the decision trace."""
