package continuum.serving;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.List;

/**
 * Python's text conventions, as `requests.py` relies on them: str.strip, len, repr of str and
 * float, format(x, "g"), str(int(x)) and float(text). The verdicts must be the same text in both
 * languages, so each follows CPython 3.11, not Java's nearest equivalent.
 */
final class PyText {
    private PyText() {}

    private static final char[] HEX = "0123456789abcdef".toCharArray();
    private static final MathContext SIX_DIGITS = new MathContext(6, RoundingMode.HALF_EVEN);
    private static final double TWO_TO_63 = 0x1p63;

    /** str.isspace for one UTF-16 unit: Python's whitespace is all in the BMP and differs from
     * Character.isWhitespace (Python adds U+0085, U+00A0, U+2007 and U+202F). */
    static boolean isSpace(char c) {
        if (c <= ' ') {
            return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\u001c' && c <= '\u001f');
        }
        if (c < '\u0085') {
            return false;
        }
        return c == '\u0085' || c == '\u00a0' || c == '\u1680' || (c >= '\u2000' && c <= '\u200a')
                || c == '\u2028' || c == '\u2029' || c == '\u202f' || c == '\u205f' || c == '\u3000';
    }

    static String strip(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && isSpace(s.charAt(start))) {
            start++;
        }
        while (end > start && isSpace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(start, end);
    }

    static boolean isBlank(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (!isSpace(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /** len(s): Python counts code points (a lone surrogate counts one, as in Java). */
    static boolean longerThan(String s, int limit) {
        return s.length() > limit && s.codePointCount(0, s.length()) > limit;
    }

    /** repr(s[:40]), as the details quote a value. */
    static String quoted(String s) {
        StringBuilder out = new StringBuilder(Math.min(s.length(), 40) + 8);
        int end = s.length();
        if (s.length() > 40 && s.codePointCount(0, s.length()) > 40) {
            end = s.offsetByCodePoints(0, 40);
        }
        appendRepr(out, s, end);
        return out.toString();
    }

    static String repr(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2);
        appendRepr(out, s, s.length());
        return out.toString();
    }

    /** repr(list of str): how the dataset writes a list of options. */
    static String repr(List<String> items) {
        StringBuilder out = new StringBuilder(16 * items.size() + 2).append('[');
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) {
                out.append(", ");
            }
            appendRepr(out, items.get(i), items.get(i).length());
        }
        return out.append(']').toString();
    }

    /** CPython's unicode_repr over s[0:end]. */
    private static void appendRepr(StringBuilder out, String s, int end) {
        boolean single = false;
        boolean dbl = false;
        for (int i = 0; i < end; i++) {
            char c = s.charAt(i);
            single |= c == '\'';
            dbl |= c == '"';
        }
        char quote = single && !dbl ? '"' : '\'';
        out.append(quote);
        for (int i = 0; i < end; ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (c == quote || c == '\\') {
                out.append('\\').append((char) c);
            } else if (c == '\t') {
                out.append("\\t");
            } else if (c == '\n') {
                out.append("\\n");
            } else if (c == '\r') {
                out.append("\\r");
            } else if (c < ' ' || c == 0x7f) {
                hex(out, "\\x", c, 2);
            } else if (c < 0x7f || isPrintable(c)) {
                out.appendCodePoint(c);
            } else if (c <= 0xff) {
                hex(out, "\\x", c, 2);
            } else if (c <= 0xffff) {
                hex(out, "\\u", c, 4);
            } else {
                hex(out, "\\U", c, 8);
            }
        }
        out.append(quote);
    }

    /** Py_UNICODE_ISPRINTABLE. Java 17 knows Unicode 13, Python 3.11 Unicode 14: the characters
     * Unicode 14 added are escaped here and written as is by Python. */
    private static boolean isPrintable(int c) {
        switch (Character.getType(c)) {
            case Character.CONTROL:
            case Character.FORMAT:
            case Character.SURROGATE:
            case Character.PRIVATE_USE:
            case Character.UNASSIGNED:
            case Character.LINE_SEPARATOR:
            case Character.PARAGRAPH_SEPARATOR:
            case Character.SPACE_SEPARATOR:
                return false;
            default:
                return true;
        }
    }

    private static void hex(StringBuilder out, String prefix, int value, int digits) {
        out.append(prefix);
        for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
            out.append(HEX[(value >>> shift) & 0xf]);
        }
    }

    /** text.lower() == lower, for an ASCII `lower`: no non-ASCII character lowers to ASCII
     * letters but KELVIN SIGN, so only ASCII can match (unlike String.equalsIgnoreCase, which
     * takes U+017F for 's'). */
    static boolean lowerEquals(String text, String lower) {
        if (text.length() != lower.length()) {
            return false;
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                c += 'a' - 'A';
            }
            if (c != lower.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The text Double.parseDouble reads as Python's float(text) reads a stripped text, or null
     * where Python raises ValueError. Python reads Unicode decimal digits ("١٢٣"), "inf",
     * "infinity" and "nan" in any case, a bare "5." or ".5"; Double.parseDouble also reads "1d",
     * "0x1p3" and others, so the syntax is checked here first.
     */
    static String floatText(String text) {
        String ascii = asciiDigits(text);
        if (ascii == null) {
            return null;
        }
        int n = ascii.length();
        int i = 0;
        boolean negative = false;
        if (i < n && (ascii.charAt(i) == '+' || ascii.charAt(i) == '-')) {
            negative = ascii.charAt(i) == '-';
            i++;
        }
        int rest = n - i;
        if (rest == 3 && ascii.regionMatches(true, i, "inf", 0, 3)
                || rest == 8 && ascii.regionMatches(true, i, "infinity", 0, 8)) {
            return negative ? "-Infinity" : "Infinity";
        }
        if (rest == 3 && ascii.regionMatches(true, i, "nan", 0, 3)) {
            return "NaN";
        }
        int digits = 0;
        while (i < n && isDigit(ascii.charAt(i))) {
            i++;
            digits++;
        }
        if (i < n && ascii.charAt(i) == '.') {
            i++;
            while (i < n && isDigit(ascii.charAt(i))) {
                i++;
                digits++;
            }
        }
        if (digits == 0) {
            return null;
        }
        if (i < n && (ascii.charAt(i) == 'e' || ascii.charAt(i) == 'E')) {
            i++;
            if (i < n && (ascii.charAt(i) == '+' || ascii.charAt(i) == '-')) {
                i++;
            }
            int exponentDigits = 0;
            while (i < n && isDigit(ascii.charAt(i))) {
                i++;
                exponentDigits++;
            }
            if (exponentDigits == 0) {
                return null;
            }
        }
        return i == n ? ascii : null;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /** _PyUnicode_TransformDecimalAndSpaceToASCII: decimal digits of any script become ASCII;
     * anything else beyond ASCII (and DEL) fails, whitespace included as the text is stripped. */
    private static String asciiDigits(String text) {
        int i = 0;
        while (i < text.length() && text.charAt(i) < 0x7f) {
            i++;
        }
        if (i == text.length()) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length()).append(text, 0, i);
        while (i < text.length()) {
            int c = text.codePointAt(i);
            i += Character.charCount(c);
            if (c < 0x7f) {
                out.append((char) c);
            } else if (Character.getType(c) == Character.DECIMAL_DIGIT_NUMBER) {
                out.append((char) ('0' + Character.digit(c, 10)));
            } else {
                return null;
            }
        }
        return out.toString();
    }

    /** str(int(x)) for a finite x: every digit of the double's exact value. */
    static String intText(double x) {
        if (Math.abs(x) < TWO_TO_63) {
            return Long.toString((long) x);
        }
        return new BigDecimal(x).toBigInteger().toString();
    }

    /** How Python writes a NaN or an infinity, in str, repr and format alike. */
    private static String nonFinite(double x) {
        return Double.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
    }

    /** format(x, "g"): six significant digits, rounded half-even on the exact binary value. */
    static String g(double x) {
        if (!Double.isFinite(x)) {
            return nonFinite(x);
        }
        if (x == 0) {
            return negative(x) ? "-0" : "0";
        }
        BigDecimal rounded = new BigDecimal(Math.abs(x)).round(SIX_DIGITS);
        String digits = stripZeros(rounded.unscaledValue().toString());
        int exponent = rounded.precision() - rounded.scale() - 1;
        return layout(negative(x), digits, exponent, exponent >= -4 && exponent < 6, false);
    }

    /** repr(x): the shortest digits that read back as x, fixed notation with a ".0" for decimal
     * exponents -4..15, else Python's scientific form ("1e+16", "1.5e-05"). */
    static String repr(double x) {
        if (!Double.isFinite(x)) {
            return nonFinite(x);
        }
        if (x == 0) {
            return negative(x) ? "-0.0" : "0.0";
        }
        BigDecimal shortest = shortest(Math.abs(x));
        String digits = stripZeros(shortest.unscaledValue().toString());
        int exponent = shortest.precision() - shortest.scale() - 1;
        return layout(negative(x), digits, exponent, exponent >= -4 && exponent < 16, true);
    }

    private static boolean negative(double x) {
        return Double.doubleToRawLongBits(x) < 0;
    }

    /**
     * The shortest decimal that reads back as x (> 0), the nearest one among equally short. Java
     * 17's Double.toString always reads back but is sometimes a digit longer than needed (fixed
     * in JDK 19); with 15 digits or fewer it is the only decimal that short reading back as x
     * (DBL_DIG is 15) if x is normal, else the search below decides (subnormals have fewer
     * significant bits: Java writes 4.9E-324 where 5e-324 reads back too).
     */
    private static BigDecimal shortest(double x) {
        BigDecimal java = new BigDecimal(Double.toString(x)).stripTrailingZeros();
        if (java.precision() <= 15 && x >= Double.MIN_NORMAL) {
            return java;
        }
        BigDecimal exact = new BigDecimal(x);
        // Java's own digits read back, so its length always has a nearest decimal that does.
        for (int precision = 1; ; precision++) {
            BigDecimal down = exact.round(new MathContext(precision, RoundingMode.FLOOR));
            BigDecimal up = exact.round(new MathContext(precision, RoundingMode.CEILING));
            boolean downReads = down.doubleValue() == x;
            boolean upReads = up.doubleValue() == x;
            if (downReads && upReads) {
                int closer = exact.subtract(down).compareTo(up.subtract(exact));
                if (closer != 0) {
                    return closer < 0 ? down : up;
                }
                return down.unscaledValue().testBit(0) ? up : down;
            }
            if (downReads || upReads) {
                return downReads ? down : up;
            }
        }
    }

    private static String stripZeros(String digits) {
        int end = digits.length();
        while (end > 1 && digits.charAt(end - 1) == '0') {
            end--;
        }
        return digits.substring(0, end);
    }

    /** Writes 0.d1d2... x 10^(exponent+1) as CPython's format_float_short does. */
    private static String layout(boolean negative, String digits, int exponent, boolean fixed,
                                 boolean pointZero) {
        StringBuilder out = new StringBuilder(digits.length() + 8);
        if (negative) {
            out.append('-');
        }
        if (fixed) {
            int point = exponent + 1;
            if (point <= 0) {
                out.append("0.");
                for (int i = point; i < 0; i++) {
                    out.append('0');
                }
                out.append(digits);
            } else if (point >= digits.length()) {
                out.append(digits);
                for (int i = digits.length(); i < point; i++) {
                    out.append('0');
                }
                if (pointZero) {
                    out.append(".0");
                }
            } else {
                out.append(digits, 0, point).append('.').append(digits, point, digits.length());
            }
        } else {
            out.append(digits.charAt(0));
            if (digits.length() > 1) {
                out.append('.').append(digits, 1, digits.length());
            }
            out.append(exponent < 0 ? "e-" : "e+");
            int magnitude = Math.abs(exponent);
            if (magnitude < 10) {
                out.append('0');
            }
            out.append(magnitude);
        }
        return out.toString();
    }
}
