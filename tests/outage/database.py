"""Stopping the database for a test: the real connection pointed at a port where nothing listens."""

import socket
from contextlib import contextmanager
from html.parser import HTMLParser

from django.db import connections


def closed_port() -> int:
    """A local port nothing listens on: taken from the system, then let go."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def database_down():
    """While inside, every new connection to the default database is refused, as when Postgres has stopped.

    The settings are shared by every thread's connection (the live server's too), so requests from any
    thread find the database gone; this thread's own connection is closed so that it reconnects as well.
    Needs a transactional test (a connection closed inside a test's transaction cannot come back).
    On leaving, the port is put back and the connection closed, so the next query reconnects for real.
    """
    connection = connections["default"]
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = closed_port()
    try:
        yield
    finally:
        connection.settings_dict["PORT"] = port
        connection.close()


class FormReader(HTMLParser):
    """The forms of a page: each one's method, action and fields (name, value, type), in page order."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"method": attrs.get("method", "get"), "action": attrs.get("action"),
                               "enctype": attrs.get("enctype"), "fields": []})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"].append((attrs["name"], attrs.get("value", ""), attrs.get("type", "text")))
