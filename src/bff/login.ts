/**
 * Login through Tessera: `GET /bff/login` starts an authorization-code flow with PKCE
 * (S256) and a fresh `state`; `GET /bff/callback` finishes it.
 *
 * - A started login is a record (`bff_login`, keyed by the SHA-256 of `state`) holding the
 *   PKCE verifier, where to return, and the SHA-256 of a nonce that only the browser that
 *   started it holds (`__Host-bff-login`, SameSite=Lax: it must ride the top-level
 *   redirect back from Tessera). A callback is accepted once (the record is consumed),
 *   only with that nonce (no login CSRF: a victim cannot be made to finish an attacker's
 *   login), and only with `iss` equal to the issuer (RFC 9207: no mix-up).
 * - One nonce per browser, not per login: a login started while the browser still holds
 *   a nonce reuses it, so logins started in parallel tabs all finish (a fresh nonce each
 *   would overwrite the one an earlier tab's callback needs), and the cookie never grows.
 *   The value is the browser's own (`__Host-`: no other site or subdomain can set it).
 * - At most `pendingLoginsPerSource` started logins per client address (the oldest is
 *   dropped), each for `loginTtl`: a browser cannot make the BFF hold more. And at most
 *   `pendingLoginsTotal` starts per `loginTtl` window from all addresses together (a
 *   counter shared through the store), so many addresses cannot either: beyond it, 503.
 * - `return_to` is a path of this origin only: `/` then printable ASCII without `\`, and
 *   never `//` (no open redirect).
 */
import { createHash } from "node:crypto";
import type { Clock } from "../clock.js";
import { randomToken, safeEqual, sha256 } from "../crypto/random.js";
import { TesseraError } from "../errors.js";
import type { Counters } from "../store/counters-types.js";
import type { Collection } from "../store/types.js";
import { GrantRefused, type IssuerClient } from "./issuer-client.js";
import type { ResolvedBffOptions } from "./options.js";

export interface PendingLogin {
  verifier: string;
  returnTo: string;
  nonceHash: string;
}

/** What `randomToken` makes: 256 bits, base64url. */
const NONCE = /^[A-Za-z0-9_-]{43}$/;
const RETURN_TO = /^\/(?![/\\])[\x21-\x5B\x5D-\x7E]*$/;
const MAX_RETURN_TO = 2048;

/** A `return_to` the BFF may redirect to after login: a path of its own origin. */
export function isSafeReturnTo(value: string): boolean {
  return value.length <= MAX_RETURN_TO && RETURN_TO.test(value);
}

export interface StartedLogin {
  /** Where to send the browser (Tessera's authorization endpoint). */
  location: string;
  /** The value of the `__Host-bff-login` cookie. */
  nonce: string;
}

/** What a callback carries. */
export interface CallbackParams {
  code?: string | undefined;
  state?: string | undefined;
  iss?: string | undefined;
  error?: string | undefined;
}

/** The counter of logins started in the current `loginTtl` window, all addresses together. */
const TOTAL_KEY = "bff-login:total";

function bad(message: string): TesseraError {
  return new TesseraError("invalid_request", message);
}

export class Logins {
  constructor(
    private readonly o: ResolvedBffOptions,
    private readonly pending: Collection<PendingLogin>,
    private readonly issuer: IssuerClient,
    private readonly counters: Counters,
    private readonly clock: Clock,
  ) {}

  /** `browserNonce`: the `__Host-bff-login` the browser holds, reused when it has one. */
  async start(
    returnTo: string | undefined,
    source: string,
    browserNonce?: string,
  ): Promise<StartedLogin> {
    const to = returnTo ?? "/";
    if (!isSafeReturnTo(to)) throw bad("return_to must be a path on this site.");
    const started = await this.counters.hit(TOTAL_KEY, this.o.loginTtl * 1000);
    if (started.count > this.o.pendingLoginsTotal) {
      const retryAfter = Math.max(1, Math.ceil((started.resetAt - this.clock.now()) / 1000));
      throw new TesseraError("server_busy", "Too many logins are being started; retry shortly.", {
        retryAfter,
      });
    }
    const state = randomToken();
    const verifier = randomToken();
    const nonce =
      browserNonce !== undefined && NONCE.test(browserNonce) ? browserNonce : randomToken();
    await this.pending.upsert(
      sha256(state),
      { verifier, returnTo: to, nonceHash: sha256(nonce) },
      {
        ttlMs: this.o.loginTtl * 1000,
        cap: { group: sha256(`bff-login:${source}`), max: this.o.pendingLoginsPerSource },
      },
    );
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const query = new URLSearchParams({
      response_type: "code",
      client_id: this.o.clientId,
      redirect_uri: this.o.redirectUri,
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    if (this.o.scope !== undefined) query.set("scope", this.o.scope);
    return { location: `${this.o.issuer}/oauth/authorize?${query}`, nonce };
  }

  /**
   * Checks a callback and exchanges its code. Returns the tokens and where to go; throws
   * `invalid_request` for anything that does not belong to a login this browser started.
   */
  async finish(
    params: CallbackParams,
    nonce: string | undefined,
  ): Promise<{ returnTo: string; tokens: Awaited<ReturnType<IssuerClient["exchangeCode"]>> }> {
    const { state, iss } = params;
    if (state === undefined || state.length > 256) throw bad("The callback has no valid state.");
    const login = await this.pending.consume(sha256(state));
    if (login === undefined || login.consumedAt !== undefined) {
      throw bad("This login is unknown, expired or already used; start again.");
    }
    if (nonce === undefined || !safeEqual(sha256(nonce), login.value.nonceHash)) {
      throw bad("This login was started in another browser; start again.");
    }
    // RFC 9207: Tessera names itself in every authorization response.
    if (iss !== this.o.issuer) throw bad("The callback's iss is not the issuer.");
    if (params.error !== undefined) {
      throw new TesseraError("unauthenticated", "The login was refused or cancelled.");
    }
    if (params.code === undefined || params.code.length > 512) {
      throw bad("The callback has no code.");
    }
    try {
      const tokens = await this.issuer.exchangeCode(params.code, login.value.verifier);
      return { returnTo: login.value.returnTo, tokens };
    } catch (err) {
      if (err instanceof GrantRefused) throw bad("The issuer refused the code; start again.");
      throw err;
    }
  }
}
