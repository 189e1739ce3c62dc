"""Members: identity and profile, addresses, loyalty (tiers), tags and segments."""

from .identity import Address, Gender, Member, MemberToken
from .segments import MemberTag, Segment, SegmentMember, Tag
from .tiers import Tier

__all__ = ["Address", "Gender", "Member", "MemberTag", "MemberToken", "Segment", "SegmentMember", "Tag", "Tier"]
