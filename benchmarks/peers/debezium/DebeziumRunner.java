// Debezium's PostgreSQL connector in the embedded engine, printing one JSON line per event:
// {"topic": ..., "key": <key JSON or null>, "value": <value JSON or null>} - the same form as
// `edgepipe cdc-print`, so the two can be compared line by line and benchmarked the same way.
// Built and run by scripts/debezium-env.sh (jars from Maven Central, javac, Java 17).
//
// Settings that matter for the comparison (each one Debezium's documented default unless said):
//   plugin.name=pgoutput, publication.name (default edgepipe_cdc), publication.autocreate.mode=
//   disabled, its own slot, JsonConverter with schemas.enable=false for key and value,
//   decimal.handling.mode=string (edgepipe's default; Debezium's is precise),
//   time.precision.mode=adaptive, binary.handling.mode=bytes, tombstones.on.delete=true,
//   skipped.operations=none (Debezium's default skips truncates; edgepipe emits them), offsets in
//   a file under --offsets-dir.
//
// Usage: java -cp CLASSPATH DebeziumRunner --host H --port P --db D --user U
//   [--password-env NAME] [--slot S] [--publication P] [--table schema.table]... [--snapshot
//   initial|no_data] [--topic-prefix edgepipe] [--decimal-handling string|double|precise]
//   [--offsets-dir DIR] [--max-events N] [--out FILE] [--prop key=value]...
// Stops after --max-events lines (tombstones count), or on SIGTERM/SIGINT; on stop it flushes
// and prints {"events": N} to stderr. Lines are flushed after every batch the engine hands over.
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;
import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

public final class DebeziumRunner {
  private static final AtomicLong EVENTS = new AtomicLong();
  private static final AtomicBoolean STOPPING = new AtomicBoolean();
  private static final CountDownLatch DONE = new CountDownLatch(1);

  private static void usage(String why) {
    System.err.println("DebeziumRunner: " + why);
    System.exit(2);
  }

  private static String jsonString(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }

  public static void main(String[] args) throws Exception {
    String host = "127.0.0.1", port = "5432", db = "edgepipe", user = "edgepipe";
    String passwordEnv = "EDGEPIPE_PG_PASSWORD", slot = "dbz_runner", publication = "edgepipe_cdc";
    String snapshot = "initial", prefix = "edgepipe", decimals = "string", out = null;
    String offsetsDir = null;
    long maxEvents = Long.MAX_VALUE;
    List<String> tables = new ArrayList<>();
    List<String> props = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (i + 1 >= args.length) usage("missing value after " + a);
      String v = args[++i];
      switch (a) {
        case "--host" -> host = v;
        case "--port" -> port = v;
        case "--db" -> db = v;
        case "--user" -> user = v;
        case "--password-env" -> passwordEnv = v;
        case "--slot" -> slot = v;
        case "--publication" -> publication = v;
        case "--table" -> tables.add(v);
        case "--snapshot" -> snapshot = v;
        case "--topic-prefix" -> prefix = v;
        case "--decimal-handling" -> decimals = v;
        case "--offsets-dir" -> offsetsDir = v;
        case "--max-events" -> maxEvents = Long.parseLong(v);
        case "--out" -> out = v;
        case "--prop" -> props.add(v);
        default -> usage("unknown option " + a);
      }
    }
    String password = System.getenv(passwordEnv);
    if (password == null) password = "";
    Path offsets = offsetsDir != null ? Path.of(offsetsDir) : Files.createTempDirectory("dbz-offsets");
    Files.createDirectories(offsets);

    Properties p = new Properties();
    p.setProperty("name", "edgepipe-compare-" + slot);
    p.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
    p.setProperty("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
    p.setProperty("offset.storage.file.filename", offsets.resolve("offsets.dat").toString());
    p.setProperty("offset.flush.interval.ms", "1000");
    p.setProperty("database.hostname", host);
    p.setProperty("database.port", port);
    p.setProperty("database.user", user);
    p.setProperty("database.password", password);
    p.setProperty("database.dbname", db);
    p.setProperty("topic.prefix", prefix);
    p.setProperty("plugin.name", "pgoutput");
    p.setProperty("slot.name", slot);
    p.setProperty("publication.name", publication);
    p.setProperty("publication.autocreate.mode", "disabled");
    if (!tables.isEmpty()) p.setProperty("table.include.list", String.join(",", tables));
    p.setProperty("snapshot.mode", snapshot);
    p.setProperty("decimal.handling.mode", decimals);
    p.setProperty("time.precision.mode", "adaptive");
    p.setProperty("binary.handling.mode", "bytes");
    p.setProperty("tombstones.on.delete", "true");
    p.setProperty("skipped.operations", "none");
    p.setProperty("converter.schemas.enable", "false");
    p.setProperty("key.converter.schemas.enable", "false");
    p.setProperty("value.converter.schemas.enable", "false");
    for (String kv : props) {
      int eq = kv.indexOf('=');
      if (eq <= 0) usage("--prop wants key=value, got " + kv);
      p.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
    }

    OutputStream raw = out == null || out.equals("-") ? new FileOutputStream(java.io.FileDescriptor.out)
                                                      : new FileOutputStream(out, true);
    PrintStream sink = new PrintStream(new BufferedOutputStream(raw, 1 << 16), false, StandardCharsets.UTF_8);
    final long limit = maxEvents;
    final ExecutorService closer = Executors.newSingleThreadExecutor();

    DebeziumEngine<ChangeEvent<String, String>> engine =
        DebeziumEngine.create(Json.class)
            .using(p)
            .notifying((List<ChangeEvent<String, String>> records,
                        DebeziumEngine.RecordCommitter<ChangeEvent<String, String>> committer) -> {
              StringBuilder line = new StringBuilder(1024);
              for (ChangeEvent<String, String> r : records) {
                if (EVENTS.get() >= limit) break;
                line.setLength(0);
                line.append("{\"topic\":").append(jsonString(r.destination()));
                line.append(",\"key\":").append(r.key() == null ? "null" : r.key());
                line.append(",\"value\":").append(r.value() == null ? "null" : r.value());
                line.append("}\n");
                sink.print(line);
                EVENTS.incrementAndGet();
                committer.markProcessed(r);
              }
              sink.flush();
              committer.markBatchFinished();
              if (EVENTS.get() >= limit && STOPPING.compareAndSet(false, true)) {
                closer.submit(() -> {
                  try {
                    engineRef[0].close();
                  } catch (IOException e) {
                    System.err.println("DebeziumRunner: close: " + e);
                  }
                });
              }
            })
            .using((success, message, error) -> {
              if (!success) {
                System.err.println("DebeziumRunner: engine stopped with an error: " + message);
                if (error != null) error.printStackTrace();
                FAILED.set(true);
              }
              DONE.countDown();
            })
            .build();
    engineRef[0] = engine;

    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (STOPPING.compareAndSet(false, true)) {
        try {
          engine.close();
        } catch (IOException e) {
          System.err.println("DebeziumRunner: close: " + e);
        }
      }
      try {
        DONE.await(java.util.concurrent.TimeUnit.SECONDS.toMillis(30), java.util.concurrent.TimeUnit.MILLISECONDS);
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
      sink.flush();
      System.err.println("{\"events\":" + EVENTS.get() + "}");
      System.err.flush();
    }));

    ExecutorService runner = Executors.newSingleThreadExecutor();
    runner.execute(engine);
    DONE.await();
    sink.flush();
    runner.shutdown();
    closer.shutdown();
    System.exit(FAILED.get() ? 1 : 0);  // the shutdown hook prints the count
  }

  @SuppressWarnings("unchecked")
  private static final DebeziumEngine<ChangeEvent<String, String>>[] engineRef = new DebeziumEngine[1];
  private static final AtomicBoolean FAILED = new AtomicBoolean();
}
