"""DRF shapes of WeChat's own payloads that our API hands to the mini-program."""

from __future__ import annotations

from rest_framework import serializers


class RequestPaymentParams(serializers.Serializer):
    """The parameters of wx.requestPayment(), exactly as WeChat names them."""

    appId = serializers.CharField()
    timeStamp = serializers.CharField()
    nonceStr = serializers.CharField()
    package = serializers.CharField()
    signType = serializers.CharField()
    paySign = serializers.CharField()
