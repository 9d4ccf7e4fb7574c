from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from acsm_portal import clock

from .forms import CECForm
from .models import CECEntry
from .rules import format_cecs
from .services import CECError, cec_delete, cec_report, cec_update


@require_http_methods(["GET", "POST"])
def report(request):
    form = CECForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = cec_report(user=request.user, data=form.to_input(), today=clock.today_for(request.user))
        except CECError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, f"Reported {format_cecs(entry.cecs)} CECs for “{entry.course_name}”.")
            return redirect("dashboard")
    return render(request, "cecs/report.html", {"form": form})


@require_http_methods(["GET", "POST"])
def edit(request, pk: int):
    entry = get_object_or_404(CECEntry, pk=pk, user=request.user)
    form = CECForm(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        try:
            entry = cec_update(entry=CECEntry.objects.get(pk=pk), data=form.to_input(), today=clock.today_for(request.user))
        except CECError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, f"Updated “{entry.course_name}”.")
            return redirect("dashboard")
    return render(request, "cecs/report.html", {"form": form, "entry": entry})


@require_http_methods(["GET", "POST"])
def delete(request, pk: int):
    entry = get_object_or_404(CECEntry, pk=pk, user=request.user)
    if request.method == "POST":
        try:
            cec_delete(entry=entry, today=clock.today_for(request.user))
        except CECError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Deleted “{entry.course_name}”.")
        return redirect("dashboard")
    return render(request, "cecs/delete.html", {"entry": entry})
