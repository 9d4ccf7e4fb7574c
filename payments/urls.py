from django.urls import path

from . import views

urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/payments/<int:payment_id>/charge/", views.charge, name="payment_charge"),
    path("checkout/payments/<int:payment_id>/refresh/", views.refresh, name="payment_refresh"),
    path("orders/<str:number>/receipt/", views.receipt, name="receipt"),
    path("orders/<str:number>/receipt.pdf", views.receipt_download, name="receipt_pdf"),
    path("payments/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
