def axes_username(request, credentials) -> str:
    """Lock out by the email as the person means it, whatever its case or spaces."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return username.strip().lower()
