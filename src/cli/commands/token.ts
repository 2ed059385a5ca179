import { TesseraError } from "../../errors.js";
import { decodeJwt } from "../../tokens/jwt/decode.js";
import { type Options, positionalArgs, rejectUnknown } from "../flags.js";
import type { CliIo } from "../io.js";

/** `token decode TOKEN`: a JWT's header and claims, without verifying anything. */
export function tokenCommand(
  sub: string | undefined,
  args: string[],
  unknown: Options,
  io: CliIo,
): number {
  if (sub !== "decode")
    throw new TesseraError("invalid_request", "usage: tessera token decode TOKEN");
  rejectUnknown(unknown, []);
  return decodeCommand((positionalArgs("token decode", args, ["TOKEN"]) as [string])[0], io);
}

function decodeCommand(token: string, io: CliIo): number {
  const decoded = decodeJwt(token);
  io.out("NOT VERIFIED: this shows what the token says, not whether it is genuine.");
  io.out(`header: ${JSON.stringify(decoded.header, null, 2)}`);
  io.out(`claims: ${JSON.stringify(decoded.claims, null, 2)}`);
  for (const w of decoded.warnings) io.out(`warning: ${w}`);
  return 0;
}
