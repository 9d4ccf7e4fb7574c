from django.apps import AppConfig, apps
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save


class CertificationsConfig(AppConfig):
    name = "certifications"
    verbose_name = "Certifications"

    def ready(self):
        from . import dashboard_cache as dc

        for label in dc.OWNED:
            model = apps.get_model(label)
            pre_save.connect(dc.owned_before_save, sender=model, dispatch_uid=f"dashboard.pre_save.{label}")
            post_save.connect(dc.owned_after_save, sender=model, dispatch_uid=f"dashboard.post_save.{label}")
            pre_delete.connect(dc.owned_before_delete, sender=model, dispatch_uid=f"dashboard.pre_delete.{label}")
        for label in dc.REFERENCE:
            model = apps.get_model(label)
            post_save.connect(dc.reference_saved_or_deleted, sender=model, dispatch_uid=f"dashboard.save.{label}")
            post_delete.connect(dc.reference_saved_or_deleted, sender=model, dispatch_uid=f"dashboard.delete.{label}")
