import type { Clients } from "../clients/clients.js";
import { TesseraError } from "../errors.js";
import type { ClientRecord } from "../store/types.js";

export type FormParams = Record<string, string>;

function invalidClient(message = "Client authentication failed."): TesseraError {
  return new TesseraError("invalid_client", message, { oauthError: "invalid_client" });
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function formDecode(text: string): string {
  // Most ids and secrets have nothing to decode (Tessera's own secrets never do).
  if (!text.includes("%") && !text.includes("+")) return text;
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    throw invalidClient();
  }
}

/**
 * Client authentication at the token, introspection and revocation endpoints:
 * `client_secret_basic` (Authorization: Basic) or `client_secret_post` (form fields),
 * never both (RFC 6749 §2.3). Every failure is 401 `invalid_client`.
 */
export async function authenticateClient(
  clients: Clients,
  authorization: string | undefined,
  params: FormParams,
  /** Accept a public client identified by `client_id` alone (auth method "none"). */
  allowPublic = false,
): Promise<ClientRecord> {
  const postId = params.client_id;
  const postSecret = params.client_secret;
  if (authorization !== undefined) {
    const m = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(authorization);
    if (m === null) throw invalidClient();
    if (postSecret !== undefined) {
      throw new TesseraError("invalid_request", "Use one client authentication method, not two.", {
        oauthError: "invalid_request",
      });
    }
    const decoded = Buffer.from(m[1] as string, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) throw invalidClient();
    const id = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (postId !== undefined && postId !== id) throw invalidClient();
    return clients.authenticate(id, secret);
  }
  if (postId !== undefined && postSecret === undefined && allowPublic) {
    // A public client has no secret to check; a confidential one must present it.
    const client = await clients.findCached(postId);
    if (client === undefined || client.secretHash !== undefined) throw invalidClient();
    return client;
  }
  if (postId === undefined || postSecret === undefined) throw invalidClient();
  return clients.authenticate(postId, postSecret);
}
