"""The annual contribution receipt as PDF: the confirmation on the first page, laid out for a
DIN 5008 window envelope like the letters (finance.letters), and the annex listing every
contribution on the next (continued on further pages when it is long).

A receipt is rendered from its row alone (number, sums, contributions, address, the wording
version, the date of issue): rendered again, it gives the same bytes. The German words for
the sum come from num2words whatever the site's language: the receipt is a German tax
document.

Speed: the fonts are parsed once per process and their subset is cached (finance.pdf_fonts);
the wording's paragraphs are the same on every receipt, so they are broken into lines once
per process and drawn line by line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from fpdf.enums import MethodReturnValue
from num2words import num2words

from finance.letters import LEFT, SUBJECT_TOP, Pdf, line, money, short_date, window
from finance.models import ContributionReceipt, ReceiptWording

WIDTH = 210 - LEFT - 20  # the text's width between the margins (letters.LEFT, RIGHT)
BOTTOM = 282  # nothing is drawn below this line (mm from the top)
LABEL = 68  # the width of the labels beside the sums
ANNEX_COLUMNS = (28, 47, 60, 30)  # date, kind, waiver, amount: together WIDTH
COLUMN_LEFT = tuple(LEFT + sum(ANNEX_COLUMNS[:n]) for n in range(len(ANNEX_COLUMNS)))


def receipt_pdf(receipt: ContributionReceipt) -> bytes:
    """One receipt as a document of its own (the e-mail's attachment, a download)."""
    return _document([receipt], pad=False)


def receipts_pdf(receipts: Iterable[ContributionReceipt]) -> bytes:
    """Receipts to print, in the order given: each starts on a sheet of its own when printed
    on both sides (a receipt with an odd number of pages is followed by a blank page)."""
    return _document(receipts, pad=True)


def file_name(receipt: ContributionReceipt) -> str:
    return f"zuwendungsbestaetigung-{receipt.number}.pdf"


def amount_in_words(amount: Decimal) -> str:
    """The sum in German words, as the form asks: "einhundertzwanzig Euro und fünf Cent"."""
    cents = int((amount * 100).to_integral_value())
    euros, cents = divmod(cents, 100)
    words = f"{_count(euros)} Euro"
    return f"{words} und {_count(cents)} Cent" if cents else words


def _count(n: int) -> str:
    # "eins" counts, "ein" goes before a noun (ein Euro, ein Cent).
    return "ein" if n == 1 else num2words(n, lang="de")


def _document(receipts: Iterable[ContributionReceipt], *, pad: bool) -> bytes:
    with translation.override(settings.LANGUAGE_CODE):
        # One face: each face a document embeds costs it about 1 ms and 9 KB; the receipt
        # sets off by size, not weight.
        pdf = Pdf(bold=False)
        pdf.set_creator("Musterrolle")
        first = None
        for receipt in receipts:
            if first is None:
                first = receipt
                pdf.set_title(_("Contribution receipt %(number)s") % {"number": receipt.number})
                pdf.set_author(receipt.wording.party_name)
                # The date of issue, not the hour of rendering: the same row, the same bytes.
                pdf.set_creation_date(datetime.combine(receipt.issued_on, time(), tzinfo=UTC))
            if pad and pdf.page % 2:
                pdf.add_page()  # the back of the previous receipt's last sheet stays blank
            _confirmation(pdf, receipt)
            _annex(pdf, receipt)
        if first is None:
            pdf.add_page()
        return bytes(pdf.output())


def _confirmation(pdf: Pdf, receipt: ContributionReceipt) -> None:
    wording: ReceiptWording = receipt.wording
    party_address = _lines(wording.party_address)
    pdf.add_page()
    window(
        pdf,
        sender=" · ".join([wording.party_name, *party_address]),
        address=receipt.address,
        info=[
            (_("Receipt no."), receipt.number),
            (_("Date"), short_date(receipt.issued_on)),
            (_("Membership number"), str(receipt.member.membership_number)),
        ],
    )
    pdf.set_xy(LEFT, SUBJECT_TOP)
    _wrapped(pdf, wording.title, size=12, height=6)
    pdf.ln(2)
    if receipt.replaces is not None:
        replaced = receipt.replaces
        notice = _(
            "This receipt replaces receipt no. %(number)s of %(day)s, which is no longer valid."
        ) % {"number": replaced.number, "day": short_date(replaced.issued_on)}
        top = pdf.get_y()
        _wrapped(pdf, notice, size=10.5, cache=False, x=LEFT + 3)
        pdf.set_line_width(0.6)
        pdf.line(LEFT, top + 0.5, LEFT, pdf.get_y() - 0.5)  # a bar in the margin marks it
        pdf.set_line_width(0.2)
        pdf.ln(2)
    _field(
        pdf,
        _("Name and address of the recipient (party)"),
        ", ".join([wording.party_name, *party_address]),
    )
    _field(pdf, _("Name and address of the donor"), ", ".join(receipt.address))
    pdf.ln(2)
    total = receipt.total
    _field(pdf, _("Total of the contributions – in figures –"), money(total), size=11.5)
    _field(pdf, _("– in words –"), amount_in_words(total))
    year = receipt.year
    _field(
        pdf,
        _("Period of this collective confirmation"),
        f"{short_date(date(year, 1, 1))} – {short_date(date(year, 12, 31))}",
    )
    _field(pdf, _("of which membership fees"), money(receipt.dues))
    _field(pdf, _("of which monetary donations"), money(receipt.donations))
    pdf.ln(3)
    for paragraph in _paragraphs(wording.declarations):
        _wrapped(pdf, paragraph, size=9.5, height=4.6)
        pdf.ln(1.5)
    pdf.ln(3)
    signed = [f"{wording.place}, {short_date(receipt.issued_on)}", wording.signatory]
    _draw(pdf, [pdf.text_of(text) for text in signed], size=10, height=5)
    if wording.notice.strip():
        lines = _lines_of(pdf, " ".join(wording.notice.split()), WIDTH, 7.5)
        pdf.set_xy(LEFT, BOTTOM - 3.4 * len(lines))
        _draw(pdf, lines, size=7.5, height=3.4)


def _annex(pdf: Pdf, receipt: ContributionReceipt) -> None:
    heading = _("Annex to the collective confirmation no. %(number)s of %(day)s") % {
        "number": receipt.number,
        "day": short_date(receipt.issued_on),
    }
    labels = (
        _("Date of the contribution"),
        _("Kind of contribution"),
        _("Waiver of the reimbursement of expenses"),
        _("Amount"),
    )
    kinds = {"dues": _("Membership fee"), "donation": _("Monetary donation")}
    no = _("no")
    margin = pdf.c_margin
    right = LEFT + WIDTH - margin  # where the amounts end

    def head() -> None:
        pdf.add_page()
        pdf.set_xy(LEFT, 20)
        _draw(pdf, [pdf.text_of(heading)], size=12, height=6)
        _draw(pdf, [pdf.text_of(", ".join(receipt.address))], size=9, height=5)
        top = pdf.get_y() + 4
        for column, label in enumerate(labels):
            x, width = COLUMN_LEFT[column], ANNEX_COLUMNS[column]
            last = column == len(labels) - 1  # the amounts, aligned right
            for n, text in enumerate(_lines_of(pdf, label, width - 2 * margin, 8)):
                line(pdf, right if last else x + margin, top + 4 * n, 4, text, right=last)
        pdf.line(LEFT, top + 8.5, LEFT + WIDTH, top + 8.5)
        pdf.set_xy(LEFT, top + 9)
        pdf.use(9)

    head()
    for booked_on, kind, amount in receipt.lines:
        if pdf.get_y() > BOTTOM - 12:
            head()
        y = pdf.get_y()
        cells = (short_date(date.fromisoformat(booked_on)), kinds[kind], no)
        for text, x in zip(cells, COLUMN_LEFT, strict=False):
            line(pdf, x + margin, y, 5, pdf.text_of(text))
        line(pdf, right, y, 5, money(Decimal(amount)), right=True)
        pdf.set_y(y + 5)
    y = pdf.get_y()
    pdf.line(LEFT, y + 0.5, LEFT + WIDTH, y + 0.5)
    pdf.use(10)
    line(pdf, LEFT + margin, y + 1.5, 5, pdf.text_of(_("Total")))
    line(pdf, right, y + 1.5, 5, money(receipt.total), right=True)


def _field(pdf: Pdf, label: str, value: str, *, size: float = 10) -> None:
    """A label and its value beside it (on as many lines as it needs)."""
    top = pdf.get_y()
    pdf.use(8.5)
    line(pdf, LEFT, top + 0.4, 4.6, pdf.text_of(label))
    pdf.set_y(top)
    lines = _lines_of(pdf, value, WIDTH - LABEL, size, cache=False)
    _draw(pdf, lines, size=size, height=5, x=LEFT + LABEL)
    pdf.set_xy(LEFT, max(pdf.get_y(), top + 5.5))


def _wrapped(
    pdf: Pdf, text: str, *, size: float, height: float = 5, cache: bool = True, x: float = LEFT
) -> None:
    lines = _lines_of(pdf, text, WIDTH - (x - LEFT), size, cache=cache)
    _draw(pdf, lines, size=size, height=height, x=x)


def _draw(pdf: Pdf, lines: Sequence[str], *, size: float, height: float, x: float = LEFT) -> None:
    """Lines from the current height down, each `height` apart."""
    pdf.use(size)
    y = pdf.get_y()
    for text in lines:
        line(pdf, x, y, height, text)
        y += height
    pdf.set_xy(LEFT, y)


def _lines_of(
    pdf: Pdf, text: str, width: float, size: float, *, cache: bool = True
) -> tuple[str, ...]:
    """`text` broken into lines `width` wide (ready to draw: text_of applied)."""
    if cache:
        return _cached_lines(text, width, size, pdf.letter_font)
    pdf.use(size)
    if pdf.get_string_width(pdf.text_of(text)) <= width - 2 * pdf.c_margin:
        return (pdf.text_of(text),)  # most values fit on their line: no breaking needed
    return _break(pdf, text, width, size)


@lru_cache(maxsize=512)
def _cached_lines(text: str, width: float, size: float, font: str) -> tuple[str, ...]:
    """The wording is the same on every receipt: broken into lines once per process."""
    measure = Pdf(bold=False)  # `font` keys the cache: the font it measures with
    measure.add_page()
    return _break(measure, text, width, size)


def _break(pdf: Pdf, text: str, width: float, size: float) -> tuple[str, ...]:
    pdf.use(size)
    lines = pdf.multi_cell(
        width, 5, pdf.text_of(text), dry_run=True, output=MethodReturnValue.LINES
    )
    return tuple(lines)


def _lines(text: str) -> list[str]:
    return [row.strip() for row in text.splitlines() if row.strip()]


def _paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by a blank line; the lines of one are joined."""
    paragraphs, current = [], []
    for row in [*text.splitlines(), ""]:
        if row.strip():
            current.append(row.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return paragraphs
