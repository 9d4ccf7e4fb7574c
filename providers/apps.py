from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self):
        from . import middleware  # noqa: F401  (connects the log-in receiver that marks provider users' sessions)
