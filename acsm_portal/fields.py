"""The one form field for every decimal a person, a client or staff can send (CECs, amounts, totals, admin fields).

Django's ``DecimalField`` already refuses ``NaN``, ``sNaN`` and ``Infinity``, but takes exponent notation
(``1e3`` becomes ``1E+3``) and input of any length. ``FiniteDecimalField`` takes only plain numbers, such as
``12.5``, ``-3`` or ``.75``, in at most ``MAX_INPUT_LENGTH`` characters, and hands back a finite ``Decimal`` with
the field's decimal places (``" 12.5 "`` becomes ``Decimal("12.50")``). Anything else is a form error, never a
500. Model forms get it through ``finite_decimal_formfield`` (``Meta.formfield_callback``) and the admin through
``FiniteDecimalAdminMixin``.
"""

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.db import models

MAX_INPUT_LENGTH = 20
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


class FiniteDecimalField(forms.DecimalField):
    default_error_messages = {
        "invalid": "Enter a number such as 12.5.",
        "too_long": f"Enter a number of at most {MAX_INPUT_LENGTH} characters, such as 12.5.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal | int):
            if isinstance(value, Decimal) and not value.is_finite():
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            return super().to_python(value)
        text = str(value).strip()
        if len(text) > MAX_INPUT_LENGTH:
            raise forms.ValidationError(self.error_messages["too_long"], code="too_long")
        if not PLAIN_NUMBER.fullmatch(text) or not text.isascii():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(text)

    def clean(self, value):
        value = super().clean(value)
        if value is not None and self.decimal_places is not None:
            try:
                value = value.quantize(Decimal(1).scaleb(-self.decimal_places))
            except InvalidOperation:  # more digits than the context holds; the validators said so already
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        return value


def finite_decimal_formfield(db_field, **kwargs):
    """``Meta.formfield_callback`` for model forms: decimal columns get ``FiniteDecimalField``."""
    if isinstance(db_field, models.DecimalField):
        kwargs.setdefault("form_class", FiniteDecimalField)
    return db_field.formfield(**kwargs)


class FiniteDecimalAdminMixin:
    """Every decimal column a ModelAdmin (its change form, its list_editable changelist) edits is a
    ``FiniteDecimalField``."""

    formfield_overrides = {models.DecimalField: {"form_class": FiniteDecimalField}}
