from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = _("Finance")

    def ready(self) -> None:
        from finance import payments, sepa, services
        from members.policy import set_dues_ledger, set_fee_policy, set_mandate_policy
        from members.signals import dues_relevant_change

        dues_relevant_change.connect(services.on_register_change, dispatch_uid="finance.dues")
        set_fee_policy(services.FinanceOrderPolicy())
        set_mandate_policy(sepa.MandateRequests())
        set_dues_ledger(payments.Ledger())
