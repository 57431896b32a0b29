package continuum.serving;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One request's JSON object, read into per-key slots: what `json.loads` would have given for
 * each key the validator looks at. One per thread, reused request after request.
 *
 * Python's json accepts what Jackson must be told to (NaN, Infinity, -Infinity; keys repeated,
 * the last one winning) and refuses what Jackson accepts (a UTF-8 BOM, +Infinity and INF, an
 * integer of more than 4300 digits, any trailing token), so the whole document is walked token
 * by token here, nested values included, as Python parses them all before judging.
 */
final class RequestDocument {
    static final byte ABSENT = 0;
    static final byte NULL = 1;
    static final byte STRING = 2;
    static final byte TRUE = 3;
    static final byte FALSE = 4;
    static final byte INTEGER = 5;
    static final byte FLOAT = 6;
    static final byte STRINGS = 7;  // a list of str only
    static final byte LIST = 8;
    static final byte OBJECT = 9;

    /** read's outcomes. */
    static final int AN_OBJECT = 0;
    static final int NOT_JSON = 1;
    static final int NOT_AN_OBJECT = 2;

    /** Python's sys.int_info.default_max_str_digits: int() of a longer literal raises. */
    private static final int MAX_INT_DIGITS = 4300;

    private final JsonFactory factory;
    private final Map<String, Integer> slotOf;
    /** The key of each read slot, interned as Jackson interns keys. */
    private final String[] keys;
    private final int readSlots;

    final byte[] type;
    final String[] text;
    /** float(value) of a number; ±inf where Python's float() of a huge int would overflow. */
    final double[] number;
    /** The exact value of an INTEGER that fits a long. */
    final long[] exact;
    final boolean[] fitsLong;
    private final List<List<String>> items;
    /** The smallest key no slot knows (Python's min: by code point), or null. */
    String unknown;
    /** After NOT_JSON: why; after NOT_AN_OBJECT: the Python type's name. */
    String problem;
    private boolean escapedSurrogate;

    /**
     * `slotOf` maps each allowed key to its slot; slots from `readSlots` on are allowed keys whose
     * values are not needed (parsed all the same).
     */
    RequestDocument(Map<String, Integer> slotOf, int readSlots) {
        this.factory = factory();
        this.slotOf = slotOf;
        this.readSlots = readSlots;
        keys = new String[readSlots];
        slotOf.forEach((key, slot) -> {
            if (slot < readSlots) {
                keys[slot] = key.intern();
            }
        });
        type = new byte[readSlots];
        text = new String[readSlots];
        number = new double[readSlots];
        exact = new long[readSlots];
        fitsLong = new boolean[readSlots];
        items = new ArrayList<>(readSlots);
        for (int i = 0; i < readSlots; i++) {
            items.add(null);
        }
    }

    private static JsonFactory factory() {
        return JsonFactory.builder()
                .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
                // Python reads numbers and keys of any length; the request's size bounds both.
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNumberLength(Integer.MAX_VALUE)
                        .maxNameLength(Integer.MAX_VALUE)
                        .build())
                .build();
    }

    List<String> items(int slot) {
        return items.get(slot);
    }

    int read(byte[] raw) {
        Arrays.fill(type, ABSENT);
        Arrays.fill(text, null);
        unknown = null;
        problem = scan(raw);
        if (problem != null) {
            return NOT_JSON;
        }
        // Jackson's byte parser refuses a lone surrogate escaped in a key ("\ud800"), which
        // Python keeps; its char parser does not, at the cost of decoding first.
        try (JsonParser parser = escapedSurrogate
                ? factory.createParser(new String(raw, StandardCharsets.UTF_8))
                : factory.createParser(raw)) {
            JsonToken first = parser.nextToken();
            if (first == null) {
                problem = "Expecting value: line 1 column 1 (char 0)";
                return NOT_JSON;
            }
            if (first == JsonToken.START_OBJECT) {
                readMembers(parser);
            } else {
                skip(parser, first);
            }
            if (parser.nextToken() != null) {
                problem = "Extra data";
                return NOT_JSON;
            }
            if (first != JsonToken.START_OBJECT) {
                problem = pythonType(first);
                return NOT_AN_OBJECT;
            }
            return AN_OBJECT;
        } catch (JsonProcessingException error) {
            problem = error.getOriginalMessage();
            return NOT_JSON;
        } catch (IOException error) {
            problem = String.valueOf(error.getMessage());
            return NOT_JSON;
        }
    }

    /**
     * What bytes.decode("utf-8") refuses, checked before Jackson sees them: Python's strict
     * decoder (no overlong forms, no surrogates, nothing past U+10FFFF), and what json.loads then
     * refuses in any valid text that Jackson would take another way: a leading BOM, which
     * Jackson skips, and NUL, from which Jackson would guess UTF-16 or UTF-32. Also notes
     * whether a surrogate is escaped anywhere.
     */
    private String scan(byte[] raw) {
        escapedSurrogate = false;
        int n = raw.length;
        if (n >= 3 && (raw[0] & 0xff) == 0xef && (raw[1] & 0xff) == 0xbb && (raw[2] & 0xff) == 0xbf) {
            return "Unexpected UTF-8 BOM (decode using utf-8-sig)";
        }
        int i = 0;
        while (i < n) {
            int b = raw[i];
            if (b > 0) {
                if (b == '\\' && !escapedSurrogate) {
                    escapedSurrogate = isEscapedSurrogate(raw, i);
                }
                i++;
                continue;
            }
            if (b == 0) {
                return "NUL at byte " + i;
            }
            b &= 0xff;
            int more;
            int low = 0x80;
            int high = 0xbf;
            if (b < 0xc2) {
                return decodeProblem(b, i, "invalid start byte");
            } else if (b < 0xe0) {
                more = 1;
            } else if (b < 0xf0) {
                more = 2;
                low = b == 0xe0 ? 0xa0 : 0x80;
                high = b == 0xed ? 0x9f : 0xbf;
            } else if (b < 0xf5) {
                more = 3;
                low = b == 0xf0 ? 0x90 : 0x80;
                high = b == 0xf4 ? 0x8f : 0xbf;
            } else {
                return decodeProblem(b, i, "invalid start byte");
            }
            for (int k = 1; k <= more; k++) {
                if (i + k >= n) {
                    return decodeProblem(b, i, "unexpected end of data");
                }
                int c = raw[i + k] & 0xff;
                if (c < low || c > high) {
                    return decodeProblem(b, i, "invalid continuation byte");
                }
                low = 0x80;
                high = 0xbf;
            }
            i += more + 1;
        }
        return null;
    }

    private static boolean isEscapedSurrogate(byte[] raw, int i) {
        if (i + 3 >= raw.length || raw[i + 1] != 'u' || (raw[i + 2] | 0x20) != 'd') {
            return false;
        }
        int c = raw[i + 3] | 0x20;
        return c == '8' || c == '9' || (c >= 'a' && c <= 'f');
    }

    private static String decodeProblem(int b, int position, String why) {
        return String.format("'utf-8' codec can't decode byte 0x%02x in position %d: %s",
                b, position, why);
    }

    private static String pythonType(JsonToken token) {
        switch (token) {
            case START_ARRAY:
                return "list";
            case VALUE_STRING:
                return "str";
            case VALUE_NUMBER_INT:
                return "int";
            case VALUE_NUMBER_FLOAT:
                return "float";
            case VALUE_TRUE:
            case VALUE_FALSE:
                return "bool";
            default:
                return "NoneType";
        }
    }

    private void readMembers(JsonParser parser) throws IOException {
        int next = 0;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String name = parser.currentName();
            // Requests mostly list the fields in their published order: try the next slot's
            // (interned) key before hashing.
            Integer slot = next < readSlots && keys[next] == name ? Integer.valueOf(next) : slotOf.get(name);
            next = slot == null ? 0 : slot + 1;
            JsonToken token = parser.nextToken();
            if (slot == null) {
                if (unknown == null || compareCodePoints(name, unknown) < 0) {
                    unknown = name;
                }
                skip(parser, token);
            } else if (slot >= readSlots) {
                skip(parser, token);
            } else {
                readValue(parser, slot, token);
            }
        }
    }

    private void readValue(JsonParser parser, int slot, JsonToken token) throws IOException {
        text[slot] = null;
        switch (token) {
            case VALUE_STRING:
                type[slot] = STRING;
                text[slot] = parser.getText();
                break;
            case VALUE_NULL:
                type[slot] = NULL;
                break;
            case VALUE_TRUE:
                type[slot] = TRUE;
                break;
            case VALUE_FALSE:
                type[slot] = FALSE;
                break;
            case VALUE_NUMBER_INT:
                checkInteger(parser);
                type[slot] = INTEGER;
                if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                    BigInteger value = parser.getBigIntegerValue();
                    fitsLong[slot] = value.bitLength() < 64;
                    exact[slot] = value.longValue();
                    number[slot] = value.doubleValue();
                } else {
                    fitsLong[slot] = true;
                    exact[slot] = parser.getLongValue();
                    number[slot] = exact[slot];
                }
                break;
            case VALUE_NUMBER_FLOAT:
                checkFloat(parser);
                type[slot] = FLOAT;
                number[slot] = parser.getDoubleValue();
                break;
            case START_ARRAY:
                readList(parser, slot);
                break;
            default:
                skip(parser, token);
                type[slot] = OBJECT;
        }
    }

    private void readList(JsonParser parser, int slot) throws IOException {
        List<String> list = items.get(slot);
        if (list == null) {
            list = new ArrayList<>();
            items.set(slot, list);
        }
        list.clear();
        boolean strings = true;
        JsonToken token;
        while ((token = parser.nextToken()) != JsonToken.END_ARRAY) {
            if (token == JsonToken.VALUE_STRING) {
                if (strings) {
                    list.add(parser.getText());
                }
            } else {
                strings = false;
                skip(parser, token);
            }
        }
        type[slot] = strings ? STRINGS : LIST;
    }

    /** Reads past a value (a whole container from its start token), checking its numbers. */
    private static void skip(JsonParser parser, JsonToken token) throws IOException {
        int depth = 0;
        while (true) {
            if (token == null) {
                throw new JsonParseException(parser, "unexpected end of input");
            }
            switch (token) {
                case START_OBJECT:
                case START_ARRAY:
                    depth++;
                    break;
                case END_OBJECT:
                case END_ARRAY:
                    depth--;
                    break;
                case VALUE_NUMBER_INT:
                    checkInteger(parser);
                    break;
                case VALUE_NUMBER_FLOAT:
                    checkFloat(parser);
                    break;
                default:
                    break;
            }
            if (depth == 0) {
                return;
            }
            token = parser.nextToken();
        }
    }

    private static void checkInteger(JsonParser parser) throws IOException {
        int length = parser.getTextLength();
        if (length > MAX_INT_DIGITS) {
            int sign = parser.getTextCharacters()[parser.getTextOffset()] == '-' ? 1 : 0;
            if (length - sign > MAX_INT_DIGITS) {
                throw new JsonParseException(parser,
                        "Exceeds the limit (4300 digits) for integer string conversion");
            }
        }
    }

    /** Of the words Jackson reads as numbers, Python reads NaN, Infinity and -Infinity only. */
    private static void checkFloat(JsonParser parser) throws IOException {
        char[] chars = parser.getTextCharacters();
        int offset = parser.getTextOffset();
        int length = parser.getTextLength();
        char first = chars[offset];
        if (first >= '0' && first <= '9') {
            return;
        }
        if (first == '-' && length > 1 && chars[offset + 1] >= '0' && chars[offset + 1] <= '9') {
            return;
        }
        String word = parser.getText();
        if (!word.equals("NaN") && !word.equals("Infinity") && !word.equals("-Infinity")) {
            throw new JsonParseException(parser, "Expecting value");
        }
    }

    /** Python's str ordering: by code point, where String.compareTo goes by UTF-16 unit. */
    static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int x = a.codePointAt(i);
            int y = b.codePointAt(j);
            if (x != y) {
                return Integer.compare(x, y);
            }
            i += Character.charCount(x);
            j += Character.charCount(y);
        }
        return Boolean.compare(i < a.length(), j < b.length());
    }
}
