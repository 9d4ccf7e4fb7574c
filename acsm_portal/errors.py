class FieldError(Exception):
    """A refused action with a message fit for the person; ``field`` names the form field it belongs to, if any.

    Each app's service layer raises its own subclass; views turn it into a form error or a message.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
