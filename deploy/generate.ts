// Regenerates the files of deploy/ that are derived from others:
//   npx tsx deploy/generate.ts
// - grafana/bonsai.json from the panel list of report/panels.ts;
// - k8s/base/prometheusrule.yaml from prometheus/rules.yml.
// test/deploy fails when either is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { grafanaDashboardText, prometheusRuleText } from './derived.ts';

const here = (path: string): URL => new URL(path, import.meta.url);

writeFileSync(here('./grafana/bonsai.json'), grafanaDashboardText());
writeFileSync(here('./k8s/base/prometheusrule.yaml'), prometheusRuleText(readFileSync(here('./prometheus/rules.yml'), 'utf8')));
console.log('wrote deploy/grafana/bonsai.json and deploy/k8s/base/prometheusrule.yaml');
