import { compactVerify, importJWK, type JWK } from "jose";
import type { Clients } from "../clients/clients.js";
import { SIGNING_ALGS, type SigningKeys } from "../keys/keys.js";
import { appendQuery } from "../oauth/authorize.js";
import type { ClientRecord } from "../store/types.js";

/** The parameters of OpenID Connect RP-Initiated Logout 1.0 §2 this endpoint reads. */
export const END_SESSION_PARAMS = [
  "id_token_hint",
  "client_id",
  "post_logout_redirect_uri",
  "state",
] as const;
export type EndSessionParams = Partial<Record<(typeof END_SESSION_PARAMS)[number], string>>;

export const END_SESSION_PATH = "/end-session";
const MAX_STATE_LENGTH = 1024;
const MAX_HINT_LENGTH = 8192;

/** A valid logout request. */
export interface EndSessionRequest {
  params: EndSessionParams;
  client?: ClientRecord;
  /** Where to send the browser afterwards (with `state`), when the client registered it. */
  redirectTo?: string;
  /** The user the relying party says it logged in (`sub` of a valid id_token_hint). */
  hintSub?: string;
}

export type EndSessionValidation =
  | { kind: "ok"; request: EndSessionRequest }
  | { kind: "show"; description: string };

/**
 * The end-session endpoint's rules (RP-Initiated Logout 1.0). An `id_token_hint` must be
 * an ID token this installation signed for itself (expired ones too: §2), and names the
 * client; `post_logout_redirect_uri` must be one that client registered, exactly, or
 * nothing is redirected (no open redirect). Whether to ask the user first is `decide`'s.
 */
export class EndSession {
  constructor(
    private readonly deps: {
      clients: Pick<Clients, "find">;
      keys: SigningKeys;
      issuer: string;
    },
  ) {}

  async validate(raw: Readonly<Record<string, unknown>>): Promise<EndSessionValidation> {
    const params: EndSessionParams = {};
    for (const name of END_SESSION_PARAMS) {
      const v = Object.hasOwn(raw, name) ? raw[name] : undefined;
      if (v === undefined || v === "") continue;
      if (typeof v !== "string") return show(`Parameter ${name} is repeated.`);
      params[name] = v;
    }
    if (params.state !== undefined && params.state.length > MAX_STATE_LENGTH) {
      return show("state is too long.");
    }
    const request: EndSessionRequest = { params };
    let clientId = params.client_id;
    if (params.id_token_hint !== undefined) {
      const hint = await this.verifyHint(params.id_token_hint);
      if (hint === undefined) return show("The id_token_hint is not an ID token of this server.");
      if (clientId !== undefined && clientId !== hint.aud) {
        return show("client_id does not match the id_token_hint.");
      }
      clientId = hint.aud;
      request.hintSub = hint.sub;
    }
    if (clientId !== undefined) {
      const client = clientId.length > 128 ? undefined : await this.deps.clients.find(clientId);
      if (client === undefined || client.oidc !== true) return show("Unknown client.");
      request.client = client;
    }
    const uri = params.post_logout_redirect_uri;
    if (uri !== undefined) {
      if (request.client === undefined) {
        return show("post_logout_redirect_uri needs id_token_hint or client_id.");
      }
      if (!(request.client.postLogoutRedirectUris ?? []).includes(uri)) {
        return show("The post_logout_redirect_uri is not registered for this client.");
      }
      request.redirectTo =
        params.state === undefined ? uri : appendQuery(uri, { state: params.state });
    }
    return { kind: "ok", request };
  }

  /**
   * What to do for the user signed in as `userId` (undefined: nobody): sign out at once
   * when the relying party proved it is that user's (a valid hint naming them); ask first
   * otherwise (a link from anywhere must not sign anyone out); nothing to do without a
   * session.
   */
  decide(request: EndSessionRequest, userId: string | undefined): "logout" | "confirm" | "done" {
    if (userId === undefined) return "done";
    return request.hintSub === userId ? "logout" : "confirm";
  }

  /** The hint's `aud` (one client) and `sub`, if it is our ID token for our issuer. */
  private async verifyHint(token: string): Promise<{ aud: string; sub: string } | undefined> {
    if (token.length > MAX_HINT_LENGTH) return undefined;
    const jwks = this.deps.keys.jwks().keys;
    try {
      const { payload, protectedHeader } = await compactVerify(
        token,
        async (header) => {
          const jwk = jwks.find((k) => k.kid === header.kid && k.alg === header.alg);
          if (jwk === undefined) throw new Error("unknown key");
          return importJWK(jwk as JWK, jwk.alg);
        },
        { algorithms: [...SIGNING_ALGS] },
      );
      if (protectedHeader.typ !== "JWT") return undefined;
      const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
      const aud = Array.isArray(claims.aud) && claims.aud.length === 1 ? claims.aud[0] : claims.aud;
      if (claims.iss !== this.deps.issuer || typeof aud !== "string") return undefined;
      if (typeof claims.sub !== "string") return undefined;
      return { aud, sub: claims.sub };
    } catch {
      return undefined;
    }
  }
}

function show(description: string): { kind: "show"; description: string } {
  return { kind: "show", description };
}
