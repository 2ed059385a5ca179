import type { Notice } from "../installation/issuer.js";
import type { Preparation } from "./keys.js";

/** The one line `serve` logs about its signing key, when there is something to say. */
export function keyNotice(p: Preparation): Notice | undefined {
  const at = (ms: number) => new Date(ms).toISOString();
  switch (p.kind) {
    case "kept":
      return undefined;
    case "created":
      return {
        level: "info",
        message: `signing key: new ${p.key.alg} key ${p.key.kid}, signing now`,
      };
    case "rotated":
      return {
        level: "warn",
        message:
          `signing key: the signing key is ${p.from}, --signing-alg asks for ${p.key.alg}: ` +
          `new ${p.key.alg} key ${p.key.kid} published now, signs from ${at(p.key.activatesAt)} ` +
          "(--key-activation-delay); until then the current key signs",
      };
    case "pending":
      return {
        level: "info",
        message: `signing key: ${p.key.alg} key ${p.key.kid} is published and signs from ${at(p.key.activatesAt)}`,
      };
  }
}
