from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cecs.forms import CECForm

from .selectors import dashboard_for


@require_GET
def dashboard(request):
    today = timezone.localdate()
    board = dashboard_for(user=request.user, today=today)
    return render(request, "certifications/dashboard.html", {
        "board": board,
        "report_form": CECForm(),
        "learning_url": settings.ONLINE_LEARNING_PLATFORM_URL,
        "today": today,
    })
