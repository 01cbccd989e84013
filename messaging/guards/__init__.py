"""Guards around what can fail or be abused: circuit breakers (SMTP, the channel layer) and rate limits."""
