from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the user demo (password demo) if missing; `make run` calls it."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(username="demo").exists():
            return
        User.objects.create_user("demo", password="demo")
        self.stdout.write("created user demo (password demo)")
