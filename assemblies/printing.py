"""The frozen list on paper: A4, one line per member (number, name, division, eligible or
why not, a field to sign at the door), page numbers, the assembly and cut-off on every page.
Uses the letter module's PDF (fonts with umlauts embedded, the fast line drawing)."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from assemblies.models import Assembly, Entry, Reason
from finance.letters import Pdf, line

ROWS = 42
PART_ROWS = ROWS * 100  # a print file of a hundred pages at most
TOP, ROW_HEIGHT = 30, 5.9
COLUMNS = (20, 43, 98, 146)  # number, name, division, eligible / why not


def reason_text(entry: Entry) -> str:
    def day(value: object) -> str:
        return formats.date_format(value, "SHORT_DATE_FORMAT") if value else ""

    if entry.reason == Reason.ELIGIBLE:
        return _("eligible")
    if entry.reason == Reason.ARREARS:
        amount = formats.number_format(entry.owed or 0, 2, use_l10n=True, force_grouping=True)
        if entry.since:
            return _("arrears of %(amount)s € since %(since)s") % {
                "amount": amount,
                "since": day(entry.since),
            }
        return _("%(amount)s € dues open (grace period)") % {"amount": amount}
    if entry.reason == Reason.NOT_YET:
        return _("not a member then (here since %(day)s)") % {"day": day(entry.since)}
    if entry.reason == Reason.TRANSFERRED:
        return _("transferred away on %(day)s") % {"day": day(entry.since)}
    if entry.reason == Reason.ENDED:
        return _("membership ended on %(day)s") % {"day": day(entry.since)}
    return str(entry.get_reason_display())


def list_pdf(
    assembly: Assembly, entries: Iterable[Entry], *, title: str, first_page: int = 1
) -> bytes:
    with translation.override(settings.LANGUAGE_CODE):
        pdf = Pdf(bold=True)
        pdf.set_title(f"{assembly.title}: {title}")
        pdf.set_creator("Musterrolle")
        heading = (
            f"{assembly.title} – {title} – "
            + _("cut-off date")
            + f" {formats.date_format(assembly.cutoff_on, 'SHORT_DATE_FORMAT')}"
        )
        printed = formats.date_format(timezone.localtime(), "SHORT_DATETIME_FORMAT")
        labels = [_("Number"), _("Name"), _("Division"), _("Eligible / why not")]
        page = first_page - 1
        row = ROWS
        for entry in entries:
            if row == ROWS:
                page += 1
                pdf.add_page()
                pdf.use(11, "B")
                line(pdf, 20, 12, 6, pdf.text_of(heading)[:120])
                pdf.use(8)
                line(pdf, 20, 18, 4, pdf.text_of(_("printed %(when)s") % {"when": printed}))
                line(pdf, 190, 18, 4, pdf.text_of(_("page %(n)s") % {"n": page}), right=True)
                pdf.use(9, "B")
                for x, label in zip(COLUMNS, labels, strict=True):
                    line(pdf, x, TOP - ROW_HEIGHT, ROW_HEIGHT, pdf.text_of(label))
                pdf.set_line_width(0.2)
                pdf.line(20, TOP, 190, TOP)
                row = 0
            y = TOP + row * ROW_HEIGHT
            pdf.use(9)
            member = entry.member
            values = [
                str(member.membership_number),
                f"{member.last_name}, {member.first_name}"[:32],
                entry.division.name[:30],
                reason_text(entry)[:45],
            ]
            for x, value in zip(COLUMNS, values, strict=True):
                line(pdf, x, y, ROW_HEIGHT, pdf.text_of(value))
            pdf.set_draw_color(200)
            pdf.line(20, y + ROW_HEIGHT, 190, y + ROW_HEIGHT)
            pdf.set_draw_color(0)
            row += 1
        if page == first_page - 1:
            pdf.add_page()
            pdf.use(11, "B")
            line(pdf, 20, 12, 6, pdf.text_of(heading)[:120])
            pdf.use(10)
            line(pdf, 20, 24, 6, pdf.text_of(_("Nobody on this list matches.")))
        return bytes(pdf.output())
