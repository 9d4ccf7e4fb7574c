"""An order's or a payment's ``state`` is written only by ``order_transition`` and ``payment_transition``
(payments/services.py), which lock the row, log the move and refuse an illegal one; a refund's, only by
``_refund_move`` (payments/refunds.py), on a row its caller holds locked.

The scan reads the syntax tree of every module of the payments app and of every other app module that imports
from it (tests and migrations aside), so a CPR card's or a cycle's own ``state`` in the certifications app is
not its business. A failure names each offending line as ``path:line``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
APPS = ("accounts", "cecs", "certifications", "cart", "payments", "acsm_portal")
TRANSITIONS = {("payments/services.py", "order_transition"), ("payments/services.py", "payment_transition"),
               ("payments/refunds.py", "_refund_move")}  # a refund's own state: pending → succeeded or failed
CREATORS = {"create", "get_or_create", "update_or_create", "bulk_create"}
MODELS = {"Order", "Payment"}


def _imports_payments(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "payments":
            return True
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "payments" for alias in node.names):
            return True
    return False


def scanned_files() -> list[Path]:
    """Every module of the payments app, and every other app module that imports from it."""
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = set(path.relative_to(ROOT).parts)
            if {"migrations", "__pycache__", ".venv"} & parts:
                continue
            if app == "payments" or _imports_payments(ast.parse(path.read_text(encoding="utf-8"))):
                found.append(path)
    return found


def _strings(node: ast.AST) -> set[str]:
    """The string constants of a list, tuple or set display (``["state", "paid_at"]``)."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return {x.value for x in node.elts if isinstance(x, ast.Constant) and isinstance(x.value, str)}
    return set()


def _has_state_key(call: ast.Call) -> bool:
    """``state=...`` among the keywords, or ``"state"`` as a key of a ``**{...}`` or ``defaults={...}``."""
    for keyword in call.keywords:
        if keyword.arg == "state":
            return True
        if keyword.arg in (None, "defaults", "create_defaults") and isinstance(keyword.value, ast.Dict):
            if any(isinstance(k, ast.Constant) and k.value == "state" for k in keyword.value.keys):
                return True
    return False


def _model_name(node: ast.AST) -> str:
    """``Order`` for ``Order``, ``Order.objects`` or ``Order.objects.filter(...)``, and so on; else ``""``."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return ""


def _dict_names(function: ast.AST) -> set[str]:
    """Names bound to a plain dict in ``function`` (``initial = {...}``): their ``.update(state=...)`` is a
    billing address's state, not a row's."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and (
            isinstance(node.value, (ast.Dict, ast.DictComp))
            or (isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                and node.value.func.id == "dict")
        ):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Assign):
        found = []
        for target in node.targets:
            found += target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
        return found
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    return []


def state_writes(source: str, path: str = "<sample>") -> list[int]:
    """The line numbers of ``source`` (numbered from 1) that write a ``state`` field, outside the two
    transition functions of payments/services.py: ``x.state = ...`` (alone or in a tuple), ``setattr(x, "state",
    ...)``, ``.update(state=...)`` on anything but a plain dict, ``save(update_fields=[..."state"...])``,
    ``bulk_update(rows, [..."state"...])``, and an ``Order`` or ``Payment`` made or created with a ``state``."""
    tree = ast.parse(source)
    lines: set[int] = set()

    def visit(node: ast.AST, dicts: set[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if (path, node.name) in TRANSITIONS:
                return
            dicts = dicts | _dict_names(node)
        for target in _targets(node):
            if isinstance(target, ast.Attribute) and target.attr == "state":
                lines.add(target.lineno)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "setattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                    and node.args[1].value == "state":
                lines.add(node.lineno)
            if name == "update" and _has_state_key(node):
                receiver = func.value if isinstance(func, ast.Attribute) else None
                if not (isinstance(receiver, ast.Name) and receiver.id in dicts):
                    lines.add(node.lineno)
            if name in ("save", "bulk_update"):
                fields = [k.value for k in node.keywords if k.arg in ("update_fields", "fields")]
                if name == "bulk_update" and len(node.args) >= 2:
                    fields.append(node.args[1])
                if any("state" in _strings(f) for f in fields):
                    lines.add(node.lineno)
            if (name in MODELS or (name in CREATORS and _model_name(func) in MODELS)) and _has_state_key(node):
                lines.add(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, dicts)

    visit(tree, set())
    return sorted(lines)


def test_order_and_payment_states_change_only_through_their_transitions():
    offenders = []
    for path in scanned_files():
        relative = str(path.relative_to(ROOT))
        text = path.read_text(encoding="utf-8")
        source_lines = text.splitlines()
        offenders += [f"{relative}:{n}: {source_lines[n - 1].strip()}" for n in state_writes(text, relative)]
    assert offenders == [], (
        "Change an order's or a payment's state with payments.services.order_transition / payment_transition:\n"
        + "\n".join(offenders)
    )


def test_the_scan_reads_the_payments_app_and_its_importers_only():
    scanned = {str(path.relative_to(ROOT)) for path in scanned_files()}
    for expected in ("payments/services.py", "payments/admin.py", "payments/webhooks.py", "payments/tasks.py",
                     "payments/views.py"):
        assert expected in scanned
    assert any(not name.startswith("payments/") for name in scanned)  # the demo data builder imports Order
    # Cycles and CPR cards have states of their own, written by their own services.
    assert "certifications/renewals.py" not in scanned
    assert not any(name.startswith(("tests/", "certifications/cpr/")) or "/migrations/" in name
                   for name in scanned)


@pytest.mark.parametrize(("source", "imports"), [
    ("from payments.models import Order", True),
    ("import payments.services", True),
    ("def build():\n    from payments.models import Order, Payment\n", True),
    ("from certifications.models import Cycle, CprUpload", False),
    ("from .models import Order", False),  # inside the payments app, which is read whole anyway
    ('INSTALLED_APPS = ["payments"]', False),
])
def test_an_app_module_is_read_when_it_imports_from_payments(source, imports):
    assert _imports_payments(ast.parse(source)) is imports


def test_the_two_transitions_are_the_writers_it_allows():
    """The transitions do write ``state``: the patterns match real code when the exemption is lifted."""
    text = (ROOT / "payments/services.py").read_text(encoding="utf-8")
    assert state_writes(text, "payments/services.py") == []
    lines = text.splitlines()
    assert [lines[n - 1].strip() for n in state_writes(text, "elsewhere.py")] == [
        "order.state = to",
        'order.save(update_fields=["state", *fields])',
        "payment.state = to",
    ]


@pytest.mark.parametrize("line", [
    'order.state = Order.State.PAID',
    'order.state, order.paid_at = Order.State.PAID, clock.now()',
    'payment.state: str = "failed"',
    'setattr(order, "state", "paid")',
    'Order.objects.filter(pk=order_id).update(state=Order.State.REFUNDED)',
    'order.payments.filter(state="created").update(state="canceled", state_changed_by="replaced")',
    'pending = Order.objects.filter(user=user)\npending.update(state="canceled")',
    'Payment.objects.filter(pk=1).update(**{"state": "failed"})',
    'order.save(update_fields=["state", "paid_at"])',
    'payment.save(update_fields=("state",))',
    'Order.objects.bulk_update(orders, ["state"])',
    'Payment.objects.bulk_update(payments, fields=["state", "failure_message"])',
    'Order.objects.create(user=user, number="R27-000001", total=0, state="paid")',
    'Payment(order=order, amount=1, state="succeeded").save()',
    'Order.objects.update_or_create(number="R27-000001", defaults={"state": "paid"})',
])
def test_a_state_write_is_named_by_its_line(line):
    source = "def f(order, orders, payments, user):\n    x = 1\n" + "".join(f"    {x}\n" for x in line.split("\n"))
    assert state_writes(source, "payments/services.py") == [2 + len(line.split("\n"))]


@pytest.mark.parametrize("line", [
    'if order.state == Order.State.PAID: pass',
    'assert payment.state != "failed"',
    'Order.objects.filter(state=Order.State.PENDING).update(receipt_emailed_at=None)',
    'order.save(update_fields=["billing_state", "billing_city"])',
    'order.billing_state = billing.state',
    'initial = {"name": name}\ninitial.update(city=address.city, state=address.state)',
    'BillingInput(name="J", line1="1", line2="", city="I", state="IN", postal_code="4", country="US")',
    'Cycle.objects.create(certification=c, start=s, end=e, state=Cycle.State.RENEWED)',
    'order_transition(order_id=order.pk, to=Order.State.PAID, actor="stripe", paid_at=now)',
])
def test_reading_a_state_or_writing_another_field_is_not_a_state_write(line):
    source = "def f(order, payment, billing, address, name, c, s, e, now):\n" + "".join(
        f"    {x}\n" for x in line.split("\n"))
    assert state_writes(source, "payments/services.py") == []
