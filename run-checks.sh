#!/usr/bin/env bash
# Quality checks of the app, with reports in containers/app/reports/ (as the
# original's pylint / bandit / coverage reports):
#   eslint.json      ESLint: typescript-eslint (type-aware) and eslint-plugin-security
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

echo "== ESLint"
if (cd "$app" && npx eslint . -f json -o reports/eslint.json); then
  echo "no findings"
else
  node -e '
    const r = require(process.argv[1]);
    for (const f of r) for (const m of f.messages) console.log(`${f.filePath}:${m.line}:${m.column} ${m.ruleId} ${m.message}`);
  ' "$PWD/$reports/eslint.json"
  failed+=(eslint)
fi

echo "== npm audit (production dependencies)"
npm audit --omit=dev --json > "$reports/npm-audit.json" || true
npm audit --json > "$reports/npm-audit-all.json" || true
if npm audit --omit=dev --audit-level=high; then :; else failed+=(npm-audit); fi

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
