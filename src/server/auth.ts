import type { FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../errors.js";
import { sessionCookie, sessionTokenFrom } from "../sessions/cookie.js";
import type { ResolvedSession } from "../sessions/sessions.js";
import type { Tessera } from "../tessera.js";

/**
 * The session behind the request's `__Host-session` cookie, or undefined. Two session
 * cookies authenticate nobody (one of them was planted). When the session was given a
 * new id (privilege change), the new cookie is set on the reply.
 */
export async function currentSession(
  tessera: Tessera,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<ResolvedSession | undefined> {
  const cookie = sessionTokenFrom(request.headers.cookie);
  if (cookie.kind !== "one") return undefined;
  const resolved = await tessera.sessions.resolve(cookie.token);
  if (resolved?.newToken !== undefined) {
    reply.header("set-cookie", sessionCookie(resolved.newToken, maxAge(tessera, resolved)));
  }
  return resolved;
}

export async function requireSession(
  tessera: Tessera,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<ResolvedSession> {
  const resolved = await currentSession(tessera, request, reply);
  if (resolved === undefined) throw new TesseraError("unauthenticated");
  return resolved;
}

/** Max-Age for a "remember me" session (the time left until its absolute timeout). */
export function maxAge(tessera: Tessera, r: Pick<ResolvedSession, "session">): number | undefined {
  if (!r.session.remember) return undefined;
  return Math.max(1, Math.floor((r.session.expiresAt - tessera.clock.now()) / 1000));
}
