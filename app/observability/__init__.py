"""Operations: structured logs with request and job ids, and Prometheus metrics."""
