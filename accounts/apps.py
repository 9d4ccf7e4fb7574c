from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from .auth import user_forget

        user = self.get_model("User")
        post_save.connect(user_forget, sender=user, dispatch_uid="accounts.user_forget.save")
        post_delete.connect(user_forget, sender=user, dispatch_uid="accounts.user_forget.delete")
