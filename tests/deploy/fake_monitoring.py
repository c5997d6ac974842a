"""A stand-in for Cloud Monitoring's MetricService on loopback, speaking its gRPC wire format:
it keeps the metric descriptors and time series the exporter writes, as protobuf messages."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.api import metric_pb2  # type: ignore[import-untyped]
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.metric_service.transports import (
    MetricServiceGrpcTransport,
)

SERVICE = "google.monitoring.v3.MetricService"


class FakeMetricService:
    def __init__(self) -> None:
        self.descriptors: dict[str, metric_pb2.MetricDescriptor] = {}
        self.series: list[monitoring_v3.TimeSeries] = []

    def create_metric_descriptor(
        self, request: monitoring_v3.CreateMetricDescriptorRequest, context: Any
    ) -> metric_pb2.MetricDescriptor:
        descriptor = request.metric_descriptor
        self.descriptors[descriptor.type] = descriptor
        return descriptor

    def create_time_series(
        self, request: monitoring_v3.CreateTimeSeriesRequest, context: Any
    ) -> None:
        self.series.extend(request.time_series)

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "CreateMetricDescriptor": grpc.unary_unary_rpc_method_handler(
                    self.create_metric_descriptor,
                    request_deserializer=monitoring_v3.CreateMetricDescriptorRequest.deserialize,
                    response_serializer=metric_pb2.MetricDescriptor.SerializeToString,
                ),
                "CreateTimeSeries": grpc.unary_unary_rpc_method_handler(
                    self.create_time_series,
                    request_deserializer=monitoring_v3.CreateTimeSeriesRequest.deserialize,
                    response_serializer=lambda _: b"",  # google.protobuf.Empty
                ),
            },
        )


@contextmanager
def fake_cloud_monitoring() -> Iterator[
    tuple[FakeMetricService, monitoring_v3.MetricServiceClient]
]:
    """The fake, serving on 127.0.0.1, and a MetricServiceClient connected to it."""
    fake = FakeMetricService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((fake.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield (
            fake,
            monitoring_v3.MetricServiceClient(
                transport=MetricServiceGrpcTransport(channel=channel)
            ),
        )
    finally:
        channel.close()
        server.stop(grace=None)
