from django.urls import path

from . import views

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/renew/<int:certification_id>/", views.renew, name="cart_renew"),
    path("cart/remove/<int:certification_id>/", views.remove, name="cart_remove"),
]
