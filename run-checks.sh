#!/usr/bin/env bash
# Quality checks of the app, with reports in containers/app/reports/ (as the
# original's pylint / bandit / coverage reports):
#   eslint.json      ESLint of the app: typescript-eslint (type-aware) and eslint-plugin-security
#   eslint-adapters-web.json   the same rules for adapters/ and containers/web/
#   npm-audit.json   npm audit of the production dependencies (fails on high or critical)
#   npm-audit-all.json  the same for every dependency, dev tools included (informational)
#   coverage/        line coverage of src/ by the test suite (fails under 85 %)
# The coverage comes from the last `npm test` (which records it); without one,
# this script runs the tests first.
set -uo pipefail
cd "$(dirname "$0")"
app=containers/app
reports=$app/reports
mkdir -p "$reports"
failed=()

print_findings() {
  node -e '
    const r = require(process.argv[1]);
    for (const f of r) for (const m of f.messages) console.log(`${f.filePath}:${m.line}:${m.column} ${m.ruleId} ${m.message}`);
  ' "$1"
}
echo "== ESLint: the app"
if (cd "$app" && npx eslint . --max-warnings 0 -f json -o reports/eslint.json); then
  echo "no findings"
else
  print_findings "$PWD/$reports/eslint.json"
  failed+=(eslint-app)
fi
echo "== ESLint: the adapters and the web page"
if npx eslint adapters containers/web --max-warnings 0 -f json -o "$reports/eslint-adapters-web.json"; then
  echo "no findings"
else
  print_findings "$PWD/$reports/eslint-adapters-web.json"
  failed+=(eslint-adapters-web)
fi

echo "== npm audit (production dependencies)"
npm audit --omit=dev --json > "$reports/npm-audit.json" 2>/dev/null
npm audit --json > "$reports/npm-audit-all.json" 2>/dev/null
# Fails on high or critical advisories; says so loudly when the registry's
# advisory endpoint cannot be reached (some mirrors do not serve it).
node -e '
  const report = require(process.argv[1]);
  if (!report.metadata) {
    console.log(`*** npm audit could not run: ${JSON.stringify(report.error ?? report).slice(0, 300)} ***`);
    process.exit(0);
  }
  const v = report.metadata.vulnerabilities;
  console.log(`production dependencies: ${JSON.stringify(v)}`);
  process.exit(v.high + v.critical > 0 ? 1 : 0);
' "$PWD/$reports/npm-audit.json" || failed+=(npm-audit)

echo "== coverage (lines >= 85 %)"
if [ ! -d "$reports/coverage/.v8" ]; then
  echo "no coverage recorded yet: running npm test"
  npm test || failed+=(tests)
fi
if (cd "$app" && npx c8 report && npx c8 check-coverage); then :; else failed+=(coverage); fi

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "checks failed: ${failed[*]} (reports in $reports/)"
  exit 1
fi
echo "all checks passed (reports in $reports/)"
