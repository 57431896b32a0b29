package continuum.serving;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Exactly-once output to Kafka, run by Spark in the tasks that scored the requests: each
 * micro-batch's answers from one partition of the requests topic go out in one Kafka transaction
 * together with that partition's consumer-group offset, under a transactional.id of that
 * partition's own ({@code <the ServingDeployment's>-<partition>}).
 *
 * <p>Why it holds:
 *
 * <ul>
 *   <li>Crash: a batch whose transaction did not commit left nothing visible to read_committed
 *       readers; the next holder's {@link #takeOver} aborts it and Spark replays the batch from its
 *       checkpoint, so every request in it is answered again, once.
 *   <li>Replay: Spark re-runs a batch whose output already committed (it stopped before writing
 *       its own commit log). The committed group offsets say so: records below them are skipped.
 *   <li>Zombie: the transactional.id is fixed per ServingDeployment and partition, so a new
 *       holder's {@code initTransactions} bumps the producer epoch and the broker refuses the old
 *       holder's late writes and commit ({@link TransactionFenced}); that process must stop. A
 *       producer holds its id from before it reads the committed offset until its commit, so
 *       whichever writer commits answers only what no earlier commit did.
 *   <li>Outage: every call to the brokers is bounded ({@code max.block.ms}); a transaction that
 *       fails is aborted and its producer closed, and the batch fails, to be run again.
 * </ul>
 *
 * <p>A partition's producer stays open from one micro-batch to the next of one run of the query
 * (the {@code run} of the instance planned for it): opening one costs round trips to the
 * transaction coordinator, which also makes a reopened id wait until the markers of its last
 * transaction are written. A new run (a restart, after {@link #takeOver}) opens its own. This
 * relies on one task writing each partition of a micro-batch, as Spark's Kafka source plans it
 * by default (no {@code minPartitions}, no {@code maxRecordsPerPartition}): two tasks with one
 * id would fence each other.
 */
public final class TransactionalAnswers implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    /** One row per partition of the requests topic a task answered: what it did. */
    public static final StructType OUTCOME =
            new StructType()
                    .add("partition", DataTypes.IntegerType)
                    .add("records", DataTypes.LongType)
                    .add("skipped", DataTypes.LongType)
                    .add("predictions", DataTypes.LongType)
                    .add("dead_letters", DataTypes.StringType); // JSON: {reason: count}

    /** The columns of the answers, in this order (as `answers.answer_records` names them). */
    public static final List<String> ANSWER_COLUMNS =
            List.of("partition", "offset", "reason", "topic", "key", "value", "headers");

    private static final int PARTITION = 0;
    private static final int OFFSET = 1;
    private static final int REASON = 2;
    private static final int TOPIC = 3;
    private static final int KEY = 4;
    private static final int VALUE = 5;
    private static final int HEADERS = 6;

    /** The open producers of this JVM, by transactional.id. */
    private static final Map<String, PartitionTransactions> OPEN = new ConcurrentHashMap<>();

    private final HashMap<String, String> clientConfig;
    private final String transactionalId;
    private final String consumerGroup;
    private final String requestsTopic;
    private final long timeoutMs;
    private final String run = UUID.randomUUID().toString();

    public TransactionalAnswers(
            Map<String, String> clientConfig,
            String transactionalId,
            String consumerGroup,
            String requestsTopic,
            long timeoutMs) {
        this.clientConfig = new HashMap<>(clientConfig);
        this.transactionalId = transactionalId;
        this.consumerGroup = consumerGroup;
        this.requestsTopic = requestsTopic;
        this.timeoutMs = timeoutMs;
    }

    /** The answers (ANSWER_COLUMNS) → one OUTCOME row per partition, each partition written. */
    public Dataset<Row> written(Dataset<Row> answers) {
        String[] columns = ANSWER_COLUMNS.stream().map(c -> "`" + c + "`").toArray(String[]::new);
        Dataset<Row> ordered = answers.selectExpr(columns);
        return ordered.mapPartitions(this, Encoders.row(OUTCOME));
    }

    /** The transactional.id of one partition of the requests topic. */
    public static String partitionTransactionalId(String transactionalId, int partition) {
        return transactionalId + "-" + partition;
    }

    /**
     * Opens (then closes) the transactional.id of every partition of the requests topic: the
     * previous holder is fenced everywhere and its open transactions aborted before this one's
     * first batch. Returns the number of partitions.
     */
    public int takeOver() {
        List<PartitionInfo> partitions;
        try (KafkaConsumer<byte[], byte[]> probe = new KafkaConsumer<>(consumerConfig())) {
            partitions = probe.partitionsFor(requestsTopic, Duration.ofMillis(timeoutMs));
        }
        if (partitions == null || partitions.isEmpty()) {
            throw new KafkaException("topic " + requestsTopic + " has no partitions");
        }
        for (PartitionInfo partition : partitions) {
            String id = partitionTransactionalId(transactionalId, partition.partition());
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig(id))) {
                producer.initTransactions();
            }
        }
        return partitions.size();
    }

    @Override
    public Iterator<Row> call(Iterator<Row> answers) {
        TreeMap<Integer, List<Row>> byPartition = new TreeMap<>();
        answers.forEachRemaining(
                row ->
                        byPartition
                                .computeIfAbsent(row.getInt(PARTITION), p -> new ArrayList<>())
                                .add(row));
        List<Row> outcomes = new ArrayList<>(byPartition.size());
        byPartition.forEach((partition, rows) -> outcomes.add(answer(partition, rows)));
        return outcomes.iterator();
    }

    private Row answer(int partition, List<Row> rows) {
        String id = partitionTransactionalId(transactionalId, partition);
        PartitionTransactions writer = open(id);
        try {
            long committed = writer.committed(partition);
            List<Row> todo = new ArrayList<>(rows.size());
            long next = committed;
            for (Row row : rows) {
                long offset = row.getLong(OFFSET);
                if (offset >= committed) {
                    todo.add(row);
                    next = Math.max(next, offset + 1);
                }
            }
            TreeMap<String, Long> dead = new TreeMap<>();
            if (!todo.isEmpty()) {
                writer.commit(todo, partition, next);
                for (Row row : todo) {
                    if (!row.isNullAt(REASON)) dead.merge(row.getString(REASON), 1L, Long::sum);
                }
            }
            long deadLetters = dead.values().stream().mapToLong(Long::longValue).sum();
            return RowFactory.create(
                    partition,
                    (long) rows.size(),
                    (long) (rows.size() - todo.size()),
                    todo.size() - deadLetters,
                    countsJson(dead));
        } catch (RuntimeException failed) {
            // A fenced producer does not always say so itself (a pending AddOffsetsToTxn can
            // time out instead); the abort that follows then fails with the fence.
            RuntimeException abortFailed = fenced(failed) ? null : writer.abort();
            discard(id, writer);
            if (fenced(failed) || fenced(abortFailed)) throw new TransactionFenced(id, failed);
            throw failed;
        }
    }

    /** Whether `failure` (or what caused it) says a newer producer holds the id. */
    private static boolean fenced(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof ProducerFencedException
                    || cause instanceof InvalidProducerEpochException) {
                return true;
            }
        }
        return false;
    }

    private PartitionTransactions open(String id) {
        PartitionTransactions cached = OPEN.get(id);
        if (cached != null && cached.run.equals(run)) return cached;
        if (cached != null) discard(id, cached);
        PartitionTransactions opened =
                new PartitionTransactions(
                        run, requestsTopic, producerConfig(id), consumerConfig(), timeoutMs);
        OPEN.put(id, opened);
        return opened;
    }

    private static void discard(String id, PartitionTransactions writer) {
        OPEN.remove(id, writer);
        writer.close();
    }

    private Map<String, Object> producerConfig(String id) {
        Map<String, Object> config = new HashMap<>(clientConfig);
        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id);
        config.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, (int) timeoutMs);
        config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, timeoutMs);
        config.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        config.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        return config;
    }

    private Map<String, Object> consumerConfig() {
        Map<String, Object> config = new HashMap<>(clientConfig);
        config.put(ConsumerConfig.GROUP_ID_CONFIG, consumerGroup);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // Makes `committed` wait for offsets of a transaction still being completed.
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        return config;
    }

    private static String countsJson(Map<String, Long> counts) {
        StringBuilder json = new StringBuilder("{");
        counts.forEach(
                (reason, count) -> {
                    if (json.length() > 1) json.append(", ");
                    json.append('"').append(reason).append("\": ").append(count);
                });
        return json.append('}').toString();
    }

    /** A partition's transactional producer and the reader of its committed offset. */
    private static final class PartitionTransactions {
        final String run;
        private final String requestsTopic;
        private final Duration timeout;
        private final ConsumerGroupMetadata group;
        private final KafkaProducer<byte[], byte[]> producer;
        private final KafkaConsumer<byte[], byte[]> offsets;

        PartitionTransactions(
                String run,
                String requestsTopic,
                Map<String, Object> producerConfig,
                Map<String, Object> consumerConfig,
                long timeoutMs) {
            this.run = run;
            this.requestsTopic = requestsTopic;
            this.timeout = Duration.ofMillis(timeoutMs);
            String groupId = (String) consumerConfig.get(ConsumerConfig.GROUP_ID_CONFIG);
            this.group = new ConsumerGroupMetadata(groupId);
            this.producer = new KafkaProducer<>(producerConfig);
            this.offsets = new KafkaConsumer<>(consumerConfig);
            try {
                producer.initTransactions();
            } catch (RuntimeException failed) {
                close();
                throw failed;
            }
        }

        /** The next offset of `partition` to answer, as the last transaction committed it. */
        long committed(int partition) {
            TopicPartition source = new TopicPartition(requestsTopic, partition);
            Map<TopicPartition, OffsetAndMetadata> found =
                    offsets.committed(Set.of(source), timeout);
            OffsetAndMetadata offset = found.get(source);
            return offset == null ? 0 : offset.offset();
        }

        /** Writes `answers` and commits `next` as the partition's offset, in one transaction. */
        void commit(List<Row> answers, int partition, long next) {
            producer.beginTransaction();
            for (Row answer : answers) {
                producer.send(record(answer));
            }
            producer.sendOffsetsToTransaction(
                    Map.of(
                            new TopicPartition(requestsTopic, partition),
                            new OffsetAndMetadata(next)),
                    group);
            producer.commitTransaction();
        }

        /** Aborts the open transaction; what it failed with, if it did (then whatever is left
         * open is aborted by the next initTransactions of the id). */
        RuntimeException abort() {
            try {
                producer.abortTransaction();
                return null;
            } catch (RuntimeException failed) {
                return failed;
            }
        }

        void close() {
            producer.close(Duration.ZERO);
            offsets.close(Duration.ZERO);
        }
    }

    private static ProducerRecord<byte[], byte[]> record(Row answer) {
        RecordHeaders headers = new RecordHeaders();
        if (!answer.isNullAt(HEADERS)) {
            for (Row header : answer.<Row>getList(HEADERS)) {
                headers.add(header.getString(0), (byte[]) header.get(1));
            }
        }
        byte[] key = answer.isNullAt(KEY) ? null : (byte[]) answer.get(KEY);
        byte[] value = answer.isNullAt(VALUE) ? null : (byte[]) answer.get(VALUE);
        return new ProducerRecord<>(answer.getString(TOPIC), null, key, value, headers);
    }

    /** Another process took a transactional.id over; this one must stop writing. */
    public static final class TransactionFenced extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TransactionFenced(String transactionalId, Throwable cause) {
            super("fenced: another holder took transactional.id " + transactionalId, cause);
        }
    }
}
