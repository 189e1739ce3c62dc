"""The campaigns console, one module per area; importing them registers the admins."""

from campaigns.admin import activities, channels, codes, coupons, targeted

__all__ = ["activities", "channels", "codes", "coupons", "targeted"]

from campaigns.admin import gift_packs  # 会员卡每月礼包

__all__ += ["gift_packs"]

from campaigns.admin import points_mall  # noqa: E402

__all__ += ["points_mall"]

from campaigns.admin import greetings  # noqa: E402  生日 / 注册纪念日祝福

__all__ += ["greetings"]

from campaigns.admin import distribution, distributors, withdrawals  # noqa: E402  分销

__all__ += ["distribution", "distributors", "withdrawals"]

from campaigns.admin import bargain, groupbuy, sharing  # noqa: E402  砍价, 拼团, 分享与邀请

__all__ += ["bargain", "groupbuy", "sharing"]
