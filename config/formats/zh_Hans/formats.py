"""How the console shows dates and times: 2026-12-05 14:30 (Shanghai time), not Django's 2026年12月5日 14:30.

Operators compare, sort and copy these into spreadsheets; the numeric form is what they type
and what exports hold. Input formats stay Django's (they already accept 2026-12-05).
"""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "m-d"
YEAR_MONTH_FORMAT = "Y-m"
