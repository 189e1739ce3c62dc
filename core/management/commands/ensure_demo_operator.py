"""Create the demo operator (a superuser) for `make run`, with a password generated once.

The password is stored in var/demo_operator_password (mode 600) and printed, so the person who
ran `make run` can log in to /admin/. It is never reset behind the operator's back: if the user
exists and the file is there, nothing changes. Production creates operators with
`createsuperuser`, not with this.

The demo's role operators (kefu 客服, caiwu 财务, cangku 仓库, yunying 运营: shop.demo.aftersales), made
without a password by the demo loader, get the same password, so each role's console can be tried.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


def password_file() -> Path:
    return Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var")) / "demo_operator_password"


class Command(BaseCommand):
    help = "Create the demo operator superuser (password generated once, kept under var/)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        path = password_file()
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is not None and path.exists():
            self.stdout.write(f"operator {username} exists; password in {path}")
            self._role_operators(path.read_text().strip())
            return
        password = path.read_text().strip() if path.exists() else secrets.token_urlsafe(12)
        if user is None:
            user_model.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"created operator {username}")
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write(f"reset the password of operator {username}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password + "\n")
        path.chmod(0o600)
        self.stdout.write(f"password stored in {path}")
        self._role_operators(password)

    def _role_operators(self, password: str) -> None:
        for user in get_user_model().objects.filter(is_staff=True, is_superuser=False, groups__isnull=False).distinct():
            if not user.has_usable_password():
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(f"role operator {user.get_username()} has the same password")
