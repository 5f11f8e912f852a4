"""Text for logs and the panel with what could be a phone number taken out.

A platform's error (Twilio's "The 'To' number +919876543210 is not a valid
phone number") can quote the person it was for; logs are kept longer and
read more widely than the contact itself, so such runs of digits go.
"""

from __future__ import annotations

import re

NUMBER = "<number>"
# With a +: digits in groups ("+91 98765 43210", "+1 (555) 123-4567"); without: six or more digits
# together or joined by - . ( ) ("9876543210", "555-123-4567"), so short codes ("400 21211") stay.
_PHONE = re.compile(r"\+\d(?:[\s\-.()]{0,2}\d){5,}|\d(?:[\-.()]{0,2}\d){5,}")


def without_numbers(text: str) -> str:
    """The text with every run of digits long enough to be a phone number replaced by <number>."""
    return _PHONE.sub(NUMBER, text)
