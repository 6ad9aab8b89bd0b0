package fedgate.connect;

import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.security.auth.x500.X500Principal;
import javax.ws.rs.container.ContainerRequestContext;
import javax.ws.rs.container.ContainerRequestFilter;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.Response;
import org.apache.kafka.connect.rest.ConnectRestExtension;
import org.apache.kafka.connect.rest.ConnectRestExtensionContext;

/**
 * Authorization on the Connect worker's REST API (fedgate's PIS site). The
 * HTTPS listener already requires a client certificate of the federation
 * CA; this extension lets through only the subjects the worker's properties
 * name in `fedgate.rest.allowed.subjects` (RFC 2253 names, separated by
 * `;`): the site's admin, which registers and inspects the connector, and
 * the worker itself. Any other certificate of the federation (another
 * site's, a gateway's) gets 403, so it cannot reconfigure, pause or delete
 * the change capture. The launcher compiles this file against the Kafka jars
 * and puts it on the worker's classpath (deploy/components/connect.ts).
 */
public final class RestPrincipals implements ConnectRestExtension {
  public static final String ALLOWED = "fedgate.rest.allowed.subjects";
  /** The servlet attribute holding the client's certificate chain (Jetty sets it on an HTTPS request). */
  private static final String CHAIN = "javax.servlet.request.X509Certificate";

  private Set<String> allowed = Set.of();

  @Override
  public void configure(Map<String, ?> configs) {
    Object value = configs.get(ALLOWED);
    if (value == null || value.toString().isBlank())
      throw new IllegalArgumentException(ALLOWED + " is not set: no client could call the REST API");
    allowed = Arrays.stream(value.toString().split(";")).map(String::trim).filter(s -> !s.isEmpty())
        .map(s -> new X500Principal(s).getName(X500Principal.RFC2253)).collect(Collectors.toUnmodifiableSet());
  }

  @Override
  public void register(ConnectRestExtensionContext context) {
    context.configurable().register(new Filter(allowed));
  }

  @Override
  public void close() {}

  @Override
  public String version() {
    return "1";
  }

  /** Refuses a request whose client certificate's subject is not allowed. */
  public static final class Filter implements ContainerRequestFilter {
    private final Set<String> allowed;

    Filter(Set<String> allowed) {
      this.allowed = allowed;
    }

    @Override
    public void filter(ContainerRequestContext request) {
      Object chain = request.getProperty(CHAIN);
      String subject = chain instanceof X509Certificate[] && ((X509Certificate[]) chain).length > 0
          ? ((X509Certificate[]) chain)[0].getSubjectX500Principal().getName(X500Principal.RFC2253)
          : null;
      if (subject != null && allowed.contains(subject)) return;
      String who = subject == null ? "a request without a client certificate" : subject.replace("\"", "");
      request.abortWith(Response.status(Response.Status.FORBIDDEN).type(MediaType.APPLICATION_JSON)
          .entity("{\"error_code\":403,\"message\":\"" + who + " may not use this Connect worker's REST API\"}").build());
    }
  }
}
