package continuum.serving;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;

/**
 * int(datetime.fromisoformat(text).timestamp() * 1000) with naive times taken as UTC, as Python
 * 3.11 computes it. A line-by-line port of CPython 3.11's C parser (Modules/_datetimemodule.c),
 * quirks included: it reads the UTF-8 bytes as a NUL-terminated C string (a U+0000 ends it
 * early), takes any one character as the date/time separator, and ignores what follows the
 * time when an offset comes after it ("12:00x+05:00"). java.time accepts another language.
 */
final class IsoDateTime {
    /** What `epochMillis` returns where Python raises ValueError: no valid datetime is that far. */
    static final long INVALID = Long.MIN_VALUE;

    private static final int[] DAYS_IN_MONTH = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    private static final int[] DAYS_BEFORE_MONTH =
            {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    private static final int EPOCH_ORDINAL = ymdToOrdinal(1970, 1, 1);
    private static final long TWO_TO_53 = 1L << 53;

    private final byte[] text;
    private int value;
    private int year;
    private int month;
    private int day;
    private int hour;
    private int minute;
    private int second;
    private int microsecond;
    private int tzOffset;
    private int tzMicrosecond;
    /** hour, minute, second, microsecond of the time or the offset being read. */
    private final int[] clock = new int[4];

    private IsoDateTime(byte[] text) {
        this.text = text;
    }

    static long epochMillis(String s) {
        byte[] bytes = utf8(s);
        if (bytes == null) {
            return INVALID;
        }
        IsoDateTime parsed = new IsoDateTime(bytes);
        int rv = parsed.parse();
        if (rv < 0) {
            return INVALID;
        }
        long offsetMicros = 0;
        if (rv == 1 && parsed.tzOffset != 0) {  // a zero offset is UTC, its microseconds dropped
            offsetMicros = parsed.tzOffset * 1_000_000L + parsed.tzMicrosecond;
            if (Math.abs(offsetMicros) >= 86_400_000_000L) {
                return INVALID;
            }
        }
        if (!parsed.inRange()) {
            return INVALID;
        }
        long days = ymdToOrdinal(parsed.year, parsed.month, parsed.day) - EPOCH_ORDINAL;
        long micros = days * 86_400_000_000L
                + (parsed.hour * 3600L + parsed.minute * 60L + parsed.second) * 1_000_000L
                + parsed.microsecond - offsetMicros;
        // timestamp() is micros / 10**6 rounded once (Python divides ints exactly), then * 1000.
        double seconds = Math.abs(micros) <= TWO_TO_53
                ? micros / 1e6
                : BigDecimal.valueOf(micros, 6).doubleValue();
        return (long) (seconds * 1000);
    }

    /**
     * _sanitize_isoformat_str and PyUnicode_AsUTF8AndSize: shorter than 7 code points fails; a
     * lone surrogate is allowed only as the separator (code point 7, 8 or 10: the first of these
     * that is one reads as 'T'); any other fails.
     */
    private static byte[] utf8(String s) {
        int length = s.codePointCount(0, s.length());
        if (length < 7) {
            return null;
        }
        boolean surrogates = false;
        for (int i = 0; i < s.length() && !surrogates; i++) {
            surrogates = Character.isSurrogate(s.charAt(i));
        }
        if (!surrogates) {
            return s.getBytes(StandardCharsets.UTF_8);
        }
        int[] points = s.codePoints().toArray();
        for (int position : new int[] {7, 8, 10}) {
            if (position >= points.length) {
                break;
            }
            if (isSurrogate(points[position])) {
                points[position] = 'T';
                break;
            }
        }
        for (int point : points) {
            if (isSurrogate(point)) {
                return null;
            }
        }
        return new String(points, 0, points.length).getBytes(StandardCharsets.UTF_8);
    }

    private static boolean isSurrogate(int point) {
        return point >= 0xd800 && point <= 0xdfff;
    }

    /** *p in C: the byte at i, 0 at and past the end (the terminating NUL). */
    private int at(int i) {
        return i < text.length ? text[i] & 0xff : 0;
    }

    private static boolean isDigit(int c) {
        return c >= '0' && c <= '9';
    }

    /** parse_digits: `count` digits from i into `value`; the position after them, or -1. */
    private int digits(int i, int count) {
        value = 0;
        for (int k = 0; k < count; k++) {
            int c = at(i++);
            if (!isDigit(c)) {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return i;
    }

    /** datetime_fromisoformat up to the tzinfo: 0 naive, 1 with an offset, < 0 invalid. */
    private int parse() {
        int len = text.length;
        int separator = separatorLocation(len);
        if (separator < 0) {
            return -1;
        }
        int rv = parseDate(separator);
        if (rv == 0 && len > separator) {
            int p = separator;
            int lead = at(p);
            if ((lead & 0x80) == 0) {
                p += 1;
            } else if ((lead & 0xf0) == 0xe0) {
                p += 3;
            } else if ((lead & 0xf0) == 0xf0) {
                p += 4;
            } else {
                p += 2;
            }
            rv = parseTime(p, len);
        }
        return rv;
    }

    /** _find_isoformat_datetime_separator. */
    private int separatorLocation(int len) {
        if (len == 7) {
            return 7;
        }
        if (at(4) == '-') {
            if (at(5) == 'W') {
                if (len < 8) {
                    return -1;
                }
                if (len > 8 && at(8) == '-') {
                    if (len == 9) {
                        return -1;
                    }
                    if (len > 10 && isDigit(at(10))) {
                        return 8;
                    }
                    return 10;
                }
                return 8;
            }
            return 10;
        }
        if (at(4) == 'W') {
            int idx = 7;
            while (idx < len && isDigit(at(idx))) {
                idx++;
            }
            if (idx < 9) {
                return idx;
            }
            return idx % 2 == 0 ? 7 : 8;
        }
        return 8;
    }

    /** parse_isoformat_date over the first `len` bytes. */
    private int parseDate(int len) {
        int p = digits(0, 4);
        if (p < 0) {
            return -1;
        }
        year = value;
        boolean separated = at(p) == '-';
        if (separated) {
            p++;
        }
        if (at(p) == 'W') {
            p = digits(p + 1, 2);
            if (p < 0) {
                return -3;
            }
            int week = value;
            int weekday = 1;
            if (p < len) {
                if (separated && at(p++) != '-') {
                    return -2;
                }
                p = digits(p, 1);
                if (p < 0) {
                    return -4;
                }
                weekday = value;
            }
            return isoToYmd(year, week, weekday);
        }
        p = digits(p, 2);
        if (p < 0) {
            return -1;
        }
        month = value;
        if (separated && at(p++) != '-') {
            return -2;
        }
        p = digits(p, 2);
        if (p < 0) {
            return -1;
        }
        day = value;
        return 0;
    }

    /** parse_isoformat_time from byte `start` to `end`. */
    private int parseTime(int start, int end) {
        int tz = start;
        do {
            int c = at(tz);
            if (c == 'Z' || c == '+' || c == '-') {
                break;
            }
        } while (++tz < end);

        int rv = parseClock(start, tz);
        hour = clock[0];
        minute = clock[1];
        second = clock[2];
        microsecond = clock[3];
        if (rv < 0) {
            return rv;
        }
        if (tz == end) {
            return rv == 1 ? -5 : 0;
        }
        if (at(tz) == 'Z') {
            tzOffset = 0;
            tzMicrosecond = 0;
            return at(tz + 1) != 0 ? -5 : 1;
        }
        int sign = at(tz) == '-' ? -1 : 1;
        rv = parseClock(tz + 1, end);
        tzOffset = sign * (clock[0] * 3600 + clock[1] * 60 + clock[2]);
        tzMicrosecond = sign * clock[3];
        return rv != 0 ? -5 : 1;
    }

    /** parse_hh_mm_ss_ff from p to end into `clock`: < 0 invalid, 1 when something but the
     * string's end follows, 0 at its end. */
    private int parseClock(int p, int end) {
        java.util.Arrays.fill(clock, 0);
        boolean separated = true;
        for (int i = 0; i < 3; i++) {
            p = digits(p, 2);
            if (p < 0) {
                return -3;
            }
            clock[i] = value;
            int c = at(p++);
            if (i == 0) {
                separated = c == ':';
            }
            if (p >= end) {
                return c != 0 ? 1 : 0;
            } else if (separated && c == ':') {
                continue;
            } else if (c == '.' || c == ',') {
                break;
            } else if (!separated) {
                p--;
            } else {
                return -4;
            }
        }
        int toParse = Math.min(end - p, 6);
        p = digits(p, toParse);
        if (p < 0) {
            return -3;
        }
        clock[3] = value;
        for (int k = toParse; k < 6; k++) {
            clock[3] *= 10;
        }
        while (isDigit(at(p))) {
            p++;
        }
        return at(p) != 0 ? 1 : 0;
    }

    /** iso_to_ymd: 0, or < 0 for an ISO week or weekday out of range. */
    private int isoToYmd(int isoYear, int isoWeek, int isoDay) {
        if (isoWeek <= 0 || isoWeek >= 53) {
            boolean outOfRange = true;
            if (isoWeek == 53) {
                int firstWeekday = (ymdToOrdinal(isoYear, 1, 1) + 6) % 7;
                if (firstWeekday == 3 || (firstWeekday == 2 && isLeap(isoYear))) {
                    outOfRange = false;
                }
            }
            if (outOfRange) {
                return -5;
            }
        }
        if (isoDay <= 0 || isoDay >= 8) {
            return -6;
        }
        int ordinal = isoWeek1Monday(isoYear) + (isoWeek - 1) * 7 + isoDay - 1;
        if (ordinal < 1) {
            // Only ISO year 0 gets here; C reads past its month table and the datetime
            // constructor then refuses the month it finds.
            month = 0;
            return 0;
        }
        ordinalToYmd(ordinal);
        return 0;
    }

    /** The datetime constructor's range checks. */
    private boolean inRange() {
        return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1
                && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59;
    }

    private static boolean isLeap(int year) {
        return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    }

    private static int daysInMonth(int year, int month) {
        return month == 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month];
    }

    private static int daysBeforeYear(int year) {
        int y = year - 1;
        return y * 365 + y / 4 - y / 100 + y / 400;
    }

    private static int ymdToOrdinal(int year, int month, int day) {
        int before = DAYS_BEFORE_MONTH[month] + (month > 2 && isLeap(year) ? 1 : 0);
        return daysBeforeYear(year) + before + day;
    }

    private static int isoWeek1Monday(int year) {
        int firstDay = ymdToOrdinal(year, 1, 1);
        int firstWeekday = (firstDay + 6) % 7;
        int week1Monday = firstDay - firstWeekday;
        if (firstWeekday > 3) {
            week1Monday += 7;
        }
        return week1Monday;
    }

    /** ord_to_ymd for ordinal >= 1. */
    private void ordinalToYmd(int ordinal) {
        int n = ordinal - 1;
        int n400 = n / 146_097;
        n %= 146_097;
        year = n400 * 400 + 1;
        int n100 = n / 36_524;
        n %= 36_524;
        int n4 = n / 1461;
        n %= 1461;
        int n1 = n / 365;
        n %= 365;
        year += n100 * 100 + n4 * 4 + n1;
        if (n1 == 4 || n100 == 4) {
            year -= 1;
            month = 12;
            day = 31;
            return;
        }
        boolean leap = n1 == 3 && (n4 != 24 || n100 == 3);
        month = (n + 50) >> 5;
        int preceding = DAYS_BEFORE_MONTH[month] + (month > 2 && leap ? 1 : 0);
        if (preceding > n) {
            month -= 1;
            preceding -= daysInMonth(year, month);
        }
        day = n - preceding + 1;
    }
}
