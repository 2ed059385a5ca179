import type { ErrorCode } from "../errors.js";
import type { OidcRequest } from "../oidc/request.js";
import type { ClientRecord } from "../store/types.js";

/** What the authorization endpoint (src/oauth/authorize.ts) takes and answers. */

/** A valid authorization request, as stored while the user is asked. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  /** Echoed verbatim; absent when the client sent none. */
  state?: string;
  codeChallenge: string;
  scope: string[];
  /** The client's `generation` when the request was made (src/clients/current.ts). */
  clientGeneration?: string;
  /** `response_mode=form_post`; absent: query. */
  responseMode?: "form_post";
  /** OpenID Connect's parameters (src/oidc/request.ts), when given. */
  oidc?: OidcRequest;
}

/**
 * An error about the client or the redirect URI: the redirect URI cannot be trusted, so
 * the error is shown to the user and never sent anywhere (no open redirect).
 */
export interface ShownError {
  kind: "show";
  /** A stable code of src/errors.ts (the page shows it). */
  error: Extract<ErrorCode, "invalid_request" | "unauthorized_client" | "interaction_invalid">;
  description: string;
}

/** Where to send the browser: the client's redirect URI with a code or an error. */
export interface RedirectTo {
  kind: "redirect";
  /** With the parameters in its query; for form_post, the redirect URI as registered. */
  location: string;
  /** `response_mode=form_post`: the parameters, to be POSTed to `location` by the browser. */
  formPost?: Record<string, string>;
}

export type Validation =
  | { kind: "ok"; client: ClientRecord; request: AuthorizationRequest }
  | ShownError
  | RedirectTo;

/** What happens once the user is known. */
export type Continuation =
  | RedirectTo
  /** Ask the user: render the consent page with this single-use interaction id. */
  | { kind: "consent"; interactionId: string; client: ClientRecord; request: AuthorizationRequest }
  /** OpenID Connect `prompt=login` or `max_age`: the user must sign in again first. */
  | { kind: "login" };

/** The signed-in user, as far as the authorization endpoint cares. */
export interface Subject {
  userId: string;
  /** The session's store key: an interaction is bound to the session that saw the page. */
  sessionKey: string;
  /** When the user authenticated (epoch ms). */
  authTime: number;
  /** The session's public id (OpenID Connect `sid`). */
  sessionId?: string;
}
