import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"certificant{n}@example.com")
    first_name = "Jordan"
    last_name = factory.Sequence(lambda n: f"Lee{n}")
    member_id = factory.Sequence(lambda n: f"{200000 + n}")
    password = factory.django.Password("correct-horse-battery")
