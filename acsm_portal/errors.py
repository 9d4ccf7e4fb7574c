class ServiceError(Exception):
    """A refused action, with a message fit for the person; ``field`` names the form field it belongs to, if any.

    The one base of every service layer's errors (``AccountError``, ``CECError``, ``CprError``, ``CartError``,
    ``PaymentError``); views turn it into a form error or a message.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
