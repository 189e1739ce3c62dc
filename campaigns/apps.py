from django.apps import AppConfig

from payments.registry import register_transfer_kind


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "营销活动"

    def ready(self) -> None:
        from campaigns.models.withdrawals import WITHDRAWAL_TRANSFER_KIND  # noqa: PLC0415 - models load only once the app registry is ready
        from campaigns.services.withdrawals import (  # noqa: PLC0415 - services load models: the app registry is ready only now
            withdrawal_on_transfer_failed,
            withdrawal_on_transfer_succeeded,
        )

        register_transfer_kind(WITHDRAWAL_TRANSFER_KIND, withdrawal_on_transfer_succeeded,
                               withdrawal_on_transfer_failed, label="分销提现")
