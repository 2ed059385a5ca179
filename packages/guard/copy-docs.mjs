// prepack: copies the docs this package's README links (absolutely, to the repository)
// into the package, at the paths they have in the repository (src/guard/README.md,
// docs/*.md), so they can be read offline and the guide's own relative links still work.
// The copies are ignored by git (packages/guard/.gitignore).
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";

const ROOT = join(import.meta.dirname, "../..");
const DOCS = ["src/guard/README.md", "docs/revocation-feed.md", "docs/introspection-fishing.md"];

rmSync(join(import.meta.dirname, "src"), { recursive: true, force: true });
rmSync(join(import.meta.dirname, "docs"), { recursive: true, force: true });
for (const path of DOCS) {
  const target = join(import.meta.dirname, path);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(ROOT, path), target);
}
