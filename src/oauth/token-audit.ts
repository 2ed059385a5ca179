import { type AuditRecorder, clientActor } from "../audit/recorder.js";
import type { ClientRecord } from "../store/types.js";
import type { IssuedAccessToken } from "../tokens/access.js";

/**
 * Records what a grant issued: one `token_issued` per token (access, refresh, id), with
 * the access JWT's jti — never a token, nor an opaque token's hash.
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
  await audit.record({
    ...common,
    details: {
      kind: "access",
      format: issued.access.ref.kind === "jwt" ? "jwt" : "opaque",
      grant,
      jti: issued.access.ref.kind === "jwt" ? issued.access.ref.id : undefined,
      scope,
    },
  });
  if (issued.refresh) await audit.record({ ...common, details: { kind: "refresh", grant, scope } });
  if (issued.id) await audit.record({ ...common, details: { kind: "id", grant } });
}
