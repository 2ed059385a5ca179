/**
 * The demo's one stylesheet, served from this origin (`style-src 'self'`: no inline
 * style anywhere). One column on phones, the four panels side by side on a desktop.
 */
export const DEMO_CSS = `:root { color-scheme: light dark; --accent: #3558c9; --line: #8886; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; }
.bar { background: var(--accent); color: #fff; padding: 0.5rem 1rem; display: flex; flex-wrap: wrap; align-items: center; gap: 0.25rem 1.5rem; }
.brand { margin: 0; font-weight: 700; }
.brand span { font-weight: 400; opacity: 0.85; }
.bar ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; margin: 0; padding: 0; }
.bar a { color: #fff; }
.bar a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
main { max-width: 80rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; line-height: 1.25; }
h2 { font-size: 1.15rem; }
h3 { font-size: 1rem; margin-bottom: 0.25rem; }
.panels { display: grid; grid-template-columns: 1fr; gap: 1rem; margin-bottom: 1rem; }
@media (min-width: 40rem) { .panels { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
@media (min-width: 72rem) { .panels { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
section { border: 1px solid var(--line); border-radius: 0.5rem; padding: 0 1rem 1rem; margin: 0 0 1rem; min-width: 0; }
.panels section { margin: 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #8881; padding: 0.5rem; border-radius: 0.375rem; font-size: 0.85rem; margin: 0.25rem 0; }
code { overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 0.75rem; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
.ok { color: #1a7f37; font-weight: 600; }
.refused { color: #c62828; font-weight: 600; }
@media (prefers-color-scheme: dark) { .ok { color: #6fdc8c; } .refused { color: #ff8a80; } }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.375rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.scroll { overflow-x: auto; }
form.inline { display: inline-block; margin: 0.25rem 0.5rem 0.25rem 0; }
.button, button { display: inline-block; font: inherit; padding: 0.5rem 1rem; border-radius: 0.375rem;
  border: 1px solid var(--accent); background: var(--accent); color: #fff; text-decoration: none; cursor: pointer; }
button.secondary { background: transparent; color: inherit; }
a:focus-visible, button:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
`;
