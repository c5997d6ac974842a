"""OpenTelemetry: the Tracer and Meter ports, exporters chosen by PIPELINE_TRACING."""
