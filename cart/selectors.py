from .models import CartLine


def renewals_in_cart(*, user) -> set[int]:
    """Ids of the certifications whose renewal is in the person's cart (one query)."""
    return set(
        CartLine.objects.filter(cart__user=user, kind=CartLine.Kind.RENEWAL).values_list("certification_id", flat=True)
    )
