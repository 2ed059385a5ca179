/**
 * The BFF's calls to Tessera, as a confidential client (`client_secret_basic`): the token
 * endpoint (code exchange, refresh), introspection (who the token is for, its `iat`) and
 * revocation. Every call has the upstream timeout. Nothing here logs or throws a token.
 */
import { TesseraError } from "../errors.js";
import type { FetchLike } from "../guard/jwks.js";
import { nodeFetch } from "../guard/tls.js";
import type { ResolvedBffOptions } from "./options.js";

/** What the token endpoint answered. */
export interface TokenAnswer {
  accessToken: string;
  refreshToken: string | undefined;
  /** Seconds. */
  expiresIn: number;
  scope: string | undefined;
}

/** A refused grant (`invalid_grant` & co.): the session is over. */
export class GrantRefused extends Error {
  override readonly name = "GrantRefused";
  constructor(readonly error: string) {
    super(`the issuer refused the grant (${error})`);
  }
}

export interface TokenFacts {
  sub: string;
  iat: number;
  exp: number;
  jti: string | undefined;
  scope: string | undefined;
}

const FORM = "application/x-www-form-urlencoded";
/** The largest answer read from Tessera (its answers are a few hundred bytes). */
const MAX_ANSWER = 64 * 1024;

export class IssuerClient {
  private readonly authorization: string;
  /** The global fetch, or (with `ca`: the global fetch takes no CA) node:https. */
  private readonly fetch: FetchLike;

  constructor(private readonly o: ResolvedBffOptions) {
    this.fetch = o.ca === undefined ? (url, init) => globalThis.fetch(url, init) : nodeFetch(o.ca);
    const enc = (s: string) => encodeURIComponent(s);
    this.authorization = `Basic ${Buffer.from(`${enc(o.clientId)}:${enc(o.clientSecret)}`).toString("base64")}`;
  }

  private async post(path: string, form: Record<string, string>): Promise<Response> {
    try {
      return await this.fetch(`${this.o.issuerUrl}${path}`, {
        method: "POST",
        headers: { authorization: this.authorization, "content-type": FORM },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(this.o.upstreamTimeout),
        redirect: "error",
      });
    } catch (err) {
      const timeout = (err as Error).name === "TimeoutError";
      throw new TesseraError(
        timeout ? "upstream_timeout" : "upstream_unavailable",
        timeout ? "Tessera did not answer in time." : "Tessera could not be reached.",
        { cause: err },
      );
    }
  }

  private async json(res: Response): Promise<Record<string, unknown>> {
    const text = await res.text();
    if (text.length > MAX_ANSWER) throw unusable();
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v === "object" && v !== null && !Array.isArray(v)) {
        return v as Record<string, unknown>;
      }
    } catch {}
    throw unusable();
  }

  private async tokens(form: Record<string, string>): Promise<TokenAnswer> {
    const res = await this.post("/oauth/token", form);
    const body = await this.json(res);
    if (res.status === 400 || res.status === 401) {
      throw new GrantRefused(typeof body.error === "string" ? body.error : "refused");
    }
    if (res.status !== 200 || typeof body.access_token !== "string") throw unusable();
    const expiresIn = typeof body.expires_in === "number" ? body.expires_in : 0;
    return {
      accessToken: body.access_token,
      refreshToken: typeof body.refresh_token === "string" ? body.refresh_token : undefined,
      expiresIn,
      scope: typeof body.scope === "string" ? body.scope : undefined,
    };
  }

  exchangeCode(code: string, verifier: string): Promise<TokenAnswer> {
    return this.tokens({
      grant_type: "authorization_code",
      code,
      redirect_uri: this.o.redirectUri,
      code_verifier: verifier,
    });
  }

  refresh(refreshToken: string): Promise<TokenAnswer> {
    return this.tokens({ grant_type: "refresh_token", refresh_token: refreshToken });
  }

  /** The facts of an active token; undefined when Tessera says it is not active. */
  async introspect(token: string): Promise<TokenFacts | undefined> {
    const res = await this.post("/oauth/introspect", { token });
    const body = await this.json(res);
    if (res.status !== 200) throw unusable();
    if (body.active !== true) return undefined;
    if (typeof body.sub !== "string" || typeof body.iat !== "number") throw unusable();
    if (typeof body.exp !== "number") throw unusable();
    return {
      sub: body.sub,
      iat: body.iat,
      exp: body.exp,
      jti: typeof body.jti === "string" ? body.jti : undefined,
      scope: typeof body.scope === "string" ? body.scope : undefined,
    };
  }

  /** RFC 7009: revokes a refresh token (and its family). Failures are the caller's to log. */
  async revoke(refreshToken: string): Promise<void> {
    const res = await this.post("/oauth/revoke", {
      token: refreshToken,
      token_type_hint: "refresh_token",
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw unusable();
  }
}

function unusable(): TesseraError {
  return new TesseraError("upstream_unavailable", "Tessera's answer was not usable.");
}
