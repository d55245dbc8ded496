"""Letters on paper, for members without an e-mail address: what the reminders and the
decisions to strike off say (in the site's language), and one A4 page each, laid out for a
DIN 5008 (form B) window envelope.

DejaVu Sans is embedded so that "€" and every name print; without the font file the PDF falls
back to the core Helvetica, which knows Latin-1 only: "€" becomes "EUR", anything else
unknown a question mark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from finance import pdf_fonts
from finance.models import Debit, Reminder, StrikeOff
from finance.references import reference_for
from members.models import Division, Member

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
PDF = "application/pdf"
BATCH = 500

# DIN 5008, form B (millimetres from the top left corner of the page).
WINDOW_LEFT, WINDOW_TOP, WINDOW_WIDTH, WINDOW_HEIGHT = 20, 45, 85, 45
RETURN_ZONE = 5  # the return line at the top of the window
ADDRESS_TOP = WINDOW_TOP + 17.7  # below the return line and the zone for postal notes
INFO_LEFT, INFO_TOP, INFO_WIDTH = 125, 50, 75
SUBJECT_TOP = 98.5
LEFT, RIGHT = 25, 20
FOLD_MARKS = (105, 210)
PUNCH_MARK = 148.5


def letters_pdf(reminders: Iterable[Reminder]) -> bytes:
    """One A4 page per reminder, in the order given, in the site's language."""
    reminders = list(reminders)
    people = _members_of(reminders)
    firsts = _first_reminders([reminder for reminder in reminders if reminder.level == 2])
    with translation.override(settings.LANGUAGE_CODE):
        sender, signature = sender_and_signature()
        pages = [
            _reminder_letter(
                reminder,
                people[reminder.member_id],
                firsts.get((reminder.member_id, reminder.arrears_since)),
                signature,
            )
            for reminder in reminders
        ]
        return render(pages, sender=sender, title=_("Payment reminders"))


def _members_of(rows: Sequence[Reminder | StrikeOff]) -> dict[int, Member]:
    """The rows' members: those loaded with them, the rest in one query per batch."""
    people = {row.member_id: row.member for row in rows if type(row).member.is_cached(row)}
    people.update(Member.objects.in_bulk([r.member_id for r in rows if r.member_id not in people]))
    return people


def _first_reminders(seconds: Sequence[Reminder]) -> dict[tuple[int, date], date]:
    """When reminder 1 of each of these reminders' spells was sent."""
    ids = sorted({reminder.member_id for reminder in seconds})
    firsts: dict[tuple[int, date], date] = {}
    for start in range(0, len(ids), BATCH):
        for member_id, since, sent_on in Reminder.objects.filter(
            member_id__in=ids[start : start + BATCH], level=1
        ).values_list("member_id", "arrears_since", "sent_on"):
            firsts[member_id, since] = sent_on
    return firsts


def letters_of(reminder_ids: Sequence[int]) -> list[Reminder]:
    """These reminders with their members, in postal-code order (for the post)."""
    ids = sorted(reminder_ids)
    rows: list[Reminder] = []
    for start in range(0, len(ids), BATCH):
        rows += Reminder.objects.filter(pk__in=ids[start : start + BATCH]).select_related("member")
    return sorted(rows, key=lambda r: (r.member.postal_code, r.member.last_name, r.member_id))


def letters_file_name(on: date, division: Division | None = None) -> str:
    code = f"-{division.code}" if division is not None else ""
    return f"reminders-{on.isoformat()}{code}.pdf"


def strike_off_letters_pdf(strikes: Iterable[StrikeOff]) -> bytes:
    """The decision to strike off, for members told on paper: one A4 page each."""
    strikes = [strike for strike in strikes if strike.status == StrikeOff.Status.DECIDED]
    people = _members_of(strikes)
    with translation.override(settings.LANGUAGE_CODE):
        sender, signature = sender_and_signature()
        pages = [
            _strike_off_letter(strike, people[strike.member_id], signature) for strike in strikes
        ]
        return render(pages, sender=sender, title=_("Striking off the membership register"))


def prenotification_letters_pdf(debits: Sequence[Debit]) -> bytes:
    """The pre-notifications of a direct debit, for members told on paper: one page each,
    in postal-code order."""
    debits = sorted(debits, key=lambda d: (d.member.postal_code, d.member.last_name, d.member_id))
    with translation.override(settings.LANGUAGE_CODE):
        sender, signature = sender_and_signature()
        pages = [_prenotification_letter(debit, signature) for debit in debits]
        return render(pages, sender=sender, title=_("Direct debit pre-notifications"))


def _prenotification_letter(debit: Debit, signature: str) -> Letter:
    member, mandate, collection = debit.member, debit.mandate, debit.collection
    return Letter(
        address=address_lines(member),
        info=[
            (_("Membership number"), str(member.membership_number)),
            (_("Date"), short_date(debit.notified_on or collection.created_at.date())),
        ],
        subject=_("Your membership dues %(year)s will be collected by direct debit")
        % {"year": debit.year},
        greeting=_("Hello %(name)s,") % {"name": member.first_name},
        intro=[
            _(
                "as agreed in your SEPA direct-debit mandate, we will collect your membership "
                "dues from your account on the due date below. Please make sure the account "
                "has sufficient funds."
            )
        ],
        table=[
            (_("Amount"), money(debit.amount)),
            (_("Due date"), short_date(collection.due_on)),
            (_("Mandate reference"), mandate.reference),
            (_("Creditor identifier"), settings.MUSTERROLLE_SEPA_CREDITOR_ID),
            (_("Account"), f"… {mandate.iban[-4:]}"),
        ],
        outro=[
            _(
                "If the amount is wrong or you no longer want to pay by direct debit, please "
                "tell us before the due date."
            )
        ],
        closing=[_("Kind regards"), signature],
    )


def sender_and_signature() -> tuple[str, str]:
    """The return line above the address, and the name that signs the letter."""
    root = Division.objects.get_root_nodes().first()
    name = root.name if root else "Musterrolle"
    return settings.MUSTERROLLE_OFFICE_ADDRESS or name, name


def address_lines(member: Member) -> list[str]:
    lines = [member.full_name, member.street, f"{member.postal_code} {member.city}".strip()]
    if member.country and member.country != "DE":
        lines.append(member.country.upper())
    return [line for line in lines if line]


def money(amount: Decimal) -> str:
    return f"{formats.number_format(amount, 2, use_l10n=True, force_grouping=True)} €"


def short_date(day: date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def _reminder_letter(
    reminder: Reminder, member: Member, first_sent_on: date | None, signature: str
) -> Letter:
    if reminder.level == 1:
        subject = _("Payment reminder")
        intro = _(
            "according to our records, your membership dues have not been paid in full. "
            "Please transfer the amount owed to the party's account, giving the payment "
            "reference, so that we can match your payment."
        )
        warning = []
    else:
        subject = _("Second payment reminder")
        intro = _(
            "we reminded you of your outstanding membership dues on %(day)s, but have not "
            "received a payment since. Please transfer the amount owed to the party's "
            "account, giving the payment reference."
        ) % {"day": short_date(first_sent_on) if first_sent_on else "–"}
        warning = [_strike_off_warning()]
    return Letter(
        address=address_lines(member),
        info=[
            (_("Date"), short_date(reminder.sent_on)),
            (_("Membership number"), str(member.membership_number)),
        ],
        subject=subject,
        greeting=_("Hello %(name)s,") % {"name": member.first_name},
        intro=[intro],
        table=_payment_table(reminder.amount, reminder.reference),
        outro=[
            *warning,
            _(
                "If you cannot pay the dues in full, please get in touch: reduced dues can "
                "be granted on request."
            ),
            _("If you have paid in the last few days, please disregard this reminder."),
        ],
        closing=[_("Kind regards"), signature],
    )


def _strike_off_warning() -> str:
    months = settings.MUSTERROLLE_STRIKE_OFF_MONTHS
    return ngettext(
        "A member who remains in arrears for more than %(months)s month despite two "
        "reminders may be struck off the membership register.",
        "A member who remains in arrears for more than %(months)s months despite two "
        "reminders may be struck off the membership register.",
        months,
    ) % {"months": months}


def _payment_table(amount: Decimal, reference: str) -> list[tuple[str, str]]:
    return [
        (_("Amount owed"), money(amount)),
        (_("Account (IBAN)"), settings.MUSTERROLLE_DUES_IBAN),
        (_("Payment reference"), reference),
    ]


def _strike_off_letter(strike: StrikeOff, member: Member, signature: str) -> Letter:
    assert strike.decided_on is not None and strike.objection_until is not None  # noqa: S101
    if settings.MUSTERROLLE_OFFICE_EMAIL:
        how = _(
            "You may object to this decision until %(day)s, in writing to the federal office "
            "or by e-mail to %(email)s."
        )
    else:
        how = _("You may object to this decision until %(day)s, in writing to the federal office.")
    context = {
        "day": short_date(strike.objection_until),
        "email": settings.MUSTERROLLE_OFFICE_EMAIL,
    }
    return Letter(
        address=address_lines(member),
        info=[
            (_("Date"), short_date(strike.decided_on)),
            (_("Membership number"), str(member.membership_number)),
        ],
        subject=_("Striking off the membership register"),
        greeting=_("Hello %(name)s,") % {"name": member.first_name},
        intro=[
            _(
                "your membership dues have been outstanding since %(since)s, despite two "
                "reminders. The federal office has therefore decided on %(day)s to strike you "
                "off the membership register."
            )
            % {"since": short_date(strike.arrears_since), "day": short_date(strike.decided_on)}
        ],
        table=[
            *_payment_table(
                strike.amount, reference_for(member.membership_number, strike.decided_on)
            ),
            (_("Objection possible until"), short_date(strike.objection_until)),
        ],
        outro=[
            how % context,
            _(
                "If you object, or pay the amount owed by then, you will not be struck off. "
                "Otherwise your membership ends after that day."
            ),
        ],
        closing=[_("Kind regards"), signature],
    )


# --- Layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One page: the recipient's address lines, the information block on the right (label,
    value), the subject, the greeting, paragraphs before and after a table of facts (label,
    value), and the closing lines."""

    address: Sequence[str]
    info: Sequence[tuple[str, str]]
    subject: str
    greeting: str
    intro: Sequence[str]
    table: Sequence[tuple[str, str]]
    outro: Sequence[str]
    closing: Sequence[str]


class Pdf(FPDF):
    def __init__(self, *, bold: bool = True) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(False)  # a letter is one page; nothing may spill over
        self.set_margins(LEFT, 20, RIGHT)
        self.has_unicode_font = FONT.exists() and FONT_BOLD.exists()
        if self.has_unicode_font:
            # Every face added is embedded, used or not: without bold, only the regular one.
            faces = {"": FONT, "B": FONT_BOLD} if bold else {"": FONT}
            pdf_fonts.embed(self, "DejaVu", faces)
        self.letter_font = "DejaVu" if self.has_unicode_font else "Helvetica"

    def output(self, *args: Any, **kwargs: Any) -> Any:
        # The faces of pdf_fonts.embed are written by its producer, from its cache.
        kwargs.setdefault("output_producer_class", pdf_fonts.Producer)
        return super().output(*args, **kwargs)

    def text_of(self, text: str) -> str:
        if self.has_unicode_font:
            return text
        return text.replace("€", "EUR").encode("latin-1", "replace").decode("latin-1")

    def use(self, size: float, style: str = "") -> None:
        self.set_font(self.letter_font, style, size)


def render(letters: Iterable[Letter], *, sender: str, title: str) -> bytes:
    """All letters in one PDF, one page each, in the order given."""
    pdf = Pdf()
    pdf.set_title(title)
    pdf.set_author(sender)
    pdf.set_creator("Musterrolle")
    for letter in letters:
        _page(pdf, letter, sender)
    return bytes(pdf.output())


def _page(pdf: Pdf, letter: Letter, sender: str) -> None:
    pdf.add_page()
    window(pdf, sender=sender, address=letter.address, info=letter.info)
    pdf.set_xy(LEFT, SUBJECT_TOP)
    pdf.use(12, "B")
    pdf.multi_cell(
        0, 6, pdf.text_of(letter.subject), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(6)
    pdf.use(10)
    _paragraph(pdf, letter.greeting)
    for paragraph in letter.intro:
        _paragraph(pdf, paragraph)
    for label, value in letter.table:
        pdf.use(10)
        pdf.cell(55, 6, pdf.text_of(label))
        pdf.use(10, "B")
        pdf.cell(0, 6, pdf.text_of(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.use(10)
    for paragraph in letter.outro:
        _paragraph(pdf, paragraph)
    pdf.ln(2)
    for line in letter.closing:
        pdf.cell(0, 5, pdf.text_of(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def window(
    pdf: Pdf, *, sender: str, address: Sequence[str], info: Sequence[tuple[str, str]]
) -> None:
    """The head of a page sent in a window envelope: fold and punch marks, the return line
    and the recipient's address in the window, the information block (label, value) beside."""
    _marks(pdf)
    # The return line, small and underlined, at the top of the window.
    pdf.use(7, "U")
    line(
        pdf, WINDOW_LEFT + pdf.c_margin, WINDOW_TOP + 1, RETURN_ZONE - 1, pdf.text_of(sender)[:110]
    )
    pdf.use(10)
    for n, text in enumerate(list(address)[:6]):  # the address zone holds six lines
        line(pdf, WINDOW_LEFT + pdf.c_margin, ADDRESS_TOP + 4.5 * n, 4.5, pdf.text_of(text))
    pdf.use(9)
    for n, (label, value) in enumerate(info):
        line(pdf, INFO_LEFT + pdf.c_margin, INFO_TOP + 5 * n, 5, pdf.text_of(label))
        line(pdf, INFO_LEFT + 32 + pdf.c_margin, INFO_TOP + 5 * n, 5, pdf.text_of(value))
    pdf.set_xy(LEFT, INFO_TOP + 5 * len(info))


def line(pdf: Pdf, x: float, y: float, height: float, text: str, *, right: bool = False) -> None:
    """One line of text where `cell(…, height, text)` at (x - the cell margin, y) would put
    it, for a fifth of what a cell costs; aligned right, x is where the text ends."""
    if right:
        x -= pdf.get_string_width(text)
    pdf.text(x, y + 0.5 * height + 0.3 * pdf.font_size, text)


def _paragraph(pdf: Pdf, text: str) -> None:
    pdf.multi_cell(0, 5, pdf.text_of(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)


def _marks(pdf: Pdf) -> None:
    """Fold marks and the punch mark on the left edge."""
    pdf.set_line_width(0.2)
    for y in FOLD_MARKS:
        pdf.line(4, y, 8, y)
    pdf.line(4, PUNCH_MARK, 10, PUNCH_MARK)
