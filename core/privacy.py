"""Masking personal information that must be kept (orders during their legal retention).

What a masked record still shows is what customer service needs to recognise it with the member
on the phone ("张** 139****1111, 广东省深圳市"), and not enough to find the person.
"""

from __future__ import annotations


def mask_name(name: str) -> str:
    """"张三丰" → "张**": the first character and two stars, whatever the length; "" stays ""."""
    name = (name or "").strip()
    return f"{name[0]}**" if name else ""


def mask_phone(phone: str) -> str:
    """"13912341111" → "139****1111": the first three and last four digits of a mobile number.

    A number too short to keep seven digits of (a landline extension, junk) becomes "****".
    Masking a masked number returns it unchanged.
    """
    phone = (phone or "").strip()
    if not phone:
        return ""
    if len(phone) < 8:
        return "****"
    return f"{phone[:3]}****{phone[-4:]}"
