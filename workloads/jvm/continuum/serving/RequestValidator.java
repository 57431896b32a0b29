package continuum.serving;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.UncheckedIOException;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A scoring request's bytes → its verdict: the query function `continuum_validate_request`, run
 * by Spark in the tasks that read the requests (`continuum_workloads.serving.requests` registers
 * it and documents the verdict's fields).
 *
 * The tables (fields, kinds, bounds, the dataset's patterns) come from that Python module as
 * JSON; the rules that apply them are here. The dataset was written by pandas, and its text forms
 * are Python's, so where Java and Python differ in a primitive (strip, float(), repr,
 * fromisoformat, what json.loads accepts) this follows CPython 3.11: PyText, IsoDateTime and
 * RequestDocument. The first failing check gives the verdict, in this order: the bytes, JSON, an
 * object, request_id, event_time, unknown keys (the smallest first), each field in the listing's
 * order, the required fields, the year's range.
 */
public final class RequestValidator implements UDF2<byte[], Integer, Row> {
    private static final long serialVersionUID = 1L;
    private static final String REQUEST_ID = "request_id";
    private static final String EVENT_TIME = "event_time";
    private static final String YEAR = "year";
    /** request_id, event_time_ms, reason, field, detail; the listing follows. */
    private static final int VERDICT_COLUMNS = 5;

    enum Kind {
        TEXT, INTEGER, DECIMAL, FLAG, DATE, INCHES, GALLONS, SEATS, POWER, TORQUE, OPTIONS;

        final String value = name().toLowerCase(Locale.ROOT);
    }

    /** Only the JSON travels to the tasks; each rebuilds what is compiled from it. */
    private final String rulesJson;
    private transient Rules rules;
    private transient ThreadLocal<Scratch> scratch;

    public RequestValidator(String rulesJson) {
        this.rulesJson = rulesJson;
        compile();
    }

    private void compile() {
        Rules compiled = new Rules(rulesJson);
        rules = compiled;
        scratch = ThreadLocal.withInitial(() -> new Scratch(compiled));
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        compile();
    }

    public static void register(SparkSession spark, String name, String rulesJson) {
        RequestValidator validator = new RequestValidator(rulesJson);
        spark.udf().register(name, validator, validator.resultType());
    }

    public StructType resultType() {
        List<StructField> fields = new ArrayList<>(VERDICT_COLUMNS + rules.names.length);
        fields.add(DataTypes.createStructField(REQUEST_ID, DataTypes.StringType, true));
        fields.add(DataTypes.createStructField("event_time_ms", DataTypes.LongType, true));
        fields.add(DataTypes.createStructField("reason", DataTypes.StringType, true));
        fields.add(DataTypes.createStructField("field", DataTypes.StringType, true));
        fields.add(DataTypes.createStructField("detail", DataTypes.StringType, true));
        for (String name : rules.names) {
            fields.add(DataTypes.createStructField(name, DataTypes.StringType, true));
        }
        return DataTypes.createStructType(fields);
    }

    /** `latestYear` is the largest valid year; null means the current UTC year + 1. */
    @Override
    public Row call(byte[] raw, Integer latestYear) {
        Rules r = rules;
        if (raw == null) {
            return rejection("not_json", null, "the record has no value", null);
        }
        if (raw.length > r.maxRequestBytes) {
            return rejection("too_large", null,
                    raw.length + " bytes; at most " + r.maxRequestBytes, null);
        }
        Scratch s = scratch.get();
        RequestDocument document = s.document;
        switch (document.read(raw)) {
            case RequestDocument.NOT_JSON:
                return rejection("not_json", null, head("not UTF-8 JSON: " + document.problem, 300),
                        null);
            case RequestDocument.NOT_AN_OBJECT:
                return rejection("not_an_object", null,
                        "a JSON " + document.problem + ", not an object", null);
            default:
                break;
        }
        String givenId = document.type[r.requestIdSlot] == RequestDocument.STRING
                ? document.text[r.requestIdSlot] : null;
        try {
            String requestId = requestId(document, givenId);
            Long eventTime = eventTime(s);
            Object[] row = new Object[VERDICT_COLUMNS + r.names.length];
            row[0] = requestId;
            row[1] = eventTime;
            listing(s, row, latestYear != null ? latestYear : LocalDate.now(ZoneOffset.UTC).getYear() + 1);
            if (s.eventTimeBeyondLong) {
                // event_time_ms is a long. Refused last: any other fault of the request is the
                // one it is refused for.
                throw new Invalid("out_of_range", EVENT_TIME, "ms since the epoch must be below 2**63");
            }
            return RowFactory.create(row);
        } catch (Invalid invalid) {
            String knownId = givenId != null && !givenId.isEmpty() ? givenId : null;
            return rejection(invalid.reason, invalid.field, invalid.getMessage(), knownId);
        }
    }

    private Row rejection(String reason, String field, String detail, String requestId) {
        Object[] row = new Object[VERDICT_COLUMNS + rules.names.length];
        row[0] = requestId;
        row[2] = reason;
        row[3] = field;
        row[4] = detail;
        return RowFactory.create(row);
    }

    private static String head(String s, int codePoints) {
        if (s.length() <= codePoints || s.codePointCount(0, s.length()) <= codePoints) {
            return s;
        }
        return s.substring(0, s.offsetByCodePoints(0, codePoints));
    }

    private String requestId(RequestDocument document, String given) throws Invalid {
        byte type = document.type[rules.requestIdSlot];
        if (type == RequestDocument.ABSENT || type == RequestDocument.NULL) {
            throw new Invalid("missing_field", REQUEST_ID, "request_id is required");
        }
        if (given == null || PyText.isBlank(given)) {
            throw new Invalid("mistyped", REQUEST_ID, "request_id must be a non-empty string");
        }
        if (PyText.longerThan(given, rules.maxRequestIdChars)) {
            throw new Invalid("too_large", REQUEST_ID,
                    "at most " + rules.maxRequestIdChars + " characters");
        }
        return given;
    }

    private Long eventTime(Scratch s) throws Invalid {
        RequestDocument document = s.document;
        int slot = rules.eventTimeSlot;
        s.eventTimeBeyondLong = false;
        switch (document.type[slot]) {
            case RequestDocument.ABSENT:
            case RequestDocument.NULL:
                return null;
            case RequestDocument.STRING: {
                String value = document.text[slot];
                long millis = IsoDateTime.epochMillis(value);
                if (millis == IsoDateTime.INVALID) {
                    throw new Invalid("invalid_value", EVENT_TIME,
                            "not ISO-8601: " + PyText.quoted(value));
                }
                return millis;
            }
            case RequestDocument.INTEGER:
            case RequestDocument.FLOAT: {
                double value = document.number[slot];
                if (!Double.isFinite(value) || value < 0) {
                    throw new Invalid("out_of_range", EVENT_TIME, "ms since the epoch must be >= 0");
                }
                boolean exact = document.type[slot] == RequestDocument.INTEGER;
                if (exact ? !document.fitsLong[slot] : value >= 0x1p63) {
                    s.eventTimeBeyondLong = true;
                    return null;
                }
                return exact ? document.exact[slot] : (long) value;
            }
            default:
                throw new Invalid("mistyped", EVENT_TIME, "an ISO-8601 string or ms since the epoch");
        }
    }

    private void listing(Scratch s, Object[] row, int latestYear) throws Invalid {
        Rules r = rules;
        RequestDocument document = s.document;
        if (document.unknown != null) {
            throw new Invalid("unknown_field", document.unknown,
                    "not a listing field: " + PyText.repr(document.unknown));
        }
        for (int i = 0; i < r.names.length; i++) {
            byte type = document.type[i];
            if (type != RequestDocument.ABSENT && type != RequestDocument.NULL) {
                row[VERDICT_COLUMNS + i] = text(s, i);
            }
        }
        for (int i : r.required) {
            if (row[VERDICT_COLUMNS + i] == null) {
                throw new Invalid("missing_field", r.names[i], r.names[i] + " is required");
            }
        }
        double year = s.numbers[r.yearSlot];  // whole: year is an integer kind
        if (!(r.earliestYear <= year && year <= latestYear)) {
            throw new Invalid("out_of_range", YEAR, PyText.intText(year) + " is not in "
                    + r.earliestYear + ".." + latestYear);
        }
    }

    /** The value in the dataset's text form, null if missing. */
    private String text(Scratch s, int i) throws Invalid {
        Rules r = rules;
        RequestDocument document = s.document;
        Kind kind = r.kinds[i];
        String name = r.names[i];
        byte type = document.type[i];
        if (type == RequestDocument.STRING) {
            String value = document.text[i];
            if (PyText.longerThan(value, r.maxTextChars)) {
                throw new Invalid("too_large", name, "at most " + r.maxTextChars + " characters");
            }
            String stripped = PyText.strip(value);
            for (String marker : r.missingMarkers) {
                if (stripped.equals(marker)) {
                    return null;
                }
            }
            return kind == Kind.TEXT ? value : checkedText(s, i, kind, stripped);
        }
        if (kind == Kind.FLAG) {
            if (type != RequestDocument.TRUE && type != RequestDocument.FALSE) {
                throw new Invalid("mistyped", name, "a flag is true, false, \"True\" or \"False\"");
            }
            return type == RequestDocument.TRUE ? "True" : "False";
        }
        if (kind == Kind.OPTIONS) {
            if (type != RequestDocument.STRINGS) {
                throw new Invalid("mistyped", name, "options are a list of strings");
            }
            return PyText.repr(document.items(i));
        }
        if (type != RequestDocument.INTEGER && type != RequestDocument.FLOAT) {
            String kindText = kind == Kind.TEXT ? "text" : "a number or " + kind.value + " text";
            throw new Invalid("mistyped", name, name + " must be " + kindText);
        }
        if (kind == Kind.TEXT || kind == Kind.DATE) {
            throw new Invalid("mistyped", name, name + " must be a string");
        }
        double number = document.number[i];
        boolean whole = checkedNumber(s, i, kind, number);
        if (kind == Kind.INTEGER) {
            return PyText.intText(number);
        }
        String written = whole && kind != Kind.DECIMAL ? PyText.intText(number) : PyText.repr(number);
        return r.suffixes[i] == null ? written : written + r.suffixes[i];
    }

    private String checkedText(Scratch s, int i, Kind kind, String text) throws Invalid {
        Rules r = rules;
        String name = r.names[i];
        switch (kind) {
            case INTEGER:
            case DECIMAL: {
                // Python reads "1_000", Spark's cast to double does not.
                String number = text.indexOf('_') < 0 ? PyText.floatText(text) : null;
                if (number == null) {
                    throw new Invalid("invalid_value", name, "not a number: " + PyText.quoted(text));
                }
                checkedNumber(s, i, kind, Double.parseDouble(number));
                return text;
            }
            case FLAG:
                if (!PyText.lowerEquals(text, "true") && !PyText.lowerEquals(text, "false")) {
                    throw new Invalid("invalid_value", name,
                            "not True or False: " + PyText.quoted(text));
                }
                return text;
            case DATE:
                if (!isDate(text)) {
                    throw new Invalid("invalid_value", name,
                            "not a yyyy-MM-dd date: " + PyText.quoted(text));
                }
                return text;
            case OPTIONS:
                if (!s.options.reset(text).lookingAt()) {
                    throw new Invalid("invalid_value", name,
                            "not a list literal like \"['Bluetooth']\"");
                }
                return text;
            default: {
                Matcher match = s.units[i].reset(text);
                if (!match.lookingAt()) {
                    throw new Invalid("invalid_value", name,
                            PyText.quoted(text) + " is not like " + r.examples[i]);
                }
                String digits = text.substring(match.start(1), match.end(1));
                if (digits.indexOf(',') >= 0) {
                    digits = digits.replace(",", "");
                }
                checkedNumber(s, i, kind, Double.parseDouble(digits));
                return text;
            }
        }
    }

    /**
     * re.match(r"^\d{4}-\d{2}-\d{2}$") then date.fromisoformat. Python's \d also takes other
     * scripts' digits, which fromisoformat then refuses: the same verdict as ASCII digits only.
     */
    private static boolean isDate(String text) {
        if (text.length() != 10 || text.charAt(4) != '-' || text.charAt(7) != '-') {
            return false;
        }
        int year = 0;
        int month = 0;
        int day = 0;
        for (int k = 0; k < 10; k++) {
            if (k == 4 || k == 7) {
                continue;
            }
            int digit = text.charAt(k) - '0';
            if (digit < 0 || digit > 9) {
                return false;
            }
            if (k < 4) {
                year = year * 10 + digit;
            } else if (k < 7) {
                month = month * 10 + digit;
            } else {
                day = day * 10 + digit;
            }
        }
        return year >= 1 && month >= 1 && month <= 12 && day >= 1
                && day <= LocalDate.of(year, month, 1).lengthOfMonth();
    }

    /** _checked_number: whether the number is whole; also keeps it (for the year). */
    private boolean checkedNumber(Scratch s, int i, Kind kind, double number) throws Invalid {
        Rules r = rules;
        s.numbers[i] = number;
        if (!Double.isFinite(number)) {
            throw new Invalid("invalid_value", r.names[i], "not a finite number");
        }
        if (!(r.low[i] <= number && number <= r.high[i])) {
            throw new Invalid("out_of_range", r.names[i],
                    PyText.g(number) + " is not in " + r.boundsText[i]);
        }
        boolean whole = number == Math.rint(number);
        if ((kind == Kind.INTEGER || kind == Kind.SEATS) && !whole) {
            throw new Invalid("invalid_value", r.names[i], PyText.g(number) + " is not a whole number");
        }
        return whole;
    }

    /** A rejection on its way out; no stack trace, as rejections are routine. */
    private static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;
        final String reason;
        final String field;

        Invalid(String reason, String field, String detail) {
            super(detail, null, false, false);
            this.reason = reason;
            this.field = field;
        }
    }

    /** What one thread reuses from request to request. */
    private static final class Scratch {
        final RequestDocument document;
        /** Per field, the number its check read (NaN if none). */
        final double[] numbers;
        final Matcher[] units;
        final Matcher options;
        boolean eventTimeBeyondLong;

        Scratch(Rules rules) {
            document = new RequestDocument(rules.slotOf, rules.names.length + 2);
            numbers = new double[rules.names.length];
            units = new Matcher[rules.names.length];
            for (int i = 0; i < units.length; i++) {
                if (rules.unitPatterns[i] != null) {
                    units[i] = rules.unitPatterns[i].matcher("");
                }
            }
            options = rules.optionsPattern.matcher("");
        }
    }

    /** The Python module's tables, compiled. */
    private static final class Rules {
        final String[] names;
        final Kind[] kinds;
        final double[] low;
        final double[] high;
        /** "{low:g}..{high:g}", as an out-of-range detail ends. */
        final String[] boundsText;
        final Pattern[] unitPatterns;
        final String[] suffixes;
        /** repr of the example of the field's unit kind. */
        final String[] examples;
        final int[] required;
        final int yearSlot;
        final int requestIdSlot;
        final int eventTimeSlot;
        /** Every allowed key → its slot in RequestDocument: the listing fields, request_id,
         * event_time, then one shared slot for the other allowed keys (their values are unused). */
        final Map<String, Integer> slotOf = new HashMap<>();
        final String[] missingMarkers;
        final Pattern optionsPattern;
        final int earliestYear;
        final int maxRequestBytes;
        final int maxRequestIdChars;
        final int maxTextChars;

        Rules(String json) {
            JsonNode root;
            try {
                root = new ObjectMapper().readTree(json);
            } catch (IOException error) {
                throw new UncheckedIOException("the validation rules are not JSON", error);
            }
            JsonNode fields = root.required("fields");
            int n = fields.size();
            names = new String[n];
            kinds = new Kind[n];
            low = new double[n];
            high = new double[n];
            boundsText = new String[n];
            unitPatterns = new Pattern[n];
            suffixes = new String[n];
            examples = new String[n];
            JsonNode bounds = root.required("bounds");
            for (int i = 0; i < n; i++) {
                names[i] = fields.get(i).get(0).asText();
                kinds[i] = Kind.valueOf(fields.get(i).get(1).asText().toUpperCase(Locale.ROOT));
                slotOf.put(names[i], i);
                JsonNode range = bounds.required(names[i]);
                low[i] = range.get(0).isNull() ? Double.NEGATIVE_INFINITY : range.get(0).asDouble();
                high[i] = range.get(1).isNull() ? Double.POSITIVE_INFINITY : range.get(1).asDouble();
                boundsText[i] = PyText.g(low[i]) + ".." + PyText.g(high[i]);
                String kind = kinds[i].value;
                JsonNode pattern = root.required("unit_patterns").get(kind);
                if (pattern != null) {
                    unitPatterns[i] = compile(pattern.asText());
                    suffixes[i] = root.required("unit_suffixes").required(kind).asText();
                    examples[i] = PyText.repr(root.required("examples").required(kind).asText());
                }
            }
            requestIdSlot = n;
            eventTimeSlot = n + 1;
            slotOf.put(REQUEST_ID, requestIdSlot);
            slotOf.put(EVENT_TIME, eventTimeSlot);
            for (JsonNode extra : root.required("allowed_extra")) {
                slotOf.putIfAbsent(extra.asText(), n + 2);
            }
            JsonNode requiredNames = root.required("required");
            required = new int[requiredNames.size()];
            for (int k = 0; k < required.length; k++) {
                required[k] = slotOf.get(requiredNames.get(k).asText());
            }
            yearSlot = slotOf.get(YEAR);
            JsonNode markers = root.required("missing_markers");
            missingMarkers = new String[markers.size()];
            for (int k = 0; k < missingMarkers.length; k++) {
                missingMarkers[k] = markers.get(k).asText();
            }
            optionsPattern = compile(root.required("options_pattern").asText());
            earliestYear = root.required("earliest_year").asInt();
            maxRequestBytes = root.required("max_request_bytes").asInt();
            maxRequestIdChars = root.required("max_request_id_chars").asInt();
            maxTextChars = root.required("max_text_chars").asInt();
        }

        /** Python's `.` and `$` know only \n as a line end; Java's also \r, U+0085, U+2028/9. */
        private static Pattern compile(String pattern) {
            return Pattern.compile(pattern, Pattern.UNIX_LINES);
        }
    }
}
