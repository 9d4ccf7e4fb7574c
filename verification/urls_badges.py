"""URLs of the verification app (filled by its module)."""

urlpatterns = []
