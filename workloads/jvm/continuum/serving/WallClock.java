package continuum.serving;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF0;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;

/**
 * The time a row is computed, in ms since the epoch. Spark's current_timestamp() is fixed when a
 * micro-batch is planned, and a real-time batch lasts seconds: a prediction's time must be its own.
 */
public final class WallClock implements UDF0<Long> {
    private static final long serialVersionUID = 1L;

    @Override
    public Long call() {
        return System.currentTimeMillis();
    }

    /** Registers the clock as the temporary function {@code name}, evaluated row by row. */
    public static void register(SparkSession spark, String name) {
        UserDefinedFunction clock = functions.udf(new WallClock(), DataTypes.LongType);
        spark.udf().register(name, clock.asNondeterministic());
    }
}
