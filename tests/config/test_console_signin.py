"""Signing in to the console: lockout after five failures (per account, per address) and TOTP two-factor."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.signin import client_address

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-password-1"


def operator(username: str, role: str | None = None):
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def sign_in(client: Client, username: str, password: str = PASSWORD, otp_token: str = "", address: str = "10.0.0.1"):
    return client.post(reverse("admin:login"), {"username": username, "password": password, "otp_token": otp_token,
                                                "next": reverse("admin:index")}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def code_of(device: TOTPDevice) -> str:
    return str(TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()).zfill(device.digits)


def test_five_failed_sign_ins_lock_the_account_even_with_the_right_password():
    operator("kefu1", "客服")
    client = Client()
    for _ in range(4):
        assert sign_in(client, "kefu1", "wrong-password").status_code == 200  # the form again, with its error
    fifth = sign_in(client, "kefu1", "wrong-password")

    locked = sign_in(client, "kefu1", address="10.0.0.2")  # another address: the account itself is locked

    assert fifth.status_code == locked.status_code == 429
    assert "登录失败次数过多" in locked.content.decode()
    assert not signed_in(client)


def test_four_failures_then_the_right_password_signs_in_and_starts_the_count_again():
    operator("kefu1", "客服")
    client = Client()
    for _ in range(4):
        sign_in(client, "kefu1", "wrong-password")

    assert sign_in(client, "kefu1").status_code == 302
    assert signed_in(client)


def test_five_failures_from_one_address_lock_that_address_for_every_account():
    operator("cangku1", "仓库")
    client = Client()
    for n in range(5):
        sign_in(client, f"guess{n}", "wrong-password", address="10.9.9.9")

    assert sign_in(client, "cangku1", address="10.9.9.9").status_code == 429
    assert sign_in(client, "cangku1", address="10.0.0.3").status_code == 302


def test_a_finance_operator_with_two_factor_cannot_sign_in_without_the_code():
    user = operator("caiwu1", "财务")
    device = TOTPDevice.objects.create(user=user, name="身份验证器", confirmed=True)
    client = Client()

    without = sign_in(client, "caiwu1")
    assert without.status_code == 200 and "请填写身份验证器上的 6 位动态验证码" in without.content.decode()
    assert not signed_in(client)

    assert sign_in(client, "caiwu1", otp_token=code_of(device)).status_code == 302
    assert signed_in(client)


def test_a_wrong_code_is_refused():
    user = operator("caiwu1", "财务")
    device = TOTPDevice.objects.create(user=user, name="身份验证器", confirmed=True)
    client = Client()

    wrong = sign_in(client, "caiwu1", otp_token="000000" if code_of(device) != "000000" else "111111")

    assert wrong.status_code == 200 and "动态验证码不正确" in wrong.content.decode()
    assert not signed_in(client)


def test_wrong_codes_count_towards_the_lockout():
    user = operator("caiwu1", "财务")
    TOTPDevice.objects.create(user=user, name="身份验证器", confirmed=True)
    client = Client()
    for _ in range(5):
        sign_in(client, "caiwu1", otp_token="000000")

    assert sign_in(client, "caiwu1", otp_token="123456").status_code == 429


def test_a_finance_operator_turns_two_factor_on_with_the_first_code():
    user = operator("caiwu1", "财务")
    client = Client()
    client.force_login(user)

    enrol = client.get(reverse("console-two-factor"))
    assert enrol.status_code == 200 and "<svg" in enrol.content.decode()
    pending = TOTPDevice.objects.get(user=user)
    assert not pending.confirmed
    assert client.post(reverse("console-two-factor"), {"token": code_of(pending)}).status_code == 302

    assert TOTPDevice.objects.get(user=user).confirmed
    assert "两步验证已开启" in client.get(reverse("console-two-factor")).content.decode()


def test_two_factor_is_offered_to_money_roles_only():
    service = Client()
    service.force_login(operator("kefu1", "客服"))
    finance = Client()
    finance.force_login(operator("caiwu1", "财务"))

    assert service.get(reverse("console-two-factor")).status_code == 403
    assert "两步验证" not in service.get(reverse("admin:index")).content.decode()
    assert reverse("console-two-factor") in finance.get(reverse("admin:index")).content.decode()


def test_an_unconfirmed_device_does_not_stand_in_the_way_of_signing_in():
    user = operator("caiwu1", "财务")
    TOTPDevice.objects.create(user=user, name="身份验证器", confirmed=False)

    assert sign_in(Client(), "caiwu1").status_code == 302


def test_the_locked_address_is_the_clients_behind_the_trusted_proxy(settings, rf):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    behind_nginx = rf.post("/admin/login/", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7", REMOTE_ADDR="10.0.0.1")

    assert client_address(behind_nginx) == "198.51.100.7"  # what nginx saw, not what the client claimed
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    assert client_address(behind_nginx) == "10.0.0.1"
