//! Operations: readiness, metrics, logs, shutdown, web-only processes.
