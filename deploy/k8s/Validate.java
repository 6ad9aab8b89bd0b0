import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.File;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Validates Kubernetes resources against the API model the Strimzi operator
 * itself reads (io.strimzi:api) and fabric8's Kubernetes model.
 *
 * Usage: java -cp '<jars>/*' Validate.java file.yaml...
 * Prints one line per document ("ok <kind> <name>" or "error <file>#<n> <kind> <name>: <problem>")
 * and exits 1 if any document has a problem.
 *
 * The model classes keep unknown fields instead of failing on them (Strimzi's
 * UnknownPropertyPreserving, fabric8's additionalProperties): the operator only
 * warns about them. Here every object is walked after reading, and any field
 * the model did not recognise is an error, with its path. Config maps are
 * checked against the forbidden prefixes the model declares (the operator
 * drops those keys).
 */
public class Validate {
  static final Map<String, String> KINDS = new LinkedHashMap<>();

  static {
    KINDS.put("kafka.strimzi.io/v1beta2/Kafka", "io.strimzi.api.kafka.model.kafka.Kafka");
    KINDS.put("kafka.strimzi.io/v1beta2/KafkaNodePool", "io.strimzi.api.kafka.model.nodepool.KafkaNodePool");
    KINDS.put("kafka.strimzi.io/v1beta2/KafkaTopic", "io.strimzi.api.kafka.model.topic.KafkaTopic");
    KINDS.put("kafka.strimzi.io/v1beta2/KafkaUser", "io.strimzi.api.kafka.model.user.KafkaUser");
    KINDS.put("kafka.strimzi.io/v1beta2/KafkaMirrorMaker2", "io.strimzi.api.kafka.model.mirrormaker2.KafkaMirrorMaker2");
    KINDS.put("kafka.strimzi.io/v1beta2/KafkaConnect", "io.strimzi.api.kafka.model.connect.KafkaConnect");
    KINDS.put("kafka.strimzi.io/v1beta2/KafkaConnector", "io.strimzi.api.kafka.model.connector.KafkaConnector");
    KINDS.put("v1/ConfigMap", "io.fabric8.kubernetes.api.model.ConfigMap");
    KINDS.put("v1/Service", "io.fabric8.kubernetes.api.model.Service");
    KINDS.put("v1/ServiceAccount", "io.fabric8.kubernetes.api.model.ServiceAccount");
    KINDS.put("apps/v1/Deployment", "io.fabric8.kubernetes.api.model.apps.Deployment");
    KINDS.put("policy/v1/PodDisruptionBudget", "io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget");
    KINDS.put("networking.k8s.io/v1/NetworkPolicy", "io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy");
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: java -cp '<strimzi model jars>/*' Validate.java <file.yaml>...");
      System.exit(2);
    }
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory())
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
        .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);
    int errors = 0;
    int documents = 0;
    for (String file : args) {
      try (MappingIterator<JsonNode> docs = yaml.readerFor(JsonNode.class).readValues(new File(file))) {
        int n = 0;
        while (docs.hasNext()) {
          JsonNode doc = docs.next();
          n++;
          if (doc == null || doc.isNull() || doc.isMissingNode()) continue;
          documents++;
          String kind = doc.path("kind").asText("?");
          String name = doc.path("metadata").path("name").asText("?");
          String where = file + "#" + n + " " + kind + " " + name;
          String className = KINDS.get(doc.path("apiVersion").asText("?") + "/" + kind);
          if (className == null) {
            System.out.println("error " + where + ": apiVersion " + doc.path("apiVersion").asText("?") + " kind " + kind + " is not one this validator knows");
            errors++;
            continue;
          }
          List<String> problems = new ArrayList<>();
          try {
            Object resource = yaml.treeToValue(doc, Class.forName(className));
            walk(resource, "", problems, new IdentityHashMap<>());
            compare(doc, yaml.valueToTree(resource), "", problems);
          } catch (Exception e) {
            problems.add(e.getMessage().split("\n")[0]);
          }
          if (name.equals("?")) problems.add("metadata.name is missing");
          if (problems.isEmpty()) {
            System.out.println("ok " + kind + " " + name);
          } else {
            for (String p : problems) System.out.println("error " + where + ": " + p);
            errors += problems.size();
          }
        }
      }
    }
    System.out.println(documents + " documents, " + errors + " problems");
    System.exit(errors == 0 && documents > 0 ? 0 : 1);
  }

  /** Every object of the model under `o`: unknown fields, and config keys the model forbids. */
  static void walk(Object o, String path, List<String> problems, IdentityHashMap<Object, Boolean> seen) throws Exception {
    if (o == null || o instanceof String || o instanceof Number || o instanceof Boolean || o.getClass().isEnum()) return;
    if (o instanceof Map<?, ?> map) {
      for (Map.Entry<?, ?> e : map.entrySet()) walk(e.getValue(), path + "." + e.getKey(), problems, seen);
      return;
    }
    if (o instanceof Collection<?> list) {
      int i = 0;
      for (Object item : list) walk(item, path + "[" + i++ + "]", problems, seen);
      return;
    }
    Class<?> type = o.getClass();
    if (!type.getName().startsWith("io.strimzi.") && !type.getName().startsWith("io.fabric8.")) return;
    if (seen.put(o, Boolean.TRUE) != null) return;
    try {
      Method extra = type.getMethod("getAdditionalProperties");
      Object unknown = extra.invoke(o);
      if (unknown instanceof Map<?, ?> m && !m.isEmpty()) {
        problems.add((path.isEmpty() ? "(top level)" : path.substring(1)) + ": unknown field(s) " + m.keySet() + " (not in " + type.getSimpleName() + ")");
      }
    } catch (NoSuchMethodException ignored) {
      // A model class without the catch-all: Jackson already failed on unknown fields.
    }
    checkForbiddenConfig(o, type, path, problems);
    for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
      for (Field f : c.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers()) || f.getName().equals("additionalProperties")) continue;
        f.setAccessible(true);
        walk(f.get(o), path + "." + f.getName(), problems, seen);
      }
    }
  }

  /**
   * What was written must come back when the model writes the resource out: a value
   * the model could not take (an enum value it does not know reads as null) is lost.
   */
  static void compare(JsonNode written, JsonNode read, String path, List<String> problems) {
    String at = path.isEmpty() ? "(top level)" : path.substring(1);
    if (written.isObject()) {
      var names = written.fieldNames();
      while (names.hasNext()) {
        String f = names.next();
        JsonNode back = read == null ? null : read.get(f);
        JsonNode value = written.get(f);
        // The model leaves out a primitive at its Java default (false, 0) when it writes a resource.
        boolean primitiveDefault = (value.isBoolean() && !value.asBoolean()) || (value.isNumber() && value.asDouble() == 0);
        if (back == null && primitiveDefault) continue;
        if (back == null || (back.isNull() && !value.isNull())) {
          // Unknown fields are reported by walk(); this reports values the model dropped.
          if (read != null && read.isObject()) problems.add(at + "." + f + ": the model does not accept " + value);
          continue;
        }
        compare(value, back, path + "." + f, problems);
      }
    } else if (written.isArray()) {
      if (read == null || !read.isArray() || read.size() != written.size()) {
        problems.add(at + ": the model read " + (read == null ? "nothing" : read.toString()) + " from " + written);
        return;
      }
      for (int i = 0; i < written.size(); i++) compare(written.get(i), read.get(i), path + "[" + i + "]", problems);
    } else if (read == null || !written.asText().equals(read.asText())) {
      problems.add(at + ": the model read " + (read == null ? "nothing" : read.toString()) + " from " + written);
    }
  }

  /** Strimzi declares, per spec, the config prefixes the operator owns (FORBIDDEN_PREFIXES and their exceptions). */
  static void checkForbiddenConfig(Object o, Class<?> type, String path, List<String> problems) throws Exception {
    Field prefixes;
    try {
      prefixes = type.getField("FORBIDDEN_PREFIXES");
    } catch (NoSuchFieldException e) {
      return;
    }
    List<String> forbidden = split((String) prefixes.get(null));
    List<String> exceptions;
    try {
      exceptions = split((String) type.getField("FORBIDDEN_PREFIX_EXCEPTIONS").get(null));
    } catch (NoSuchFieldException e) {
      exceptions = List.of();
    }
    Object config;
    try {
      config = type.getMethod("getConfig").invoke(o);
    } catch (NoSuchMethodException e) {
      return;
    }
    if (!(config instanceof Map<?, ?> map)) return;
    for (Object key : map.keySet()) {
      String k = String.valueOf(key);
      if (exceptions.contains(k)) continue;
      for (String p : forbidden) {
        if (k.startsWith(p)) {
          problems.add(path.substring(Math.min(1, path.length())) + ".config." + k + ": the operator owns \"" + p + "\" settings (" + type.getSimpleName() + ".FORBIDDEN_PREFIXES)");
          break;
        }
      }
    }
  }

  static List<String> split(String list) {
    return Arrays.stream(list.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
  }
}
