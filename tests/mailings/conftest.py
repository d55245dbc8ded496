from datetime import date

import pytest

from mailings import services
from members.models import EndReason, MemberStatus
from tests.factories import make_member, make_user


@pytest.fixture
def sender_sn(tree):
    """Holds the mailing-sender role only: may write and send, may not see members."""
    return make_user("versand-sn@example.org", tree.sn, "mailing_sender")


@pytest.fixture
def sachsen(tree):
    """Members across Sachsen and one in Schleswig-Holstein, with and without consent."""
    people = {
        "anna": make_member(tree.leipzig, first_name="Anna", newsletter_consent=True),
        "bernd": make_member(tree.leipzig_sued, first_name="Bernd", newsletter_consent=False),
        "clara": make_member(tree.dresden, first_name="Clara", newsletter_consent=True),
        "dora": make_member(tree.sn, first_name="Dora", newsletter_consent=True, email=""),
        "emil": make_member(tree.dresden, first_name="Emil", newsletter_consent=True),
        "kiel": make_member(tree.kiel, first_name="Kai", newsletter_consent=True),
    }
    from members import services as register

    register.end_membership(
        by=None, member=people["emil"], on=date(2025, 6, 30), reason=EndReason.EXIT
    )
    people["emil"].refresh_from_db()
    assert people["emil"].status == MemberStatus.ENDED
    return people


def write(by, division, **values):
    defaults = {
        "kind": "official",
        "sender_name": "Landesvorstand Sachsen",
        "reply_to": "vorstand@sachsen.example.org",
        "subject": "Einladung zum Landesparteitag",
        "body": "Hallo {{ vorname }},\n\nwir laden dich ein.",
        "audience": {},
    }
    return services.create_mailing(by=by, division=division, values={**defaults, **values})
