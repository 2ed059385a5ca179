import { type AuditEvent, type AuditRecorder, clientActor } from "../audit/recorder.js";
import type { ClientRecord } from "../store/types.js";
import type { IssuedAccessToken } from "../tokens/access.js";

/**
 * Records what a grant issued: one `token_issued` per token (access, refresh, id), with
 * the access JWT's jti — never a token, nor an opaque token's hash. Resolves once every
 * record is written (or refused and logged: see AuditTrail.record).
 */
export async function recordIssued(
  audit: AuditRecorder,
  client: ClientRecord,
  grant: ClientRecord["grants"][number],
  issued: {
    userId?: string;
    access: IssuedAccessToken;
    scope: string[];
    refresh: boolean;
    id: boolean;
  },
): Promise<void> {
  const common = {
    type: "token_issued" as const,
    actor: clientActor(client.id),
    clientId: client.id,
    userId: issued.userId,
  };
  const scope = issued.scope;
  const events: AuditEvent[] = [
    {
      ...common,
      details: {
        kind: "access",
        format: issued.access.ref.kind === "jwt" ? "jwt" : "opaque",
        grant,
        jti: issued.access.ref.kind === "jwt" ? issued.access.ref.id : undefined,
        scope,
      },
    },
  ];
  if (issued.refresh) events.push({ ...common, details: { kind: "refresh", grant, scope } });
  if (issued.id) events.push({ ...common, details: { kind: "id", grant } });
  // Begun together, in order, awaited together: the durable store writes the appends of
  // one turn in one batch, in the order made (group commit), where one after the other
  // cost a turn and a transaction each. `record` never throws: a refused record is
  // counted and logged by the trail, as before, and the others are still written.
  await Promise.all(events.map((event) => audit.record(event)));
}
