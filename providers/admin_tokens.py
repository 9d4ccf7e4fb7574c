"""Provider API tokens in the staff admin (imported by ``providers/admin.py``).

A token is created here for a provider and a name: the plain token is shown once, in the message after saving,
and never again (only its prefix and hash are kept). The list and the token's page show the prefix, name,
provider, dates and whether it is revoked; revoking cannot be undone.
"""

from django.contrib import admin, messages
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from .models import ProviderToken
from .tokens import provider_token_issue

# The library's own keys are not used (a token belongs to a provider: ProviderToken); no empty list in the admin.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(ProviderToken)
class ProviderTokenAdmin(APIKeyModelAdmin):
    list_display = ("prefix", "name", "provider", "created", "expiry_date", "revoked")
    list_filter = ("revoked", "provider", "created")
    list_select_related = ("provider",)
    search_fields = ("prefix", "name", "provider__name", "provider__number")
    fields = ("provider", "name", "prefix", "created", "expiry_date", "revoked")

    def get_readonly_fields(self, request, obj=None):
        fields = ("prefix", "created", *super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ("provider",)  # a token belongs to one provider for good
        return tuple(dict.fromkeys(fields))

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        key = provider_token_issue(token=obj)
        messages.warning(request, f"The token for “{obj.name}” ({obj.provider}) is {key} — copy it now: it is shown "
                                  "this once and cannot be seen again.")
