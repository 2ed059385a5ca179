import type { FastifyInstance } from "fastify";
import type { Tessera } from "../../tessera.js";

/** GET /healthz: 200 when every store answers, 503 otherwise (no details leak). */
export function healthRoutes(app: FastifyInstance, tessera: Tessera): void {
  app.get("/healthz", async (request, reply) => {
    try {
      await tessera.checkStores();
      return { status: "ok" };
    } catch (err) {
      request.log.error({ err }, "health check failed");
      return reply.code(503).send({ status: "unavailable" });
    }
  });
}
