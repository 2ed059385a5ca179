import type { FastifyInstance } from "fastify";
import type { Tessera } from "../../tessera.js";

/**
 * Probes for an orchestrator or a load balancer, as Hydra (`/health/alive`,
 * `/health/ready`) and Keycloak (`/health/live`, `/health/ready`) split them:
 *
 * - `GET /healthz`, liveness: 200 whenever the process answers HTTP. It checks no
 *   dependency on purpose: a database that is down would otherwise make every instance
 *   "dead" at once and have them all restarted, which cures nothing.
 * - `GET /readyz`, readiness: 200 when every store answers; else 503
 *   `{"error":"store_unavailable","status":"unavailable","down":[...]}` naming them, so a
 *   load balancer sends traffic elsewhere until they are back. Names only (`postgres`,
 *   `redis`, `sqlite`), never a URL or a driver's message.
 */
export function healthRoutes(app: FastifyInstance, tessera: Tessera): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (request, reply) => {
    const down = await tessera.unavailableDependencies();
    if (down.length === 0) return { status: "ok" };
    request.log.warn({ down }, "not ready: a store does not answer");
    return reply
      .code(503)
      .header("retry-after", "1")
      .send({ error: "store_unavailable", status: "unavailable", down });
  });
}
