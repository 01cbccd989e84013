from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The benchmark, the operations drill and their data: management commands only, no models."""

    name = "bench"
    verbose_name = "LinkUp benchmark"
