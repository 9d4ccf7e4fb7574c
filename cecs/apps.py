from django.apps import AppConfig


class CECsConfig(AppConfig):
    name = "cecs"
    verbose_name = "CECs"
